"""RawReader: header block + body spool as one file, in memory and on disk, without copies."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy_milter.model import Message, Session
from privacy_milter.spool import SPOOL_MAX_MEMORY


@pytest.mark.parametrize("size", [0, 10, SPOOL_MAX_MEMORY + 12345])  # the last rolls over to disk
def test_raw_is_headers_then_body_and_each_reader_is_independent(size):
    body = os.urandom(size)
    m = Message(Session("c"), raw_headers=True)
    m.headers = [("From", " a@shop.example"), ("Subject", " x")]
    for i in range(0, len(body), 7000):
        m.write_body(body[i:i + 7000])
    expected = b"From: a@shop.example\r\nSubject: x\r\n\r\n" + body
    one, two = m.raw(), m.raw()
    assert one.read(5) == expected[:5]
    assert two.read() == expected           # a second reader starts at 0
    assert one.read() == expected[5:]       # the first kept its own position
    one.seek(len(expected) - 3)
    assert one.read() == expected[-3:]
    one.close()
    two.close()
    m.write_body(b"more")  # readers closed: the spool is writable again
    assert m.raw().read() == expected + b"more"
    m.close()


def test_headers_built_without_raw_values_get_one_space():
    m = Message(Session("c"))
    m.headers = [("From", "a@shop.example")]
    m.write_body(b"hi\r\n")
    assert m.raw().read() == b"From: a@shop.example\r\n\r\nhi\r\n"
    assert m.header("from") == "a@shop.example"


def test_from_bytes_keeps_header_values_exactly():
    raw = b"Subject:  two\r\n\tfolded\r\nX:y\r\n\r\nbody"
    m = Message.from_bytes(raw, Session("c"))
    assert m.headers == [("Subject", "  two\n\tfolded"), ("X", "y")]
    assert m.header("Subject") == "two\n\tfolded"
    assert m.header_block() == b"Subject:  two\r\n\tfolded\r\nX:y\r\n\r\n"



_PIECES = [b"A: v", b"B:", b" fold", b"\tfold", b"caf\xc3\xa9", b"\xe2\x82", b"\xff", b"\xc3", b"\xf0\x9f",
           b":", b"\r", b"\n", b"\r\n", b" "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=16))
def test_a_header_block_decoded_whole_is_its_lines_decoded_alone(pieces):
    # from_bytes decodes the block once: this is what makes it the same as line by line.
    block = b"".join(pieces)
    alone = [line.decode("utf-8", "surrogateescape") for line in block.replace(b"\r\n", b"\n").split(b"\n")]
    assert block.decode("utf-8", "surrogateescape").replace("\r\n", "\n").split("\n") == alone


def test_from_bytes_keeps_invalid_bytes_before_a_line_break():
    raw = b"Subject: caf\xe2\x82\r\n \xc3\xa9t\xc3\r\nX: \xff\r\n\r\nbody"
    assert Message.from_bytes(raw, Session("c")).headers == [
        ("Subject", " caf\udce2\udc82\n \xe9t\udcc3"), ("X", " \udcff")]
    assert Message.from_bytes(raw, Session("c")).header_block() == raw[:-4]
