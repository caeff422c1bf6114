"""The tls and dlp filters' decisions, with a fake TLS classifier (no network)."""

import pytest

from privacy_filters.dlp_filter import DlpFilter, decide, reject_reply
from privacy_filters.tls import TlsFilter
from privacy_milter import policy as policy_mod
from privacy_milter.model import (Action, Confidence, Direction, DirectionDecision, Finding, Message,
                                  Recipient, Result, Session, TlsInfo)
from privacy_milter.pipeline import Context, Services
from privacy_milter.tlspolicy.model import TlsClass

POLICY = policy_mod.parse("""
[network]
hosted_domains = ["shop.example"]
[filters.tls]
require_tls_for_auth = true
require_tls_from_domains = ["partner.example"]
require_tls_from_networks = ["198.51.100.0/24"]
[customers."strict.example".dlp_actions]
iban = { high = "reject" }
""")


def check_with(cls, message, ctx, **kwargs):
    """Build the filter from the context's policy, as the registry does, and run its check."""
    return cls(ctx.policy.settings(cls.name), **kwargs).check(message, ctx)


class FakeClassifier:
    def __init__(self, classes):
        self.classes, self.asked = classes, []

    async def classify(self, domain):
        self.asked.append(domain)
        value = self.classes.get(domain, TlsClass.UNKNOWN)
        if isinstance(value, Exception):
            raise value
        return value


def message(direction=Direction.OUTBOUND, sender="alice@shop.example", rcpts=(("bob@far.example", "smtp"),),
            tls=None, auth=None, client="192.0.2.1"):
    m = Message(Session("c", client_addr=client, auth_authen=auth, tls=TlsInfo(*(tls or (None, None)))),
                mail_from=sender, recipients=[Recipient(a, mailer) for a, mailer in rcpts])
    m.direction = DirectionDecision(direction, "test")
    return m


def flagged_ctx(classes=None, action=Action.TAG, policy=POLICY):
    dlp = Result("dlp", action, findings=(Finding("iban", Confidence.HIGH, 1),))
    services = Services(tls_classifier=FakeClassifier(classes) if classes is not None else None)
    return Context(policy, services, [dlp])


# --- inbound --------------------------------------------------------------------------------

@pytest.mark.parametrize("msg, refused", [
    (message(auth="alice"), "authenticated client without TLS"),
    (message(direction=Direction.INBOUND, sender="x@partner.example", rcpts=(("b@shop.example", "virtual"),)),
     "sender domain requires TLS"),
    (message(client="198.51.100.7", direction=Direction.INBOUND, sender="x@else.example"),
     "client network requires TLS"),
])
async def test_plain_text_refused_where_policy_requires_tls(msg, refused):
    r = await check_with(TlsFilter, msg, Context(POLICY))
    assert r.action is Action.REJECT and r.reply.xcode == "5.7.10"
    assert ("tls_refused", refused) in r.facts


async def test_tls_sessions_pass_and_are_recorded():
    r = await check_with(TlsFilter, message(auth="alice", tls=("TLSv1.3", "TLS_AES_256_GCM_SHA384")), Context(POLICY))
    assert r.action is Action.ACCEPT and ("tls", "TLSv1.3") in r.facts


async def test_unflagged_mail_is_not_classified():
    classifier = FakeClassifier({})
    ctx = Context(POLICY, Services(tls_classifier=classifier), [Result("dlp")])
    r = await check_with(TlsFilter, message(tls=("TLSv1.3", "x")), ctx)
    assert r.action is Action.ACCEPT and not r.headers and classifier.asked == []


# --- flagged outbound -------------------------------------------------------------------------

async def test_flagged_to_tls_capable_domains_gets_the_encrypt_marker():
    ctx = flagged_ctx({"far.example": TlsClass.TLS, "bank.example": TlsClass.AUTHENTICATED})
    msg = message(rcpts=(("bob@far.example", "smtp"), ("eve@bank.example", "smtp")))
    r = await check_with(TlsFilter, msg, ctx)
    assert r.action is Action.ACCEPT
    assert r.headers == (("X-Privacy-Encrypt", "required"),)
    assert sorted(ctx.services.tls_classifier.asked) == ["bank.example", "far.example"]


async def test_flagged_to_a_plain_text_domain_is_rejected_naming_data_and_domain():
    ctx = flagged_ctx({"far.example": TlsClass.TLS, "plain.example": TlsClass.PLAIN})
    msg = message(rcpts=(("bob@far.example", "smtp"), ("x@plain.example", "smtp")))
    r = await check_with(TlsFilter, msg, ctx)
    assert r.action is Action.REJECT and r.reply.code == "550" and r.reply.xcode == "5.7.1"
    assert "plain.example" in r.reply.text and "IBAN" in r.reply.text and "cannot receive encrypted" in r.reply.text


async def test_flagged_unknown_defaults_to_encrypt_and_classifier_errors_count_as_unknown():
    ctx = flagged_ctx({"far.example": RuntimeError("dns down")})
    r = await check_with(TlsFilter, message(), ctx)
    assert r.headers == (("X-Privacy-Encrypt", "required"),)
    assert ("flagged_tls", "unknown:1") in r.facts


async def test_without_a_tls_service_flagged_mail_is_still_encrypt_only():
    r = await check_with(TlsFilter, message(), flagged_ctx(None))
    assert r.headers == (("X-Privacy-Encrypt", "required"),)


@pytest.mark.parametrize("setting, action", [("quarantine", Action.QUARANTINE), ("tempfail", Action.TEMPFAIL),
                                             ("reject", Action.REJECT)])
async def test_flagged_unknown_choices(setting, action):
    p = policy_mod.parse(f'[filters.tls]\nflagged_unknown = "{setting}"\n')
    r = await check_with(TlsFilter, message(), flagged_ctx({}, policy=p))
    assert r.action is action and not r.headers


async def test_mixed_local_and_remote_recipients_are_refused_with_advice():
    ctx = flagged_ctx({"far.example": TlsClass.TLS})
    msg = message(rcpts=(("bob@far.example", "smtp"), ("carol@shop.example", "virtual")))
    r = await check_with(TlsFilter, msg, ctx)
    assert r.action is Action.REJECT and "separate messages" in r.reply.text
    assert ctx.services.tls_classifier.asked == []


async def test_local_only_flagged_mail_needs_no_tls_decision():
    r = await check_with(TlsFilter, message(rcpts=(("carol@shop.example", "virtual"),)), flagged_ctx({}))
    assert r.action is Action.ACCEPT and not r.headers


async def test_quarantined_flagged_mail_still_gets_the_marker():
    ctx = flagged_ctx({"far.example": TlsClass.TLS}, action=Action.QUARANTINE)
    r = await check_with(TlsFilter, message(), ctx)
    assert r.headers == (("X-Privacy-Encrypt", "required"),)


async def test_logged_only_findings_are_not_flagged():
    ctx = flagged_ctx({"far.example": TlsClass.PLAIN}, action=Action.ACCEPT)
    r = await check_with(TlsFilter, message(), ctx)
    assert r.action is Action.ACCEPT and not r.headers


async def test_recipient_without_mailer_macro_is_remote_unless_hosted():
    ctx = flagged_ctx({"far.example": TlsClass.PLAIN})
    msg = message(rcpts=(("bob@far.example", None),))
    assert (await check_with(TlsFilter, msg, ctx)).action is Action.REJECT
    msg = message(rcpts=(("carol@shop.example", None),))
    assert (await check_with(TlsFilter, msg, flagged_ctx({}))).action is Action.ACCEPT


# --- dlp decisions ---------------------------------------------------------------------------

def test_dlp_action_is_the_strictest_per_category_and_customer():
    findings = (Finding("iban", Confidence.HIGH, 2), Finding("password", Confidence.LOW, 1))
    r = decide("dlp", findings, 0, "shop.example", Context(POLICY))
    assert r.action is Action.TAG
    assert r.headers == (("X-Privacy-DLP", "iban=2 (high), password=1 (low)"),)
    strict = decide("dlp", findings, 0, "strict.example", Context(POLICY))
    assert strict.action is Action.REJECT and "IBAN" in strict.reply.text and "password" not in strict.reply.text


def test_log_only_findings_add_no_header():
    r = decide("dlp", (Finding("iban", Confidence.LOW, 1),), 2, "shop.example", Context(POLICY))
    assert r.action is Action.ACCEPT and not r.headers and ("unscannable", "2") in r.facts


def test_unscannable_reasons_are_tagged_by_default_and_reach_the_facts():
    r = decide("dlp", (), 2, "shop.example", Context(POLICY), reasons=("encrypted", "time"))
    assert r.action is Action.TAG and r.reply is None
    assert r.headers == (("X-Privacy-DLP", "unscannable=encrypted,time"),)
    assert ("unscannable_reasons", "encrypted,time") in r.facts and ("unscannable", "2") in r.facts


def test_malformed_alone_is_only_logged_by_default():
    r = decide("dlp", (), 1, "shop.example", Context(POLICY), reasons=("malformed",))
    assert r.action is Action.ACCEPT and not r.headers
    assert ("unscannable_reasons", "malformed") in r.facts


UNSCANNABLE_POLICY = policy_mod.parse("""
[filters.dlp]
max_scan_seconds = 2.5
[filters.dlp.unscannable]
encrypted = "reject"
too_deep = "quarantine"
""")


def test_unscannable_reject_names_the_reason_in_words():
    r = decide("dlp", (Finding("iban", Confidence.MEDIUM, 1),), 1, "shop.example",
               Context(UNSCANNABLE_POLICY), reasons=("encrypted",))
    assert r.action is Action.REJECT and (r.reply.code, r.reply.xcode) == ("550", "5.7.1")
    assert "encrypted or password-protected attachments" in r.reply.text
    assert "_" not in r.reply.text and "unscannable" not in r.reply.text
    assert r.headers == (("X-Privacy-DLP", "iban=1 (medium); unscannable=encrypted"),)


def test_unscannable_settings_are_read_and_validated():
    dlp = UNSCANNABLE_POLICY.settings("dlp")
    assert dlp.max_scan_seconds == 2.5
    assert dlp.unscannable_action("too_deep") is Action.QUARANTINE
    assert dlp.unscannable_action("time") is Action.TAG
    assert DlpFilter(UNSCANNABLE_POLICY.settings("dlp")).limits.max_scan_seconds == 2.5
    with pytest.raises(policy_mod.PolicyError) as err:
        policy_mod.parse('[filters.dlp]\nmax_scan_seconds = 0\n'
                         '[filters.dlp.unscannable]\nslow = "tag"\ntime = "explode"\n')
    text = str(err.value) + " ".join(getattr(err.value, "problems", []))
    assert "max_scan_seconds" in text and "slow" in text and "time" in text


@pytest.mark.parametrize("kind, reason, action, code", [
    ("docx", "too_deep", Action.QUARANTINE, None),
    ("zip", "too_deep", Action.QUARANTINE, None),
    ("encrypted", "encrypted", Action.REJECT, "550"),
])
async def test_nested_and_encrypted_attachments_get_their_configured_action(kind, reason, action, code):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "dlp"))  # the builders of the dlp tests
    from test_dlp_bounds import nested_message

    m = message()
    m.headers = [("Subject", "files")]
    m.source = nested_message(kind)
    r = await DlpFilter(UNSCANNABLE_POLICY.settings("dlp")).check(m, Context(UNSCANNABLE_POLICY))
    assert r.action is action and ("unscannable_reasons", reason) in r.facts
    assert (r.reply.code if r.reply else None) == code


async def test_dlp_filter_passes_the_message_deadline_to_the_scan():
    m = message()
    m.headers = [("Subject", "pay")]
    m.write_body(b"IBAN GB53 MIDL 4005 1571 2345 67\r\n")
    m.deadline = 0.0  # long past
    r = await check_with(DlpFilter, m, Context(POLICY))
    assert ("unscannable_reasons", "time") in r.facts and r.action is Action.TAG


def test_reject_text_names_categories_only():
    text = reject_reply(["payment_card", "uk_bank_account"]).text
    assert "payment card numbers and bank account details (sort code and account number)" in text


async def test_dlp_skips_inbound_and_allowed_senders():
    p = policy_mod.parse('[filters.dlp]\nallow_senders = ["@billing.example", "ceo@shop.example"]\n')
    f = DlpFilter(p.settings("dlp"))
    inbound = message(direction=Direction.INBOUND)
    assert (await f.check(inbound, Context(p))).facts == (("dlp", "skipped-inbound"),)
    for sender in ("robot@billing.example", "CEO@shop.example"):
        assert (await f.check(message(sender=sender), Context(p))).facts == (("dlp", "allowed-sender"),)


async def test_dlp_prepare_runs_the_scan_once():
    f = DlpFilter()
    m = message()
    m.headers = [("Subject", "pay")]
    m.write_body(b"IBAN GB53 MIDL 4005 1571 2345 67\r\n")
    f.prepare(m, POLICY)
    assert "dlp" in m.prepared
    r = await f.check(m, Context(POLICY))
    assert [x.category for x in r.findings] == ["iban"] and "dlp" not in m.prepared
