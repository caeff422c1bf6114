"""`mta-sts check` and `publish` as a sender sees them: the DNS stub, an HTTPS server with a
throwaway CA (trustme), and the throwaway Postfix's own STARTTLS certificate. One planted
fault per domain, each failing with its own message; enforce refused where check fails.

Every MX name is reached at the one Postfix on loopback (an injected connect); SNI and the
certificate name check still use the MX's name.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import shutil

import pytest

from privacy_milter import policy
from privacy_milter.mtasts_publish import command
from privacy_milter.mtasts_publish.publish import build
from privacy_milter.tlspolicy.dnsclient import DnsClient, make_resolver
from privacy_milter.tlspolicy.https import PolicyFetcher, StaticHostResolver
from tests.harness.certs import make_certs
from tests.harness.dnsstub import DnsStub
from tests.harness.fixtures import harness_dir
from tests.harness.https_server import MtaStsHttpsServer
from tests.harness.ports import free_port

pytestmark = pytest.mark.postfix

GOOD, NO_ID, NO_WEB, OUTSIDE, WRONG_NAME, EXPIRED = (
    "good.test", "noid.test", "noweb.test", "outside.test", "wrongname.test", "expired.test")
DOMAINS = (GOOD, NO_ID, NO_WEB, OUTSIDE, WRONG_NAME, EXPIRED)
MX_GOOD = "mx1.host.test"


def policy_toml(webroot: str) -> str:
    return f"""
[network]
hosted_domains = {list(DOMAINS)!r}
[mta_sts]
mode = "testing"
mx = ["{MX_GOOD}", "*.pool.host.test"]
webroot = "{webroot}"
[mta_sts.domain."{EXPIRED}"]
mx = ["mx-old.host.test"]
"""


@pytest.fixture
def world(postfix_factory):
    root = harness_dir("mtasts-check")
    certs = make_certs(root / "certs", names=(MX_GOOD, "mx-old.host.test"))
    pf = postfix_factory(relay_port=free_port(), tls_cert=certs.cert_file, tls_key=certs.key_file)
    p = policy.parse(policy_toml(str(root / "www")))
    with DnsStub() as stub, MtaStsHttpsServer(DOMAINS) as web:
        for d in DOMAINS:
            published = build(d, p.mta_sts.policy_for(d))
            stub.add(f"_mta-sts.{d}", "TXT", f'"v=STSv1; id={published.policy_id}"')
            web.set_raw(d, published.text.encode())
            stub.add(d, "MX", f"10 {MX_GOOD}.")
        stub.remove(f"_mta-sts.{NO_ID}", "TXT")
        stub.add(f"_mta-sts.{NO_ID}", "TXT", '"v=STSv1;"')
        web.clear(NO_WEB)
        stub.add(OUTSIDE, "MX", "20 mx9.elsewhere.test.")
        stub.remove(WRONG_NAME, "MX")
        stub.add(WRONG_NAME, "MX", "10 mx2.pool.host.test.")   # matches *.pool.host.test; cert lacks it
        stub.remove(EXPIRED, "MX")
        stub.add(EXPIRED, "MX", "10 mx-old.host.test.")

        async def to_postfix(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            assert port == 25
            return await asyncio.open_connection("127.0.0.1", pf.smtpd_port)

        wiring = command.Wiring(
            dns=DnsClient(make_resolver("127.0.0.1", stub.port, 3.0)),
            fetcher=PolicyFetcher(timeout=5, max_bytes=65536, ssl_context=web.client_context(),
                                  host_resolver=StaticHostResolver(web.host_map())),
            tls_context=certs.client_context(), connect=to_postfix)
        yield p, wiring, pf, certs, root, stub
    shutil.rmtree(root, ignore_errors=True)


def _fresh(wiring: command.Wiring) -> command.Wiring:
    """A fresh fetcher per run: its aiohttp session belongs to that run's event loop."""
    return command.Wiring(wiring.dns, PolicyFetcher(timeout=5, max_bytes=65536, ssl_context=wiring.fetcher._ssl,
                                                    host_resolver=wiring.fetcher._host_resolver),
                          wiring.tls_context, wiring.connect)


def run(p: policy.Policy, wiring: command.Wiring, action: str, domain: str | None) -> tuple[int, str]:
    out = io.StringIO()
    status = command.run(p, action, domain, wiring=_fresh(wiring), out=out)
    print(f"$ privacy-milter mta-sts {action} {domain or ''}\n{out.getvalue()}")  # docs/MTA-STS.md shows these
    return status, out.getvalue()


def test_a_correct_domain_passes_every_step(world):
    p, wiring, *_ = world
    status, out = run(p, wiring, "check", GOOD)
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(f"{GOOD}: ok   TXT _mta-sts.{GOOD}: id=")
    assert f"{GOOD}: ok   policy https://mta-sts.{GOOD}/.well-known/mta-sts.txt: mode testing" in out
    assert f"{GOOD}: ok   MX {MX_GOOD}: matches the policy" in out
    assert f"{GOOD}: ok   certificate of {MX_GOOD}: certificate valid for {MX_GOOD}, expires " in out


@pytest.mark.parametrize("domain, message", [
    (NO_ID, f"FAIL TXT _mta-sts.{NO_ID}: 1 TXT record(s), none usable: senders never look for the policy"),
    (NO_WEB, f"FAIL policy https://mta-sts.{NO_WEB}/.well-known/mta-sts.txt: a sender cannot use it: "
             f"https://mta-sts.{NO_WEB}/.well-known/mta-sts.txt: HTTP status 404, not 200"),
    (OUTSIDE, "FAIL MX mx9.elsewhere.test: matches no mx pattern (mx1.host.test, *.pool.host.test): "
              "an enforcing sender refuses to deliver there"),
    (WRONG_NAME, "FAIL certificate of mx2.pool.host.test: certificate not accepted: Hostname mismatch, "
                 "certificate is not valid for 'mx2.pool.host.test'"),
])
def test_each_planted_fault_fails_with_its_message(world, domain, message):
    p, wiring, *_ = world
    status, out = run(p, wiring, "check", domain)
    assert status == 1
    assert f"{domain}: {message}" in out, out
    assert sum(" FAIL " in line for line in out.splitlines()) == 1, out


def test_an_expired_certificate_on_the_mx_fails(world):
    p, wiring, pf, certs, root, _ = world
    old = certs.ca.issue_cert("mx-old.host.test",
                              not_before=datetime.datetime(2020, 1, 1), not_after=datetime.datetime(2021, 1, 1))
    chain, key = root / "certs/old.pem", root / "certs/old.key"
    chain.write_bytes(b"".join(b.bytes() for b in old.cert_chain_pems))
    old.private_key_pem.write_to_path(str(key))
    pf.postconf(smtpd_tls_chain_files=f"{key}, {chain}")
    pf.reload()
    status, out = run(p, wiring, "check", EXPIRED)
    assert status == 1
    assert f"{EXPIRED}: FAIL certificate of mx-old.host.test: certificate not accepted: certificate has expired" \
        in out, out


def test_a_wrong_id_is_named(world):
    p, wiring, *_ = world
    changed = policy.parse(policy_toml("/tmp/unused") + f'[mta_sts.domain."{GOOD}"]\nmax_age = 86400\n')
    status, out = run(changed, wiring, "check", GOOD)
    assert status == 1
    new_id = build(GOOD, changed.mta_sts.policy_for(GOOD)).policy_id
    assert f"but the policy now has id={new_id}: senders keep their cached copy; update the record" in out
    assert "served policy (mode testing, mx mx1.host.test, *.pool.host.test, max_age 604800) is not the one" in out


def test_publish_refuses_enforce_where_check_fails_and_writes_the_rest(world):
    _, wiring, _, _, root, _ = world
    enforce = policy.parse(policy_toml(str(root / "www")).replace('mode = "testing"', 'mode = "enforce"'))
    status, out = run(enforce, wiring, "publish", OUTSIDE)
    assert status == 1
    assert f"{OUTSIDE}: NOT published: mode enforce would make senders refuse mail to it:" in out
    assert "FAIL MX mx9.elsewhere.test: matches no mx pattern" in out
    assert not (root / "www" / OUTSIDE).exists()
    status, out = run(enforce, wiring, "publish", WRONG_NAME)
    assert status == 1 and "Hostname mismatch" in out and not (root / "www" / WRONG_NAME).exists()
    status, out = run(enforce, wiring, "publish", GOOD)
    assert status == 0, out
    assert (root / "www" / GOOD / ".well-known/mta-sts.txt").read_bytes().startswith(
        b"version: STSv1\r\nmode: enforce\r\n")


def test_doctor_says_each_domain_warning_in_testing_failing_in_enforce(world):
    from pathlib import Path

    from privacy_milter.doctor.model import Setup, Status
    from privacy_milter.mtasts_publish import doctor_check

    p, wiring, *_ = world
    lines = doctor_check.check(Setup(Path("p.toml"), p, None), _fresh(wiring))
    by_domain = {f.text.split(":")[0]: f for f in lines}
    assert by_domain[GOOD].status is Status.OK
    assert by_domain[OUTSIDE].status is Status.WARN and "matches no mx pattern" in by_domain[OUTSIDE].text
    assert by_domain[OUTSIDE].fix == f"privacy-milter mta-sts check {OUTSIDE}"
    enforce = policy.parse(policy_toml("/tmp/unused").replace('mode = "testing"', 'mode = "enforce"'))
    lines = doctor_check.check(Setup(Path("p.toml"), enforce, None), _fresh(wiring))
    assert {f.status for f in lines if f.text.startswith(NO_WEB)} == {Status.FAIL}
    unset = doctor_check.check(Setup(Path("p.toml"), policy.parse(""), None))
    assert [(f.status, f.text) for f in unset] == [(Status.OK, "not published: [mta_sts] mx is not set "
                                                               "(docs/MTA-STS.md)")]


def test_dns_that_hangs_or_no_resolver_fails_closed_within_bounds(world):
    import time

    p, wiring, pf, certs, root, stub = world
    dead = command.Wiring(DnsClient(make_resolver("127.0.0.1", free_port(), 1.0)), wiring.fetcher,
                          wiring.tls_context, wiring.connect)
    short = command.Wiring(DnsClient(make_resolver("127.0.0.1", stub.port, 1.0)), wiring.fetcher,
                           wiring.tls_context, wiring.connect)
    enforce = policy.parse(policy_toml(str(root / "www")).replace('mode = "testing"', 'mode = "enforce"'))
    started = time.monotonic()
    status, out = run(enforce, dead, "publish", GOOD)           # no resolver answering at all
    assert status == 1 and f"{GOOD}: FAIL MX: lookup failed: MX {GOOD}: " in out, out
    assert not (root / "www" / GOOD).exists()
    status, out = run(p, dead, "check", GOOD)
    assert status == 1 and f"{GOOD}: FAIL TXT _mta-sts.{GOOD}: lookup failed: TXT _mta-sts.{GOOD}: " in out, out
    stub.drop(GOOD)                                             # a resolver that never answers for the MX
    try:
        status, out = run(enforce, short, "publish", GOOD)
    finally:
        stub.drop(GOOD, on=False)
    assert status == 1 and f"{GOOD}: FAIL MX: lookup failed: MX {GOOD}: timed out" in out, out
    assert not (root / "www" / GOOD).exists()
    assert time.monotonic() - started < 30
