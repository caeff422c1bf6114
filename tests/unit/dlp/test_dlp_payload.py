"""mime.payload_text gives what Message.get_payload() gives a leaf part: the stored text when
it is ASCII, the stdlib's own reading otherwise (8-bit bytes kept as surrogates)."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from privacy_filters.dlp.fastmime import fast_parse
from privacy_filters.dlp.limits import Limits
from privacy_filters.dlp.mime import Budget, payload_text

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "dlp-dev"


def leaves(msg: Message) -> list[Message]:
    return [part for part in msg.walk() if not part.is_multipart()]


@pytest.mark.dev_corpus
def test_corpus_leaves_both_parsers() -> None:
    checked = 0
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        fast = fast_parse(raw, Budget(Limits()))
        for msg in (message_from_bytes(raw, policy=compat32), fast):
            for part in leaves(msg) if msg is not None else ():
                assert payload_text(part) == part.get_payload()
                checked += 1
    assert checked > 1000


BODY = st.lists(st.sampled_from([b"abc", b"\r\n", b"\xe9", b"\xc3\xa9", b"=E9", b"caf", b" ", b"\x00", b"\xff\xfe"]),
                max_size=12).map(b"".join)
HEAD = st.sampled_from([b"", b"Content-Type: text/plain; charset=latin-1\n", b"Content-Type: text/plain; charset=utf-8\n",
                        b"Content-Type: text/plain; charset=nonesuch\n", b"Content-Transfer-Encoding: 8bit\n",
                        b"Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n"])


@settings(max_examples=300, deadline=None)
@given(HEAD, BODY)
def test_any_body_bytes(head: bytes, body: bytes) -> None:
    msg = message_from_bytes(b"Subject: x\n" + head + b"\n" + body, policy=compat32)
    assert payload_text(msg) == msg.get_payload()
