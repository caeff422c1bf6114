"""`[mta_sts]` and `mta-sts publish` offline: the policy files and records for several
domains, the id that changes exactly when the policy does, and the settings' errors."""

from __future__ import annotations

import io
import stat

import pytest

from privacy_milter import policy
from privacy_milter.mtasts_publish import command
from privacy_milter.mtasts_publish.publish import build, policy_id, policy_text, tlsrpt_record
from privacy_milter.mtasts_publish.settings import DomainPolicy
from privacy_milter.tlspolicy.dnsclient import DnsClient, make_resolver
from privacy_milter.tlspolicy.https import PolicyFetcher
from privacy_milter.tlspolicy.model import Mode
from privacy_milter.tlspolicy.mtasts_policy import parse_policy

BASE = """
[network]
hosted_domains = ["shop.example", "café.example", "law.example"]
[mta_sts]
mode = "testing"
mx = ["mx1.host.example", "*.mx.host.example"]
max_age = 604800
webroot = "{webroot}"
tlsrpt_rua = ["mailto:tlsrpt@host.example"]
[mta_sts.domain."law.example"]
mode = "none"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(policy.PolicyError) as info:
        policy.parse(text, "p.toml")
    return info.value.problems


def test_policy_text_is_rfc8461_and_reads_back_with_the_client_parser():
    text = policy_text(DomainPolicy("enforce", ("mx1.host.example", "*.mx.host.example"), 86400))
    assert text == ("version: STSv1\r\nmode: enforce\r\nmx: mx1.host.example\r\nmx: *.mx.host.example\r\n"
                    "max_age: 86400\r\n")
    parsed = parse_policy(text)
    assert parsed.mode is Mode.ENFORCE and parsed.matches("a.mx.host.example")
    assert not parsed.matches("a.b.mx.host.example")


def test_the_id_changes_exactly_when_the_policy_changes():
    a = DomainPolicy("testing", ("mx1.host.example",), 604800)
    ids = {policy_id(policy_text(p)) for p in (
        a, DomainPolicy("enforce", a.mx, a.max_age), DomainPolicy("testing", ("mx2.host.example",), a.max_age),
        DomainPolicy("testing", a.mx, 86400))}
    assert len(ids) == 4
    assert policy_id(policy_text(a)) == policy_id(policy_text(DomainPolicy("testing", ("mx1.host.example",),
                                                                           604800)))
    one = build("shop.example", a)
    assert len(one.policy_id) == 20 and one.policy_id.isalnum()
    assert one.sts_record() == f'_mta-sts.shop.example. IN TXT "v=STSv1; id={one.policy_id}"'


def test_tlsrpt_record():
    assert tlsrpt_record("shop.example", ("mailto:a@h.example", "https://r.h.example/r")) == \
        '_smtp._tls.shop.example. IN TXT "v=TLSRPTv1; rua=mailto:a@h.example,https://r.h.example/r"'
    assert tlsrpt_record("shop.example", ()) is None


def test_publish_writes_each_domains_file_and_prints_its_records(tmp_path):
    p = policy.parse(BASE.format(webroot=tmp_path / "www"))
    out = io.StringIO()
    wiring = command.Wiring(dns=DnsClient(make_resolver("127.0.0.1", 9, 0.2)),
                            fetcher=PolicyFetcher(timeout=1, max_bytes=65536))
    assert command.run(p, "publish", None, wiring=wiring, out=out) == 0
    text = out.getvalue()
    shop = (tmp_path / "www/shop.example/.well-known/mta-sts.txt")
    cafe = (tmp_path / "www/xn--caf-dma.example/.well-known/mta-sts.txt")
    law = (tmp_path / "www/law.example/.well-known/mta-sts.txt")
    assert shop.read_bytes() == cafe.read_bytes() == (
        b"version: STSv1\r\nmode: testing\r\nmx: mx1.host.example\r\nmx: *.mx.host.example\r\nmax_age: 604800\r\n")
    assert law.read_bytes() == shop.read_bytes().replace(b"mode: testing", b"mode: none")
    assert stat.S_IMODE(shop.stat().st_mode) == 0o644
    shop_id = policy_id(shop.read_bytes().decode())
    assert f'_mta-sts.shop.example. IN TXT "v=STSv1; id={shop_id}"' in text
    assert '_smtp._tls.xn--caf-dma.example. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@host.example"' in text
    law_id = policy_id(law.read_bytes().decode())
    assert law_id != shop_id and f"id={law_id}" in text
    # publishing again: same files, same records
    again = io.StringIO()
    assert command.run(p, "publish", "shop.example", wiring=wiring, out=again) == 0
    assert f"id={shop_id}" in again.getvalue() and "law.example" not in again.getvalue()


def test_settings_errors_name_the_key():
    found = problems('[mta_sts]\nmode = "strict"\nmx = ["mx..bad", "*.ok.example"]\nmax_age = 60\n'
                     'webroot = "www"\ntlsrpt_rua = ["tlsrpt@host.example"]\nport = 25\n'
                     '[mta_sts.domain."a.example"]\nmode = "enforce"\nmx = []\n')
    joined = "\n".join(found)
    assert "p.toml:2: mta_sts.mode: must be one of enforce, none, testing" in joined
    assert "p.toml:3: mta_sts.mx: item 1" in joined
    assert "p.toml:4: mta_sts.max_age: must be at least 86400" in joined
    assert "p.toml:5: mta_sts.webroot: must be an absolute path" in joined
    assert 'mta_sts.tlsrpt_rua: item 1 ("tlsrpt@host.example"): must be "mailto:ADDRESS"' in joined
    assert "mta_sts.port: unknown setting" in joined
    assert 'mta_sts.domain."a.example".mx: mode "enforce" needs at least one mx pattern' in joined


def test_per_domain_overrides_inherit_the_defaults():
    p = policy.parse('[mta_sts]\nmx = ["mx1.host.example"]\n[mta_sts.domain."shop.example"]\nmode = "enforce"\n')
    assert p.mta_sts.policy_for("shop.example") == DomainPolicy("enforce", ("mx1.host.example",), 604800)
    assert p.mta_sts.policy_for("other.example") == DomainPolicy("testing", ("mx1.host.example",), 604800)
