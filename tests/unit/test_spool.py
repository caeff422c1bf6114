"""RawReader: header block + body spool as one file, in memory and on disk, without copies."""

import os

import pytest

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
