"""keygen writes 0600 and never overwrites; its record verifies what it signs; check and the CLI."""

from __future__ import annotations

import argparse
import io
import stat
from types import MappingProxyType

import pytest

from dkim_support import DOMAIN, DictResolver, ed_key, receiver_verifies, records, rsa_key, settings, signed_message
from privacy_filters.dkim.cli import add_arguments, check_async, keygen_command
from privacy_filters.dkim.keys import KeyProblem, check, dns_record, keygen, load_key, zone_line
from privacy_filters.dkim.settings import DkimSettings
from privacy_filters.dkim.sign import sign

RAW = b"From: a@example.co.uk\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n"


@pytest.mark.parametrize("algorithm, k", [("rsa-sha256", "rsa"), ("ed25519-sha256", "ed25519")])
def test_keygen_writes_0600_and_its_record_verifies_what_it_signs(tmp_path, algorithm, k):
    path, txt = keygen(DOMAIN, "sel1", algorithm, tmp_path)
    assert path == tmp_path / f"{DOMAIN}.sel1.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert txt.startswith(f"v=DKIM1; k={k}; p=")
    key = load_key(path, algorithm, "sel1")
    assert dns_record(key) == txt
    out = signed_message(RAW, sign(RAW, DOMAIN, [key], settings(key)))
    assert receiver_verifies(out, {f"sel1._domainkey.{DOMAIN}": txt.encode()}) == [True]
    other = records(rsa_key() if k == "rsa" else ed_key())   # another key's record: must not verify
    assert receiver_verifies(out, {f"sel1._domainkey.{DOMAIN}": next(iter(other.values()))}) == [False]


def test_keygen_never_overwrites(tmp_path):
    path, _ = keygen(DOMAIN, "sel1", "ed25519-sha256", tmp_path)
    before = path.read_bytes()
    with pytest.raises(KeyProblem, match="exists already"):
        keygen(DOMAIN, "sel1", "rsa-sha256", tmp_path)
    assert path.read_bytes() == before


def test_zone_line_splits_long_records():
    line = zone_line(DOMAIN, "r", dns_record(rsa_key()))
    parts = line.split('"')[1::2]
    assert all(len(p) <= 255 for p in parts) and "".join(parts) == dns_record(rsa_key())


async def test_check_published_missing_mismatch_and_dns_error():
    name = f"{rsa_key().selector}._domainkey.{DOMAIN}"
    ok = await check(DOMAIN, rsa_key().selector, rsa_key(), DictResolver(records(rsa_key())))
    assert ok.status == "published" and ok.ready
    # the same key published with different spacing and split strings still matches
    spaced = dns_record(rsa_key()).replace("; ", ";").replace("p=", "p= ")
    assert (await check(DOMAIN, rsa_key().selector, rsa_key(), DictResolver({name: spaced.encode()}))).ready
    missing = await check(DOMAIN, rsa_key().selector, rsa_key(), DictResolver({}))
    assert missing.status == "missing"
    nodata = await check(DOMAIN, rsa_key().selector, rsa_key(), DictResolver({name: []}))
    assert nodata.status == "missing"
    other = DictResolver({name: b"v=DKIM1; k=rsa; p=" + records(ed_key())[f"e2025._domainkey.{DOMAIN}"].split(b"p=")[1]})
    assert (await check(DOMAIN, rsa_key().selector, rsa_key(), other)).status == "mismatch"
    wrong_type = DictResolver({name: dns_record(ed_key()).encode()})
    assert (await check(DOMAIN, rsa_key().selector, rsa_key(), wrong_type)).status == "mismatch"
    revoked = DictResolver({name: b"v=DKIM1; k=rsa; p="})
    assert (await check(DOMAIN, rsa_key().selector, rsa_key(), revoked)).status == "mismatch"
    slow = await check(DOMAIN, rsa_key().selector, rsa_key(), DictResolver({}, slow={name}), timeout=0.2)
    assert slow.status == "dns_error" and not slow.ready


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_keygen_command_prints_record_and_policy_lines(tmp_path):
    out = io.StringIO()
    assert keygen_command(_parse(["keygen", "Example.CO.UK", "2026e", "--algorithm", "ed25519",
                                  "--dir", str(tmp_path)]), out) == 0
    text = out.getvalue()
    path = tmp_path / "example.co.uk.2026e.key"
    assert f'"2026e" = {{ key_file = "{path}", algorithm = "ed25519-sha256", active = false }}' in text
    assert '[filters.dkim.keys."example.co.uk"]' in text
    assert "2026e._domainkey.example.co.uk. IN TXT" in text
    assert dns_record(load_key(path, "ed25519-sha256", "2026e")) in text
    again = io.StringIO()
    assert keygen_command(_parse(["keygen", DOMAIN, "2026e", "--algorithm", "ed25519",
                                  "--dir", str(tmp_path)]), again) == 1
    assert "never overwrites" in again.getvalue()


async def test_check_command_exit_codes():
    s = DkimSettings(keys=MappingProxyType({DOMAIN: (rsa_key(), ed_key()), "default": (rsa_key(),)}))
    out = io.StringIO()
    assert await check_async(_parse(["check", DOMAIN]), s, DictResolver(records(rsa_key(), ed_key())), out) == 0
    assert out.getvalue().count("ok ") == 2
    out = io.StringIO()
    assert await check_async(_parse(["check", DOMAIN]), s, DictResolver(records(rsa_key())), out) == 1
    assert f"MISSING   {DOMAIN} selector {ed_key().selector}" in out.getvalue()
    # no DOMAIN: every configured domain, and each hosted domain the default table signs
    out = io.StringIO()
    resolver = DictResolver({**records(rsa_key(), ed_key()), **records(rsa_key(), domain="shop.example.net")})
    assert await check_async(_parse(["check"]), s, resolver, out, hosted={DOMAIN, "shop.example.net"}) == 0
    assert "ok        shop.example.net selector r2025" in out.getvalue()
    out = io.StringIO()
    assert await check_async(_parse(["check", "stranger.example"]), DkimSettings(), DictResolver({}), out) == 1
