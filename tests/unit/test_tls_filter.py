"""The tls filter (filters/privacy_filters/tls.py and flagged_routing.py), with a fake TLS
classifier (no network)."""


import pytest

from privacy_filters.tls import TlsFilter
from privacy_milter import policy as policy_mod
from privacy_milter.model import (Action, Confidence, Direction, Finding, Result)
from privacy_milter.plugin import FilterContext
from privacy_milter.services import Services
from privacy_milter.tlspolicy.model import TlsClass

from tests.unit.filter_helpers import POLICY, check_with, message


class FakeClassifier:
    def __init__(self, classes):
        self.classes, self.asked = classes, []

    async def classify(self, domain):
        self.asked.append(domain)
        value = self.classes.get(domain, TlsClass.UNKNOWN)
        if isinstance(value, Exception):
            raise value
        return value


def flagged_ctx(classes=None, action=Action.TAG, policy=POLICY):
    dlp = Result("dlp", action, findings=(Finding("iban", Confidence.HIGH, 1),))
    services = Services(tls_classifier=FakeClassifier(classes) if classes is not None else None)
    return FilterContext(policy.site, services, [dlp])


# --- inbound --------------------------------------------------------------------------------

@pytest.mark.parametrize("msg, refused", [
    (message(auth="alice"), "authenticated client without TLS"),
    (message(direction=Direction.INBOUND, sender="x@partner.example", rcpts=(("b@shop.example", "virtual"),)),
     "sender domain requires TLS"),
    (message(client="198.51.100.7", direction=Direction.INBOUND, sender="x@else.example"),
     "client network requires TLS"),
])
async def test_plain_text_refused_where_policy_requires_tls(msg, refused):
    r = await check_with(TlsFilter, msg, FilterContext(POLICY.site))
    assert r.action is Action.REJECT and r.reply.xcode == "5.7.10"
    assert ("tls_refused", refused) in r.facts


async def test_tls_sessions_pass_and_are_recorded():
    r = await check_with(TlsFilter, message(auth="alice", tls=("TLSv1.3", "TLS_AES_256_GCM_SHA384")), FilterContext(POLICY.site))
    assert r.action is Action.ACCEPT and ("tls", "TLSv1.3") in r.facts


async def test_unflagged_mail_is_not_classified():
    classifier = FakeClassifier({})
    ctx = FilterContext(POLICY.site, Services(tls_classifier=classifier), [Result("dlp")])
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


async def test_flagged_means_findings_acted_on_whichever_check_found_them():
    """Issue 25: the tls filter reads a typed result (findings an earlier check tagged or
    held: FilterContext.flagged_categories), not `r.filter == "dlp"`: a site's own content
    check that tags findings gets the same encrypt-only route; findings only logged do not."""
    own = Result("house-rules", Action.TAG, findings=(Finding("password", Confidence.MEDIUM, 1),))
    ctx = FilterContext(POLICY.site, Services(tls_classifier=FakeClassifier({"far.example": TlsClass.TLS})), [own])
    assert ctx.flagged_categories() == ["password"]
    r = await check_with(TlsFilter, message(), ctx)
    assert r.headers == (("X-Privacy-Encrypt", "required"),)
    logged = FilterContext(POLICY.site, Services(), [Result("dlp", findings=(Finding("iban", Confidence.LOW, 1),))])
    assert logged.flagged_categories() == []
