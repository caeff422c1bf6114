"""Property-based fuzzing (hypothesis) of what reads untrusted bytes: the MIME walk and
extractors (through dlp.scan), the netstring codec, and the policy reader.

The CI run is bounded (FUZZ_EXAMPLES, default 120 examples per property); bench/fuzz_long.py
runs the same properties with many more. A crash hypothesis finds is shrunk to a minimal
input: add it below as an @example so it stays a regression test.
"""

from __future__ import annotations

import base64
import io
import os
import time
import tomllib
import zipfile

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from privacy_filters.dlp import Limits, scan
from privacy_milter import policy as policy_mod
from privacy_milter.errors import PolicyError
from privacy_milter.tlspolicy.netstring import NetstringDecoder, NetstringError, encode

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CARD = "4539 1488 0343 6467"
# docs/ARCHITECTURE.md, Failure behaviour: the reasons a part can be unscannable.
UNSCANNABLE_REASONS = {"too_large", "too_deep", "encrypted", "unsupported", "time", "budget", "malformed"}
SCAN_BOUND = 3.0  # seconds: max_scan_seconds below, plus slack for a loaded CI machine

# --- the MIME walk and the extractors ---------------------------------------------------

header_names = st.sampled_from(["Subject", "From", "To", "Content-Type", "Content-Transfer-Encoding",
                                "Content-Disposition", "MIME-Version", "X-Junk"])
header_values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["multipart/mixed; boundary=b", "multipart/alternative; boundary=\"b\"", "text/html",
                     "text/plain; charset=utf-16", "text/plain; charset=klingon", "application/zip",
                     "application/pdf", "message/rfc822", "base64", "quoted-printable", "7bit",
                     "attachment; filename=x.docx", "=?utf-8?b?" + base64.b64encode(b"hi").decode() + "?="]))
bodies = st.one_of(st.binary(max_size=4000), st.text(max_size=4000).map(lambda t: t.encode("utf-8", "replace")),
                   st.lists(st.sampled_from([b"--b\r\n", b"--b--\r\n", b"Content-Type: text/plain\r\n\r\n",
                                             b"<html><title>", b"=3D=\r\n", b"UEsDBA==\r\n", CARD.encode(),
                                             b"\r\n", b"\x00\xff"]), max_size=60).map(b"".join))


def message_bytes(headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


@FUZZ
@given(st.lists(st.tuples(header_names, header_values), max_size=8), bodies)
@example([("Content-Type", "multipart/mixed; boundary=b")], b"--b\r\n--b\r\n--b--")
def test_any_message_gets_a_report_within_the_bound(headers, body):
    raw = message_bytes(headers, body)
    started = time.monotonic()
    report = scan(raw, Limits(max_scan_seconds=1.0))
    assert time.monotonic() - started < SCAN_BOUND
    # Every part counted unscannable says why, with a reason from the documented set, and
    # the report never carries the found value (the card may sit anywhere in the input).
    reasons = set(report.unscannable_reasons)
    assert (report.unscannable > 0) == bool(reasons) and reasons <= UNSCANNABLE_REASONS
    assert list(report.unscannable_reasons) == sorted(reasons)
    assert all(f.count >= 1 for f in report.findings)
    assert CARD not in repr(report) and CARD.replace(" ", "") not in repr(report)


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from(["application/zip", "application/pdf",
                                                   "application/vnd.openxmlformats-officedocument."
                                                   "wordprocessingml.document", "application/rtf",
                                                   "text/html", "application/octet-stream"]))
def test_any_attachment_bytes_are_read_or_counted_unscannable(data, ctype):
    raw = (b"Subject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
           + f"Content-Type: {ctype}\r\nContent-Disposition: attachment; filename=f.bin\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n".encode()
           + base64.encodebytes(data) + b"--b--\r\n")
    started = time.monotonic()
    scan(raw, Limits(max_scan_seconds=1.0))
    assert time.monotonic() - started < SCAN_BOUND


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["a.txt", "b/c.csv", "d.xml"]), st.binary(max_size=300)), max_size=3,
                unique_by=lambda m: m[0]),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_a_card_in_a_zipped_text_file_is_found_whatever_else_the_zip_holds(members, noise):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr("noise/" + name, data)
        zf.writestr("payment.txt", f"{noise}\n\nPlease charge my card {CARD}, expiry 09/27.\n")
    raw = (b"Subject: order\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nattached\r\n--b\r\nContent-Type: application/zip\r\n"
           b"Content-Disposition: attachment; filename=order.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(buf.getvalue()) + b"--b--\r\n")
    assert "payment_card" in {f.category for f in scan(raw).findings}


# --- the netstring codec ----------------------------------------------------------------

@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=10), st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_netstrings_decode_the_same_however_the_stream_is_cut(payloads, cuts):
    stream = b"".join(encode(p) for p in payloads)
    decoder, got, pos, i = NetstringDecoder(), [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        got += decoder.feed(stream[pos:pos + step])
        pos, i = pos + step, i + 1
    assert got == payloads and not decoder.pending


@FUZZ
@given(st.binary(max_size=500))
@example(b"99999999999999999999:")
@example(b"0:,00:,")
def test_garbage_on_the_socketmap_only_ever_raises_a_netstring_error(data):
    decoder = NetstringDecoder(max_length=10_000)
    try:
        for k in range(0, len(data), 7):
            decoder.feed(data[k:k + 7])
    except NetstringError:
        pass


# --- the policy reader ------------------------------------------------------------------

toml_scalars = st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, width=32),
                         st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3))
known_sections = st.sampled_from(["milter", "log", "store", "network", "pipeline", "filters.dlp", "filters.tls",
                                  "filters.virus", "filters.spam", "tls_policy", "metrics", "customers.\"a.example\"",
                                  "nonsense"])
known_keys = st.sampled_from(["socket", "timeout", "deadline", "level", "path", "retention_days", "filters",
                              "hosted_domains", "on_error", "action", "address", "listen", "spam", "max_scan_seconds",
                              "mode", "backend", "pins", "x"])


def toml_text(sections: list[tuple[str, list[tuple[str, object]]]]) -> str:
    lines = []
    for section, items in sections:
        lines.append(f"[{section}]")
        for key, value in items:
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


@FUZZ
@given(st.lists(st.tuples(known_sections, st.lists(st.tuples(known_keys, toml_scalars), max_size=4)),
                max_size=5, unique_by=lambda s: s[0]))
def test_any_policy_is_either_a_policy_or_a_list_of_problems(sections):
    text = toml_text(sections)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # not TOML at all (a key given twice): the reader says so, tested elsewhere
    try:
        p = policy_mod.parse(text)
    except PolicyError as exc:
        assert exc.problems and all(isinstance(line, str) and line for line in exc.problems)
    else:
        assert p.filters and p.settings("dlp").timeout > 0


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_policy_never_raises_anything_but_a_policy_error(text):
    try:
        policy_mod.parse(text)
    except PolicyError:
        pass
