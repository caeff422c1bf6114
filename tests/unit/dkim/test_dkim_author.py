"""author_domain's quick reading of a plain From ("a@b.example", "Name <a@b.example>") gives
exactly what email.headerregistry gives: on every From the regular expression takes
(hypothesis generates them from the expression itself), and on real From headers."""

from __future__ import annotations

import os
from pathlib import Path

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy_filters.dkim.sign import (MAX_FROM_CHARS, _PLAIN_FROM, AuthorDomain, author_domain, header_part,
                                      parsed_author)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))  # bench/fuzz runs take more
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "dlp-dev"


def _raw(value: str) -> bytes:
    return b"From:" + value.encode("utf-8") + b"\r\nSubject: x\r\n\r\nbody\r\n"


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.from_regex(_PLAIN_FROM, fullmatch=True).filter(
    lambda v: "\n" not in v and "\r" not in v and len(v) <= MAX_FROM_CHARS))
def test_every_plain_from_reads_as_headerregistry_reads_it(value: str) -> None:
    assert author_domain(_raw(value)) == parsed_author(value)


@pytest.mark.parametrize("value, domain", [
    (" alice@Example.CO.UK", "example.co.uk"),
    (" Alice Smith <alice@example.co.uk>", "example.co.uk"),
    (" Alice<alice@example.co.uk>  ", "example.co.uk"),
    (" =?utf-8?q?Al=C3=A9?= <alice@example.co.uk>", "example.co.uk"),
    (" <alice@mail.example.co.uk>", "mail.example.co.uk"),
    ("\tO'Brien <o.brien+news@shop-1.example.net>", "shop-1.example.net"),
])
def test_plain_shapes_take_the_quick_reading_and_agree(value: str, domain: str) -> None:
    assert _PLAIN_FROM.fullmatch(value) is not None
    assert author_domain(_raw(value)) == parsed_author(value) == AuthorDomain(domain, "")


@pytest.mark.parametrize("value", [
    ' "Smith, Alice" <alice@example.co.uk>', " Alice <alice@example.co.uk> (work)",
    " alice@example.co.uk, carol@example.co.uk", " undisclosed-recipients:;",
    " Alice <alice@[192.0.2.1]>", " Ålice <alice@example.co.uk>", " alice@bücher.example",
    " Alice <alice@localhost>", " Alice. <alice@example.co.uk>", " <alice@example.co.uk",
])
def test_every_other_shape_goes_to_headerregistry(value: str) -> None:
    assert _PLAIN_FROM.fullmatch(value) is None
    assert author_domain(_raw(value)) == parsed_author(value)


@pytest.mark.dev_corpus
def test_real_from_headers_read_the_same_either_way() -> None:
    values = []
    for path in sorted(CORPUS.glob("*.eml")):
        headers, _ = dkim.rfc822_parse(path.read_bytes())
        values += [v.decode("utf-8", "replace").replace("\r", "").replace("\n", "")
                   for n, v in headers if n.lower() == b"from"]
    assert len(values) >= 300
    quick = [v for v in values if _PLAIN_FROM.fullmatch(v)]
    assert len(quick) > len(values) // 2  # the quick reading is the common case
    for v in values:
        assert author_domain(_raw(v)) == parsed_author(v), v


@pytest.mark.parametrize("value", [
    " " + "a " * 50_000,                    # headerregistry: 29 s of CPU
    " a@" + "b." * 50_000,                  # 27 s
    " Alice <alice@example.co.uk>" + " " * 3_000,
])
def test_a_from_longer_than_the_bound_is_not_read_and_not_signed(value: str) -> None:
    got = author_domain(_raw(value))
    assert got.domain is None
    assert f"more than {MAX_FROM_CHARS:,} are not read" in got.reason


def test_a_from_at_the_bound_is_still_read() -> None:
    value = " " + "A" * (MAX_FROM_CHARS - 23) + " <alice@example.co.uk>"
    assert len(value) == MAX_FROM_CHARS
    assert author_domain(_raw(value)) == AuthorDomain("example.co.uk", "")


# author_domain parses only the header part of the message (header_part): rfc822_parse must
# find exactly the headers it finds in the whole message, and fail exactly when it fails.
_LINE = st.one_of(
    st.sampled_from([b"", b"From: a@b.example", b"Subject: x", b"\tfolded", b" more", b"From x",
                     b"not a header", b"X:", b"\r", b"a\rb: c"]),
    st.binary(max_size=12))
_ENDING = st.sampled_from([b"\n", b"\r\n", b"\r\r\n"])


def _parse(raw: bytes) -> object:
    try:
        return dkim.rfc822_parse(raw)[0]
    except (dkim.MessageFormatError, IndexError) as exc:  # a first line that is a continuation
        return (type(exc), str(exc))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.tuples(_LINE, _ENDING), max_size=12), st.booleans())
def test_the_header_part_parses_to_the_same_headers_as_the_whole(lines, end_without_newline) -> None:
    raw = b"".join(line + end for line, end in lines)
    if end_without_newline and lines:
        raw = raw[:-1]
    assert _parse(header_part(raw)) == _parse(raw)


@pytest.mark.parametrize("raw, part", [
    (b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n\r\nmore", b"From: a@b.example\r\nSubject: x\r\n"),
    (b"From: a@b.example\n\nbody", b"From: a@b.example\n"),
    (b"From: a@b.example\r\n", b"From: a@b.example\r\n"),   # no empty line: all of it
    (b"\r\nFrom: a@b.example\r\n", b""),                    # empty first line: no headers
])
def test_header_part_ends_at_the_first_empty_line(raw: bytes, part: bytes) -> None:
    assert header_part(raw) == part
