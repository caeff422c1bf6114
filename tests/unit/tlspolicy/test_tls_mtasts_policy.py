"""MTA-STS TXT records and policy files: parsing, validation, matching, Postfix syntax."""

from __future__ import annotations

import pytest

from privacy_milter.tlspolicy.model import Mode, MtaStsError, MtaStsPolicy
from privacy_milter.tlspolicy.mtasts_policy import parse_policy, parse_txt

GOOD = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"


@pytest.mark.parametrize(("records", "expected"), [
    (["v=STSv1; id=20160831085700Z;"], "20160831085700Z"),
    (["v=STSv1;id=abc"], "abc"),
    (["v=STSv1; id=abc; ext=1"], "abc"),
    (["v=spf1 -all", "v=STSv1; id=abc"], "abc"),  # other records are discarded
    (["v=STSv1; id=abc", "v=STSv1; id=def"], None),  # two STS records: no policy
    ([], None),
    (["v=STSv1"], None),  # no id
    (["v=STSv1; id="], None),
    (["v=STSv1; id=" + "a" * 33], None),  # id longer than 32
    (["v=STSv1; id=not-alnum"], None),
    (["v=STSv10; id=abc"], None),
    (["v=STSv1; garbage; id=abc"], None),
])
def test_tls_parse_txt(records: list[str], expected: str | None) -> None:
    assert parse_txt(records) == expected


def test_tls_parse_good_policy() -> None:
    policy = parse_policy(GOOD)
    assert policy == MtaStsPolicy(Mode.ENFORCE, ("mx1.example.com", "*.example.net"), 604800)
    assert policy.postfix_match() == "mx1.example.com:.example.net"


def test_tls_lf_only_extra_spaces_unknown_keys_and_duplicates() -> None:
    text = "version:STSv1\nmode:  testing \nfoo: bar\nmx: MX.Example.COM.\nmode: enforce\nmax_age: 86400"
    policy = parse_policy(text)
    assert policy.mode is Mode.TESTING  # the first mode counts
    assert policy.mx == ("mx.example.com",)


def test_tls_mode_none_needs_no_mx() -> None:
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n").mx == ()


@pytest.mark.parametrize(("text", "reason"), [
    ("mode: enforce\nmx: a.example\nmax_age: 1\n", "version"),
    ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "version"),
    ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "mode"),
    ("version: STSv1\nmode: enforce\nmx: a.example\n", "max_age"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -5\n", "max_age"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", "exceeds"),
    ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n", "max_age"),
    ("version: STSv1\nmode: enforce\nmax_age: 86400\n", "no mx"),
    ("version: STSv1\nmode: testing\nmax_age: 86400\n", "no mx"),
    ("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 86400\n", "mx"),
    ("version: STSv1\nmode: enforce\nmx: mx.*.example\nmax_age: 86400\n", "mx"),
    ("version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 86400\n", "mx"),
    ("version: STSv1\nmode: enforce\nmx: bad_host.example\nmax_age: 86400\n", "mx"),
    ("version: STSv1\nmode: enforce\nthis line has no colon\nmax_age: 86400\n", "without ':'"),
])
def test_tls_invalid_policies(text: str, reason: str) -> None:
    with pytest.raises(MtaStsError, match=reason):
        parse_policy(text)


def test_tls_max_age_bound_is_configurable() -> None:
    with pytest.raises(MtaStsError):
        parse_policy(GOOD, max_max_age=3600)


@pytest.mark.parametrize(("host", "ok"), [
    ("mx1.example.com", True),
    ("MX1.EXAMPLE.COM.", True),
    ("a.example.net", True),
    ("example.net", False),  # the wildcard needs one label
    ("a.b.example.net", False),  # and only one
    ("mx2.example.com", False),
])
def test_tls_mx_matching(host: str, ok: bool) -> None:
    assert parse_policy(GOOD).matches(host) is ok


def test_tls_policy_round_trips_for_store_backed_caches() -> None:
    policy = parse_policy(GOOD)
    assert MtaStsPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(MtaStsError):
        MtaStsPolicy.from_dict({"mode": "enforce", "mx": "x", "max_age": 1})
