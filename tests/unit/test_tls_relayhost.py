"""Issue 23, item 2: with a relayhost (smarthost), flagged mail's TLS class is the relay's,
not the recipient domains'. The relay comes from Postfix (postconf) or [filters.tls]
relayhost. The classifier is a stand-in; the real one is tested in tlspolicy/ and end to
end in tests/integration/test_relayhost_postfix.py."""

from __future__ import annotations

import asyncio
import logging

import pytest

from privacy_filters.relayhost import RelayHost, first_next_hop
from privacy_filters.tls import TlsFilter
from privacy_milter import policy as policy_mod
from privacy_milter.errors import PolicyError
from privacy_milter.model import Action, Confidence, Finding, Result
from privacy_milter.plugin import FilterContext
from privacy_milter.services import Services
from privacy_milter.postconf import PostconfError
from privacy_milter.tlspolicy.model import TlsClass

from tests.unit.filter_helpers import message

ENCRYPT = ("X-Privacy-Encrypt", "required")


class HopClassifier:
    def __init__(self, hop_class: TlsClass | None = TlsClass.TLS, domain_class: TlsClass = TlsClass.PLAIN) -> None:
        self.hop_class, self.domain_class = hop_class, domain_class
        self.hops: list[str] = []
        self.domains: list[str] = []

    async def classify(self, domain: str) -> TlsClass:
        self.domains.append(domain)
        return self.domain_class

    async def classify_next_hop(self, hop: str) -> TlsClass:
        self.hops.append(hop)
        if self.hop_class is None:
            await asyncio.sleep(3600)
        assert self.hop_class is not None
        return self.hop_class


def policy(relayhost: str) -> policy_mod.Policy:
    return policy_mod.parse(f'[network]\nhosted_domains = ["shop.example"]\n[filters.tls]\nrelayhost = "{relayhost}"\n')


async def judge(f: TlsFilter, classifier: HopClassifier, p: policy_mod.Policy) -> Result:
    dlp = Result("dlp", Action.TAG, findings=(Finding("iban", Confidence.HIGH, 1),))
    ctx = FilterContext(p.site, Services(tls_classifier=classifier), [dlp])
    msg = message(rcpts=(("bob@far.example", "smtp"), ("eve@plain.example", "smtp")))
    try:
        return await f.check(msg, ctx)
    finally:
        msg.close()


async def test_a_named_relay_is_classified_instead_of_the_recipient_domains():
    p = policy("[relay.example]:587")
    classifier = HopClassifier(TlsClass.TLS, domain_class=TlsClass.PLAIN)
    r = await judge(TlsFilter(p.settings("tls")), classifier, p)
    assert r.headers == (ENCRYPT,) and r.action is Action.ACCEPT
    assert classifier.hops == ["[relay.example]:587"] and classifier.domains == []
    assert ("flagged_relay", "[relay.example]:587") in r.facts and ("flagged_tls", "tls:1") in r.facts


async def test_a_relay_without_starttls_refuses_naming_the_relay_not_the_recipients():
    p = policy("[relay.example]:587")
    r = await judge(TlsFilter(p.settings("tls")), HopClassifier(TlsClass.PLAIN, TlsClass.TLS), p)
    assert r.action is Action.REJECT and r.reply is not None
    assert "relay (relay.example)" in r.reply.text and "far.example" not in r.reply.text and "IBAN" in r.reply.text


async def test_a_hanging_relay_classification_fails_closed():
    p = policy_mod.parse('[filters.tls]\nrelayhost = "[relay.example]:587"\ndecision_timeout = 0.1\n')
    r = await judge(TlsFilter(p.settings("tls")), HopClassifier(None), p)
    assert r.headers == (ENCRYPT,) and ("tls_decision", "failed") in r.facts


async def test_the_relay_comes_from_postfix_by_default():
    p = policy_mod.parse("")
    asked: list[tuple[str, ...]] = []

    def read(names):
        asked.append(tuple(names))
        return {"relayhost": "[smart.example]:587, [backup.example]:587"}

    f = TlsFilter(p.settings("tls"))
    f.relay = RelayHost("postfix", read=read)
    classifier = HopClassifier(TlsClass.AUTHENTICATED)
    await judge(f, classifier, p)
    await judge(f, classifier, p)
    assert classifier.hops == ["[smart.example]:587"] * 2
    assert asked == [("relayhost",)]  # once per policy load


async def test_postfix_without_relayhost_means_recipient_domains(caplog):
    p = policy_mod.parse("")
    f = TlsFilter(p.settings("tls"))
    f.relay = RelayHost("postfix", read=lambda names: {"relayhost": ""})
    classifier = HopClassifier(TlsClass.PLAIN, domain_class=TlsClass.TLS)
    r = await judge(f, classifier, p)
    assert r.headers == (ENCRYPT,) and classifier.hops == [] and sorted(classifier.domains) == ["far.example",
                                                                                                "plain.example"]


async def test_postconf_failing_is_a_warning_and_recipient_domains(caplog):
    def broken(names):
        raise PostconfError("postconf did not answer within 5s")

    p = policy_mod.parse("")
    f = TlsFilter(p.settings("tls"))
    f.relay = RelayHost("postfix", read=broken)
    caplog.set_level(logging.WARNING)
    classifier = HopClassifier(TlsClass.PLAIN, domain_class=TlsClass.TLS)
    r = await judge(f, classifier, p)
    assert r.headers == (ENCRYPT,) and classifier.hops == []
    assert any("cannot read Postfix's relayhost" in m and "[filters.tls] relayhost" in m for m in caplog.messages)


def test_relayhost_setting_is_checked():
    assert policy("").settings("tls").relayhost == ""
    assert policy("[192.0.2.1]:587").settings("tls").relayhost == "[192.0.2.1]:587"
    with pytest.raises(PolicyError) as err:
        policy("not a relay")
    assert "filters.tls.relayhost" in str(err.value)


def test_first_next_hop_of_a_relayhost_list():
    assert first_next_hop("[a.example]:587, [b.example]:587") == "[a.example]:587"
    assert first_next_hop("  ") is None


# --- policy check: does Postfix route flagged mail as expected? ---------------------------------

from privacy_filters.relayhost import routing_warnings  # noqa: E402

STOCK = "/^X-Privacy-Encrypt:/    FILTER privacy-encrypt:\n"
RELAYED = "/^X-Privacy-Encrypt:/    FILTER privacy-encrypt:[smart.example]:587\n"


def postfix_with(tmp_path, relayhost: str, checks: str | None):
    path = tmp_path / "hc.regexp"
    if checks is not None:
        path.write_text("# comment\n" + checks)
    value = f"regexp:{path}" if checks is not None else ""
    return lambda names: {"relayhost": relayhost, "milter_header_checks": value}


def test_routing_as_shipped_gives_no_warning(tmp_path):
    assert routing_warnings("postfix", postfix_with(tmp_path, "", STOCK)) == []
    assert routing_warnings("postfix", postfix_with(tmp_path, "[smart.example]:587", RELAYED)) == []


def test_the_stock_filter_line_with_a_relayhost_is_a_warning(tmp_path):
    (warning,) = routing_warnings("postfix", postfix_with(tmp_path, "[smart.example]:587", STOCK))
    assert "bypass the relay" in warning and "privacy-milter-header-checks-relayhost.regexp" in warning
    (warning,) = routing_warnings("[other.example]:25", postfix_with(tmp_path, "", RELAYED))
    assert "bypass the relay" in warning


def test_no_filter_line_at_all_is_a_warning(tmp_path):
    (warning,) = routing_warnings("postfix", postfix_with(tmp_path, "", None))
    assert "no FILTER line" in warning and "clear text" in warning
    (warning,) = routing_warnings("", postfix_with(tmp_path, "", "/^Subject:/ WARN x\n"))
    assert "no FILTER line" in warning


def test_postconf_failing_gives_no_routing_warning(tmp_path):
    def broken(names):
        raise PostconfError("postconf failed")
    assert routing_warnings("postfix", broken) == []
