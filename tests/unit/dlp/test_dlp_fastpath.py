"""Issue 11: the lazy MIME pass (fastmime) gives the detectors exactly what the stdlib parser
gives them. Every corpus and hostile input is scanned twice, fast pass on and off, and the
Reports (findings, confidences, counts, rules, unscannable reasons) must be equal; the shapes
the fast pass handles must give the same message tree, and the shapes it leaves alone must
go to the stdlib parser. Every secret here is synthetic."""

from __future__ import annotations

import sys
import time
from email.message import Message
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy_filters.dlp import Limits, mime, scan
from privacy_filters.dlp.fastmime import MAX_NESTING, fast_parse

from dlp_helpers import categories, luhn_complete, message

ROOT = Path(__file__).resolve().parents[3]
DEV = ROOT.parent / "shared" / "corpus" / "dlp-dev"
CARD = luhn_complete("453914880343646", 16)


def _tree(msg: Message) -> tuple:
    payload = msg._payload  # type: ignore[attr-defined]
    return (tuple(msg._headers), msg.get_default_type(),  # type: ignore[attr-defined]
            [_tree(p) for p in payload] if isinstance(payload, list) else payload)


def _budget() -> mime.Budget:
    return mime.Budget(Limits(), deadline=time.monotonic() + 60)


def both(raw: bytes, monkeypatch: pytest.MonkeyPatch, **kw: object) -> tuple[object, object]:
    monkeypatch.setattr(mime, "FAST_PARSE", True)
    fast = scan(raw, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(mime, "FAST_PARSE", False)
    slow = scan(raw, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(mime, "FAST_PARSE", True)
    return fast, slow


def _check_corpus(files: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    taken = 0
    flagged = 0
    for path in files:
        raw = path.read_bytes()
        fast_tree = fast_parse(raw, _budget())
        if fast_tree is not None:
            taken += 1
            assert _tree(fast_tree) == _tree(mime.parse(raw, _budget())), path.name
        fast, slow = both(raw, monkeypatch)
        assert fast == slow, path.name
        flagged += bool(fast.findings)  # type: ignore[attr-defined]
    # The comparison means something only if the fast pass read the messages and the
    # detectors found things in them.
    assert taken >= 0.95 * len(files) and flagged >= 0.2 * len(files)


@pytest.mark.skipif(not DEV.is_dir(), reason=f"{DEV} absent")
def test_dev_corpus_reports_are_identical(monkeypatch):
    files = sorted(DEV.glob("*.eml"))
    assert files
    _check_corpus(files, monkeypatch)


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    sys.path.insert(0, str(ROOT))
    try:
        from bench.heldout_dlp import generate
    finally:
        sys.path.remove(str(ROOT))
    out = {}
    for suite, seed in (("base", 7), ("shapes", 1212)):
        where = tmp_path_factory.mktemp(f"heldout-{suite}")
        generate(where, 1500, seed, suite)
        out[suite] = sorted(where.glob("*.eml"))
    return out


@pytest.mark.parametrize("suite", ["base", "shapes"])
def test_heldout_reports_are_identical(heldout, suite, monkeypatch):
    _check_corpus(heldout[suite], monkeypatch)


# --- the hostile inputs (tests/harness/hostile.py, shared with test_dlp_bounds) -----------------

def _hostile() -> dict[str, tuple[bytes, dict]]:
    from tests.harness import hostile as b

    later = {"deadline": time.monotonic() + 60}
    return {
        "html_unclosed_2mb": (message("see html", html=b.html_unclosed(2_000_000)), {}),
        "html_unclosed_12mb_deadline": (message("see html", html=b.html_unclosed(12_000_000)),
                                        {"limits": Limits(max_scan_seconds=0.3)}),
        # characters NFKC rewrites, so normalising takes time (test_dlp_bounds.py)
        "non_ascii_deadline": (message("\ufb01\u00e9\u00a0\u00bd" * 2_000_000),
                               {"limits": Limits(max_scan_seconds=0.3)}),
        "card_decoys": (message(b.decoys(400) + f"\ncard number {CARD} exp 12/29\n"), {}),
        "password_decoys": (message("password: ********\n" * 400 + "password: Tr0ub4dor&3xq\n"),
                            {}),
        "candidate_budget": (message(b.decoys(3000) + f"\ncard number {CARD} exp 12/29\n"),
                             {"limits": Limits(max_candidates=1000)}),
        "pdf_shared_stream": (b.pdf_message(b.shared_stream_pdf(200, 2000)), later),
        "pdf_deadline": (message(f"card number {CARD} exp 12/29", attachments=[(
            b.shared_stream_pdf(1, 60_000, card="0"), "application", "pdf", "r.pdf")]),
            {"limits": Limits(max_scan_seconds=0.5)}),
        **{f"nested_{k}": (b.nested_message(k), {}) for k in b.NESTED},
    }


@pytest.fixture(scope="module", autouse=True)
def _stop_pdf_workers():
    yield
    from privacy_filters.dlp.pdftext import stop_workers

    stop_workers()


def test_hostile_inputs_give_identical_reports(monkeypatch):
    for name, (raw, kw) in _hostile().items():
        assert fast_parse(raw, _budget()) is not None, name  # the fast pass read it
        fast, slow = both(raw, monkeypatch, **kw)
        if name.endswith("deadline"):
            # Cut by the clock: how many steps fit before it is a matter of speed, so the
            # counts may differ, and so may the limits reached before the cut (a size check
            # the faster parse reaches before 0.3 s: 'too_large' beside 'time'). What was
            # found must not differ, both must say 'time', and every other reason either
            # gives must be one the scan gives when the clock does not cut it.
            assert fast.findings == slow.findings, name  # type: ignore[attr-defined]
            assert "time" in fast.unscannable_reasons, name  # type: ignore[attr-defined]
            assert "time" in slow.unscannable_reasons, name  # type: ignore[attr-defined]
            if fast.unscannable_reasons != slow.unscannable_reasons:  # type: ignore[attr-defined]
                uncut = scan(raw, limits=Limits(max_scan_seconds=60))
                allowed = {"time", *uncut.unscannable_reasons}
                assert {*fast.unscannable_reasons, *slow.unscannable_reasons} <= allowed, name  # type: ignore[attr-defined]
        else:
            assert fast == slow, name


# --- shapes, one by one -------------------------------------------------------------------

HEAD = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
MULTI = HEAD + b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
TEXT = b"Content-Type: text/plain; charset=utf-8\r\n\r\ncard number " + CARD.encode() + \
    b" exp 12/29\r\n"

HANDLED = {
    "single_part": HEAD + b"\r\ncard number " + CARD.encode() + b"\r\n",
    "headers_only": HEAD,
    "lf_only": (MULTI + b"preamble\r\n--b1\r\n" + TEXT + b"--b1--\r\nepilogue\r\n").replace(
        b"\r\n", b"\n"),
    "cr_only": (MULTI + b"--b1\r\n" + TEXT + b"--b1--\r\n").replace(b"\r\n", b"\r"),
    "mixed_endings": MULTI + b"--b1\n" + TEXT.replace(b"\r\n", b"\r") + b"--b1--",
    "boundary_whitespace": MULTI + b"--b1 \t\r\n" + TEXT + b"--b1-- \r\n",
    "boundary_lookalikes": MULTI + b"--b1\r\n" + TEXT + b"--b1x\r\n x--b1\r\n--b1--x\r\n"
    + b"--b1\r\nContent-Type: text/html\r\n\r\n<p>IBAN GB82 WEST 1234 5698 7654 32</p>\r\n"
    b"--b1--\r\n",
    "part_without_headers": MULTI + b"--b1\r\n\r\nsort code 20-00-00 account 12345678\r\n"
    b"--b1--\r\n",
    "folded_headers": HEAD.replace(b"Subject:", b"Subject:\r\n\t") + b"Content-Type: text/plain;"
    b"\r\n charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"password: Tr0ub4dor&3=\r\nxq\r\n",
    "nested_with_rfc822": MULTI + b"--b1\r\nContent-Type: multipart/alternative; boundary=b2"
    b"\r\n\r\n--b2\r\n" + TEXT + b"--b2\r\nContent-Type: text/html\r\n\r\n<b>hi</b>\r\n"
    b"--b2--\r\n\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n" + HEAD + b"\r\n"
    b"password: Tr0ub4dor&3xq\r\n--b1--\r\n",
    "base64_attachment": MULTI + b"--b1\r\nContent-Type: text/csv; name=\"a.csv\"\r\n"
    b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.csv"
    b"\r\n\r\n" + b"\r\n".join(__import__("base64").encodebytes(
        f"name,card\r\nx,{CARD}\r\n".encode() * 50).split(b"\n")) + b"\r\n--b1--\r\n",
    "eight_bit": HEAD + b"Content-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9 " +
    CARD.encode() + b"\r\n",
}

FALLBACK = {
    "no_close_delimiter": MULTI + b"--b1\r\n" + TEXT,
    "no_boundary_param": MULTI.replace(b'; boundary="b1"', b"") + b"--b1\r\n" + TEXT,
    "no_start_boundary": MULTI + b"just text\r\n--b1--\r\n",
    "unix_from": b"From a@example.org Mon Jan  1 00:00:00 2024\r\n" + HEAD + b"\r\nhi\r\n",
    "no_blank_line": HEAD + b"this is body text\r\n",
    "first_line_continuation": b" folded\r\n" + HEAD + b"\r\nhi\r\n",
    "double_boundary": MULTI + b"--b1\r\n--b1\r\n" + TEXT + b"--b1--\r\n",
    "digest": MULTI.replace(b"multipart/mixed", b"multipart/digest") + b"--b1\r\n" + TEXT
    + b"--b1--\r\n",
    "base64_rfc822": MULTI + b"--b1\r\nContent-Type: message/rfc822\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n" + __import__("base64").encodebytes(
        HEAD + b"\r\n" + TEXT) + b"--b1--\r\n",
    "delivery_status": MULTI + b"--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; x\r\n\r\nStatus: 5.0.0\r\n--b1--\r\n",
    "too_deep": HEAD + b"".join(b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n"
                                % (i, i) for i in range(MAX_NESTING + 2)) + TEXT,
}


@pytest.mark.parametrize("name", sorted(HANDLED))
def test_handled_shapes_give_the_stdlib_tree(name, monkeypatch):
    raw = HANDLED[name]
    tree = fast_parse(raw, _budget())
    assert tree is not None
    assert _tree(tree) == _tree(mime.parse(raw, _budget()))
    fast, slow = both(raw, monkeypatch)
    assert fast == slow


def test_handled_shapes_are_scanned():
    assert categories(scan(HANDLED["base64_attachment"])) == {"payment_card"}
    assert "password" in categories(scan(HANDLED["nested_with_rfc822"]))
    assert "iban" in categories(scan(HANDLED["boundary_lookalikes"]))


@pytest.mark.parametrize("name", sorted(FALLBACK))
def test_unusual_shapes_go_to_the_stdlib_parser(name, monkeypatch):
    raw = FALLBACK[name]
    assert fast_parse(raw, _budget()) is None
    fast, slow = both(raw, monkeypatch)
    assert fast == slow


def test_the_fast_pass_keeps_the_deadline():
    many = MULTI + b"".join(b"--b1\r\n" + TEXT for _ in range(2000)) + b"--b1--\r\n"
    budget = mime.Budget(Limits(), deadline=time.monotonic() - 1)
    with pytest.raises(mime.ScanStopped):
        fast_parse(many, budget)
    report = scan(many, deadline=time.monotonic() - 1)
    assert report.unscannable_reasons == ("time",)


# --- header blocks against the stdlib parser ----------------------------------------------

_ENDINGS = st.sampled_from(["\r\n", "\n", "\r", "\r\r\n", ""])
_HEADER_LINE = st.one_of(
    st.sampled_from(["Subject: hi", "Subject:", "X-A:\t \tv ", "x:y:z", "Content-Type: text/plain",
                     "Content-Type: text/plain;", "A-B:  caf\udce9", "Key:value", "K :v", "K\x7f: v",
                     "From: a@b", "From a@b Mon", "no colon here", " folded", "\tfolded", " ",
                     "\t", "", "Name\x01: v", "~!#$%&'*+-./0123456789;<=>?@[]^_`{|}~: v"]),
    st.text(alphabet=st.sampled_from("aZ: \t-;=\"\udce9\x0b"), max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_HEADER_LINE, _ENDINGS), max_size=10), st.sampled_from(["", "body\r\n"]))
def test_any_header_block_gives_the_stdlib_headers(lines, body):
    raw = "".join(line + ending for line, ending in lines).encode("ascii", "surrogateescape") + \
        body.encode()
    tree = fast_parse(raw, _budget())
    if tree is not None:
        assert _tree(tree) == _tree(mime.parse(raw, _budget()))


def test_plain_header_blocks_take_the_fast_pass():
    for ending in ("\r\n", "\n", "\r"):
        raw = ending.join(["From: a@example.org", "Subject: one", " two", "\tthree", "X-E:", "",
                           "body"]).encode()
        tree = fast_parse(raw, _budget())
        assert tree is not None, repr(ending)
        assert tree._headers == [  # type: ignore[attr-defined]
            ("From", "a@example.org"), ("Subject", f"one{ending} two{ending}\tthree"), ("X-E", "")]
        assert tree.get_payload() == "body"


def test_a_long_header_block_looks_at_the_clock(monkeypatch):
    raw = b"".join(b"X-%d: v\r\n" % i for i in range(3000)) + b"\r\nbody"
    budget = _budget()
    looks = []
    monkeypatch.setattr(budget, "check", lambda: looks.append(1))
    assert fast_parse(raw, budget) is not None
    assert len(looks) >= 3000 // 256  # a block of many headers is not one step
