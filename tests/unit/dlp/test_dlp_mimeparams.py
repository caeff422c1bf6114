"""mimeparams gives what email.message.Message gives, for every header (it hands the unusual
ones to the stdlib itself): content type, charset and boundary, and a header as str(msg.get(name, "")) gives it."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from privacy_filters.dlp import mimeparams

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "dlp-dev"

VALUES = [
    "text/plain", "TEXT/HTML; CHARSET=UTF-8", 'text/plain; charset="utf-8"', "text/plain;charset=us-ascii",
    'multipart/mixed; boundary="----=_Part_1_2.3"', "multipart/alternative; boundary=abc ",
    'multipart/mixed; boundary="  spaced  "', "multipart/mixed; boundary=<angle>", 'multipart/mixed; boundary=""',
    'multipart/mixed; boundary="a;b"; charset=x', "text/plain; charset", "text/plain; charset=", "text/plain;;charset=a",
    "text/plain; charset=a; charset=b", "charset=first; text/plain", " ; charset=x", "", "   ", "text", "a/b/c",
    'text/plain; name="a\\"b"; charset=x', "text/plain; charset*=utf-8''x", "text/plain; charset*0=ab",
    'text/plain; charset="<x>"', 'text/plain; charset="""', 'text/plain; charset="a"b"', "text/plain; Charset = Latin1 ",
    "text/plain; chärset=x", "text/plain; charset=\udce9", 'multipart/mixed; boundary="\\"', "text/plain; format=flowed",
    'text/plain; x="q;r"; charset=s', 'text/plain; x="unclosed; charset=t', "multipart/mixed; BOUNDARY=Up",
]


def message(value: str | None, name: str = "Content-Type") -> Message:
    msg = Message(policy=compat32)
    if value is not None:
        msg.set_raw(name, value)
    return msg


def outcome(call):  # the value, or the type of what it raised (the stdlib raises on some text)
    try:
        return call()
    except Exception as exc:  # noqa: BLE001
        return type(exc)


def assert_same(msg: Message) -> None:
    for ours, theirs in ((mimeparams.content_type, Message.get_content_type),
                         (mimeparams.content_charset, Message.get_content_charset),
                         (mimeparams.boundary, Message.get_boundary)):
        assert outcome(lambda: ours(msg)) == outcome(lambda: theirs(msg)), (ours.__name__, msg.items())
    for name in ("content-type", "content-disposition", "content-transfer-encoding"):
        assert outcome(lambda: mimeparams.header_str(msg, name)) == outcome(lambda: str(msg.get(name, ""))), \
            (name, msg._headers)


def test_listed_values() -> None:
    for value in VALUES:
        assert_same(message(value))
    assert_same(message(None))
    assert_same(message("text/html; charset=x", name="content-TYPE"))
    two = message("text/html; charset=one")
    two.set_raw("Content-Type", "text/plain; charset=two")
    assert_same(two)


def test_default_type_inside_a_digest() -> None:
    msg = message(None)
    msg.set_default_type("message/rfc822")
    assert_same(msg)


PIECES = list('ab/;= "\\*<>\t,éxC') + ["charset", "boundary", "text/plain", "multipart/mixed", "\udce9"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=24))
def test_any_value(pieces: list[str]) -> None:
    assert_same(message("".join(pieces)))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Content-Disposition", "content-transfer-encoding", "CONTENT-TYPE", "Subject"]),
       st.lists(st.sampled_from(PIECES + ["attachment", "base64", "filename="]), max_size=16))
def test_any_header_as_text(name: str, pieces: list[str]) -> None:
    msg = message("".join(pieces), name=name)
    msg.set_raw(name.upper(), "second")  # the first header of a name is the one read
    assert_same(msg)


@pytest.mark.dev_corpus
def test_every_part_of_the_dev_corpus() -> None:
    files = sorted(CORPUS.glob("*.eml"))
    for path in files:
        for part in message_from_bytes(path.read_bytes(), policy=compat32).walk():
            assert_same(part)
