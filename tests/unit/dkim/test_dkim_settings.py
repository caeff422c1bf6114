"""[filters.dkim] read through the tomlcheck Reader: values, and every problem with path and line."""

from __future__ import annotations

import tomllib

from dkim_support import ed_key, private_copy, rsa_key
from privacy_filters.dkim.settings import OVERSIGN_HEADERS, SIGN_HEADERS, DkimSettings, read_settings
from privacy_milter.model import Action
from privacy_milter.tomlcheck import Problems, Reader


def _read(text: str) -> tuple[DkimSettings, list[str]]:
    problems = Problems("policy.toml", text)
    top = Reader(tomllib.loads(text), (), problems)
    settings = read_settings(top.table("filters").table("dkim"))
    return settings, problems.render()


def test_defaults():
    s, problems = _read("")
    assert problems == []
    assert s.canonicalization == ("relaxed", "relaxed") and s.on_error is Action.ACCEPT and s.verify
    assert s.sign_headers == SIGN_HEADERS and s.oversign_headers == OVERSIGN_HEADERS
    assert s.authserv_id == "" and s.keys == {}  # empty: the daemon's host name


def test_domain_with_rsa_and_ed25519_and_a_default_table():
    text = f'''
[filters.dkim]
canonicalization = "simple/simple"
authserv_id = "mx1.example.net"
on_error = "tempfail"
dns_timeout = 2.5
verify = false

[filters.dkim.keys."Example.CO.UK"]
"r2025" = {{ key_file = "{rsa_key().key_file}", algorithm = "rsa-sha256" }}
"e2025" = {{ key_file = "{ed_key().key_file}", algorithm = "ed25519-sha256", active = false }}

[filters.dkim.keys.default]
"hosting" = {{ key_file = "{rsa_key().key_file}", algorithm = "rsa-sha256" }}
'''
    s, problems = _read(text)
    assert problems == []
    assert [(k.selector, k.algorithm, k.active) for k in s.keys["example.co.uk"]] == [
        ("r2025", "rsa-sha256", True), ("e2025", "ed25519-sha256", False)]
    assert s.keys["default"][0].selector == "hosting"
    assert (s.canonicalization, s.on_error, s.dns_timeout, s.verify, s.authserv_id) == (
        ("simple", "simple"), Action.TEMPFAIL, 2.5, False, "mx1.example.net")
    assert s.keys_for("example.co.uk", lambda d: True) == (s.keys["example.co.uk"][0],)
    assert s.keys_for("shop.example.net", {"shop.example.net"}.__contains__) == s.keys["default"]
    assert s.keys_for("stranger.example", lambda d: False) == ()


def test_every_problem_named_with_key_path_and_line(tmp_path):
    open_key = private_copy(rsa_key().key_file, 0o644)
    text = f'''[filters.dkim]
canonicalization = "relaxed"
oversign_headers = ["From", "Message-ID", "Received", "List-Id"]
sign_headers = ["Subject", "Received"]
on_error = "ignore"
colour = "blue"

[filters.dkim.keys."example.co.uk"]
"r1" = {{ key_file = "{open_key}", algorithm = "rsa-sha256" }}
"r2" = {{ key_file = "{tmp_path / 'absent.key'}", algorithm = "rsa-sha256" }}
"e1" = {{ key_file = "{rsa_key().key_file}", algorithm = "ed25519-sha256" }}
"x1" = {{ key_file = "{ed_key().key_file}", algorithm = "rsa-sha1" }}
"bad_selector!" = {{ key_file = "{ed_key().key_file}", algorithm = "ed25519-sha256" }}
"n1" = {{ algorithm = "rsa-sha256" }}

[filters.dkim.keys."not a domain"]
'''
    s, problems = _read(text)
    joined = "\n".join(problems)

    def has(line: int, path: str, words: str) -> bool:
        return any(p.startswith(f"policy.toml:{line}: {path}: ") and words in p for p in problems)

    assert has(2, "filters.dkim.canonicalization", "must be one of relaxed/relaxed"), joined
    assert has(3, "filters.dkim.oversign_headers", '"Message-ID"'), joined
    assert has(3, "filters.dkim.oversign_headers", '"Received"'), joined
    assert has(3, "filters.dkim.oversign_headers", '"List-Id"'), joined
    assert has(4, "filters.dkim.sign_headers", "RFC 6376 §5.4"), joined            # Received refused
    assert has(4, "filters.dkim.sign_headers", "must include From"), joined
    assert has(5, "filters.dkim.on_error", "accept, tempfail"), joined
    assert has(6, "filters.dkim.colour", "unknown setting"), joined
    assert has(9, 'filters.dkim.keys."example.co.uk".r1.key_file', f"chmod 600 {open_key}"), joined
    assert has(9, 'filters.dkim.keys."example.co.uk".r1.key_file', "(mode 0644)"), joined
    assert has(10, 'filters.dkim.keys."example.co.uk".r2.key_file', "does not exist"), joined
    assert has(11, 'filters.dkim.keys."example.co.uk".e1.key_file', "not an Ed25519 private key"), joined
    assert has(12, 'filters.dkim.keys."example.co.uk".x1.algorithm', "must be one of"), joined
    assert has(13, 'filters.dkim.keys."example.co.uk"."bad_selector!"', "DNS labels"), joined
    assert has(14, 'filters.dkim.keys."example.co.uk".n1.key_file', "required"), joined
    assert has(16, 'filters.dkim.keys."not a domain"', "not a domain name"), joined
    assert s.keys == {}   # no key from a broken table is used


def test_small_rsa_keys_are_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "small.key"
    path.write_bytes(small.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption()))
    path.chmod(0o600)
    _, problems = _read(f'[filters.dkim.keys."example.co.uk"]\ns = {{ key_file = "{path}", algorithm = "rsa-sha256" }}\n')
    assert len(problems) == 1 and "1024-bit RSA key; at least 2048" in problems[0]
