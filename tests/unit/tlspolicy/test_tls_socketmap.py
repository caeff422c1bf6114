"""Socketmap requests and responses, on top of the recorded netstring traffic."""

from __future__ import annotations

import pytest

from privacy_milter.tlspolicy.netstring import NetstringDecoder
from privacy_milter.tlspolicy.socketmap import (
    Request,
    Response,
    SocketmapError,
    Status,
    parse_request,
    parse_response,
)

EXPECTED_REQUESTS = [
    Request("tlspolicy", "example.com"),
    Request("tlspolicy", "mail.example.org"),
    Request("tlspolicy", ".example.org"),
    Request("tlspolicy", "[smtp.relay.example]:587"),
    Request("tlspolicy", "xn--bcher-kva.de"),
    Request("othermap", "some.key"),
]
EXPECTED_RESPONSES = [
    Response(Status.OK, "dane-only"),
    Response(Status.OK, "secure match=mx1.example.org:.mail.example.org"),
    Response(Status.NOTFOUND, ""),
    Response(Status.OK, "encrypt"),
    Response(Status.TEMP, "TLS policy lookup failed for a destination that has one; try later"),
    Response(Status.PERM, "unknown map name; this service answers 'tlspolicy'"),
]


@pytest.mark.parametrize("size", [4096, 128, 16, 1])
def test_tls_recorded_session_parses(transcript: list[tuple[bytes, bytes]], size: int) -> None:
    requests = b"".join(r for r, _ in transcript)
    responses = b"".join(r for _, r in transcript)
    req_dec, resp_dec = NetstringDecoder(), NetstringDecoder()
    got_req: list[Request] = []
    got_resp: list[Response] = []
    for i in range(0, max(len(requests), len(responses)), size):
        got_req += [parse_request(p) for p in req_dec.feed(requests[i:i + size])]
        got_resp += [parse_response(p) for p in resp_dec.feed(responses[i:i + size])]
    assert got_req == EXPECTED_REQUESTS
    assert got_resp == EXPECTED_RESPONSES


def test_tls_responses_encode_like_the_recording(transcript: list[tuple[bytes, bytes]]) -> None:
    for (_, raw), response in zip(transcript, EXPECTED_RESPONSES):
        assert raw.partition(b":")[2][:-1] == response.encode()


def test_tls_notfound_has_the_trailing_space() -> None:
    assert Response.notfound().encode() == b"NOTFOUND "
    assert Response.ok("encrypt").encode() == b"OK encrypt"
    assert Response.temp("x").encode() == b"TEMP x"
    assert Response.perm("y").encode() == b"PERM y"


def test_tls_control_characters_never_reach_postfix() -> None:
    assert Response.temp("bad\nline\r\x00").encode() == b"TEMP bad?line??"


@pytest.mark.parametrize("bad", [
    b"", b"tlspolicy", b" example.com", b"tlspolicy ", b"tlspolicy two words",
    b"tlspolicy tab\there", b"tlspolicy \xff\xfe", b"tlspolicy new\nline",
])
def test_tls_malformed_requests(bad: bytes) -> None:
    with pytest.raises(SocketmapError):
        parse_request(bad)


def test_tls_unicode_key_is_accepted() -> None:
    assert parse_request("tlspolicy bücher.de".encode()) == Request("tlspolicy", "bücher.de")


def test_tls_unknown_status_is_an_error() -> None:
    with pytest.raises(SocketmapError):
        parse_response(b"MAYBE later")
