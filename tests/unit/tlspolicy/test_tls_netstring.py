"""Netstring codec: recorded traffic replayed in reads of 4096, 128, 16 and 1 bytes."""

from __future__ import annotations

import pytest

from privacy_milter.tlspolicy.netstring import NetstringDecoder, NetstringError, encode

READ_SIZES = [4096, 128, 16, 1]


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def replay(stream: bytes, size: int, max_length: int = 65536) -> list[bytes]:
    decoder = NetstringDecoder(max_length)
    out: list[bytes] = []
    for piece in chunks(stream, size):
        out.extend(decoder.feed(piece))
    assert not decoder.pending
    return out


def payload(netstring: bytes) -> bytes:
    return netstring.partition(b":")[2][:-1]


@pytest.mark.parametrize("size", READ_SIZES)
def test_tls_requests_replayed_in_any_fragmentation(transcript: list[tuple[bytes, bytes]], size: int) -> None:
    stream = b"".join(req for req, _ in transcript)
    assert replay(stream, size) == [payload(req) for req, _ in transcript]


@pytest.mark.parametrize("size", READ_SIZES)
def test_tls_responses_replayed_in_any_fragmentation(transcript: list[tuple[bytes, bytes]], size: int) -> None:
    stream = b"".join(resp for _, resp in transcript)
    assert replay(stream, size) == [payload(resp) for _, resp in transcript]


def test_tls_encode_matches_recording(transcript: list[tuple[bytes, bytes]]) -> None:
    for req, resp in transcript:
        assert encode(payload(req)) == req
        assert encode(payload(resp)) == resp


def test_tls_empty_and_binary_payloads() -> None:
    stream = encode(b"") + encode(b"\x00,:\xff") + encode(b"")
    for size in READ_SIZES:
        assert replay(stream, size) == [b"", b"\x00,:\xff", b""]


def test_tls_partial_input_is_pending_not_an_error() -> None:
    decoder = NetstringDecoder()
    assert decoder.feed(b"12:hello") == []
    assert decoder.pending
    assert decoder.feed(b" world!,5:") == [b"hello world!"]
    assert decoder.pending
    assert decoder.feed(b"abcde,") == [b"abcde"]
    assert not decoder.pending


@pytest.mark.parametrize("bad", [
    b"abc:xyz,",  # not a number
    b":abc,",  # no length
    b"3:abcd,",  # wrong terminator
    b"-1:a,",  # sign
    b"01:a,",  # leading zero
    b" 1:a,",  # leading space
    b"3;abc,",  # wrong separator
    b"1:a;",  # wrong terminator after a good start
])
@pytest.mark.parametrize("size", READ_SIZES)
def test_tls_malformed_input_raises(bad: bytes, size: int) -> None:
    decoder = NetstringDecoder(1024)
    with pytest.raises(NetstringError):
        for piece in chunks(bad, size):
            decoder.feed(piece)


def test_tls_length_limit_is_checked_before_buffering() -> None:
    decoder = NetstringDecoder(100)
    with pytest.raises(NetstringError, match="exceeds the limit"):
        decoder.feed(b"101:")
    decoder = NetstringDecoder(100)
    with pytest.raises(NetstringError, match="longer than"):
        decoder.feed(b"1000")  # four digits cannot be <= 100
    decoder = NetstringDecoder(100)
    assert decoder.feed(encode(b"x" * 100)) == [b"x" * 100]


def test_tls_decoder_stays_broken_after_an_error() -> None:
    decoder = NetstringDecoder()
    with pytest.raises(NetstringError):
        decoder.feed(b"x")
    with pytest.raises(NetstringError):
        decoder.feed(encode(b"fine"))


def test_tls_byte_at_a_time_of_many_requests_is_bounded() -> None:
    stream = b"".join(encode(f"tlspolicy d{i}.example".encode()) for i in range(200))
    assert len(replay(stream, 1)) == 200


@pytest.mark.parametrize("seed", range(20))
def test_tls_random_bytes_only_ever_raise_netstring_error(seed: int) -> None:
    import random
    rng = random.Random(seed)
    alphabet = b"0123456789:,ab \x00"
    for _ in range(50):
        stream = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 64)))
        decoder = NetstringDecoder(32)
        try:
            for piece in chunks(stream, rng.choice(READ_SIZES)):
                for out in decoder.feed(piece):
                    assert len(out) <= 32
        except NetstringError:
            pass
