"""The dlp filter's decisions (filters/privacy_filters/dlp_filter.py): actions per category,
customer and unscannable reason, skips, and the scan handed over from prepare."""


import pytest

from privacy_filters.dlp_filter import DlpFilter, act_on_findings, reject_reply
from privacy_milter import policy as policy_mod
from privacy_milter.model import (Action, Confidence, Direction, Finding)
from privacy_milter.plugin import FilterContext

from tests.unit.filter_helpers import POLICY, check_with, message


# --- dlp decisions ---------------------------------------------------------------------------

def test_dlp_action_is_the_strictest_per_category_and_customer():
    findings = (Finding("iban", Confidence.HIGH, 2), Finding("password", Confidence.LOW, 1))
    r = act_on_findings("dlp", findings, 0, "shop.example", FilterContext(POLICY.site))
    assert r.action is Action.TAG
    assert r.headers == (("X-Privacy-DLP", "iban=2 (high), password=1 (low)"),)
    strict = act_on_findings("dlp", findings, 0, "strict.example", FilterContext(POLICY.site))
    assert strict.action is Action.REJECT and "IBAN" in strict.reply.text and "password" not in strict.reply.text


def test_log_only_findings_add_no_header():
    r = act_on_findings("dlp", (Finding("iban", Confidence.LOW, 1),), 2, "shop.example", FilterContext(POLICY.site))
    assert r.action is Action.ACCEPT and not r.headers and ("unscannable", "2") in r.facts


def test_unscannable_reasons_are_tagged_by_default_and_reach_the_facts():
    r = act_on_findings("dlp", (), 2, "shop.example", FilterContext(POLICY.site), reasons=("encrypted", "time"))
    assert r.action is Action.TAG and r.reply is None
    assert r.headers == (("X-Privacy-DLP", "unscannable=encrypted,time"),)
    assert ("unscannable_reasons", "encrypted,time") in r.facts and ("unscannable", "2") in r.facts


def test_malformed_alone_is_only_logged_by_default():
    r = act_on_findings("dlp", (), 1, "shop.example", FilterContext(POLICY.site), reasons=("malformed",))
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
    r = act_on_findings("dlp", (Finding("iban", Confidence.MEDIUM, 1),), 1, "shop.example",
               FilterContext(UNSCANNABLE_POLICY.site), reasons=("encrypted",))
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
    from tests.harness.hostile import nested_message

    m = message()
    m.headers = [("Subject", "files")]
    m.source = nested_message(kind)
    r = await DlpFilter(UNSCANNABLE_POLICY.settings("dlp")).check(m, FilterContext(UNSCANNABLE_POLICY.site))
    assert r.action is action and ("unscannable_reasons", reason) in r.facts
    assert (r.reply.code if r.reply else None) == code


async def test_dlp_filter_passes_the_message_deadline_to_the_scan():
    m = message()
    m.headers = [("Subject", "pay")]
    m.write_body(b"IBAN GB53 MIDL 4005 1571 2345 67\r\n")
    m.deadline = 0.0  # long past
    r = await check_with(DlpFilter, m, FilterContext(POLICY.site))
    assert ("unscannable_reasons", "time") in r.facts and r.action is Action.TAG


def test_reject_text_names_categories_only():
    text = reject_reply(["payment_card", "uk_bank_account"]).text
    assert "payment card numbers and bank account details (sort code and account number)" in text


async def test_dlp_skips_inbound_and_allowed_senders():
    p = policy_mod.parse('[filters.dlp]\nallow_senders = ["@billing.example", "ceo@shop.example"]\n')
    f = DlpFilter(p.settings("dlp"))
    inbound = message(direction=Direction.INBOUND)
    assert (await f.check(inbound, FilterContext(p.site))).facts == (("dlp", "skipped-inbound"),)
    for sender in ("robot@billing.example", "CEO@shop.example"):
        assert (await f.check(message(sender=sender), FilterContext(p.site))).facts == (("dlp", "allowed-sender"),)


async def test_dlp_prepare_runs_the_scan_once():
    f = DlpFilter()
    m = message()
    m.headers = [("Subject", "pay")]
    m.write_body(b"IBAN GB53 MIDL 4005 1571 2345 67\r\n")
    report = f.prepare(m, None)  # what prepare returns comes back to check as ctx.prepared
    assert report is not None

    def second_scan(*args):
        raise AssertionError("scanned twice")

    f._scan = second_scan
    r = await f.check(m, FilterContext(POLICY.site, prepared=report))
    assert [x.category for x in r.findings] == ["iban"]
