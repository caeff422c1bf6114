"""The adapter driven by pymilter's TestCtx: no MTA, macros set by hand."""

import asyncio
import time

import Milter
import pytest
from Milter import testctx

from privacy_milter.adapter import MAIL_MACROS, MilterAdapter
from privacy_milter.model import Action, Message, Reply, Result, Session, Verdict

CONTINUE_OR_NOREPLY = (Milter.CONTINUE, Milter.NOREPLY)


class Recorder:
    """Stands in for Runtime.judge: records what the adapter collected."""

    def __init__(self, verdict=None, error=None, delay=0.0):
        self.verdict = verdict or Verdict(Action.ACCEPT, ())
        self.error, self.delay, self.messages = error, delay, []

    deadline = 2.0

    def judge(self, message):
        try:
            return asyncio.run(asyncio.wait_for(self.process(message), self.deadline))
        except asyncio.TimeoutError:
            return Verdict(Action.TEMPFAIL, (), Reply("451", "4.7.1", "deadline"))

    async def process(self, message):
        self.messages.append({
            "queue_id": message.queue_id, "from": message.mail_from,
            "rcpts": [(r.address, r.mailer, r.host) for r in message.recipients],
            "headers": list(message.headers), "body": (message.body.seek(0), message.body.read())[1],
            "session": message.session,
        })
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return self.verdict


class Ctx(testctx.TestCtx):
    def __init__(self):
        super().__init__()
        self.quarantined = None
        self.added = []

    def addheader(self, field, value, idx):
        self.added.append((field, value))
        self.positions = getattr(self, "positions", []) + [idx]

    def chgheader(self, field, idx, value):
        self.changed = getattr(self, "changed", []) + [(field, idx, value)]

    def quarantine(self, reason):
        self.quarantined = reason


def drive(process, macros=None, headers=(("Subject", "hi"), ("From", "a@shop.example")),
          body=b"hello\r\n", rcpts=("<bob@far.example>",)):
    Milter.factory = lambda: MilterAdapter(process)
    ctx = Ctx()
    for k, v in {"{client_addr}": "192.0.2.1", "{daemon_name}": "smtpd", "{tls_version}": "TLSv1.3",
                 "{cipher}": "TLS_AES_128_GCM_SHA256", "{rcpt_mailer}": "smtp", "{rcpt_host}": "mx.far.example",
                 "i": "4QUEUE1", **(macros or {})}.items():
        ctx._setsymval(k, v)
    assert ctx._connect() == Milter.CONTINUE
    assert ctx._envfrom("<alice@shop.example>") in CONTINUE_OR_NOREPLY
    for r in rcpts:
        assert ctx._envrcpt(r) in CONTINUE_OR_NOREPLY
    assert ctx._data() == Milter.CONTINUE
    for name, value in headers:
        assert ctx._priv.header_bytes(name, value.encode() if isinstance(value, str) else value) \
            in CONTINUE_OR_NOREPLY
    assert ctx._eoh() == Milter.CONTINUE
    ctx._body = None
    for i in range(0, len(body), 65535):
        assert ctx._priv.body(body[i:i + 65535]) in CONTINUE_OR_NOREPLY
    return ctx, ctx._eom()


def test_negotiates_away_unused_steps_and_replies():
    Milter.factory = lambda: MilterAdapter(Recorder())
    ctx = Ctx()
    ctx._negotiate()
    for flag in ("P_NOCONNECT", "P_NOHELO", "P_NODATA", "P_NOEOH", "P_NOUNKNOWN",
                 "P_NR_MAIL", "P_NR_RCPT", "P_NR_HDR", "P_NR_BODY"):
        assert ctx._protocol & getattr(Milter, flag), flag


def test_deploy_snippet_lists_every_macro_the_adapter_reads():
    from pathlib import Path

    from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS
    from privacy_milter.deploy_hint import macro_lines

    snippet = (Path(__file__).resolve().parents[2] / "deploy" / "postfix" / "main.cf").read_text()
    for line in macro_lines().splitlines():
        assert line in snippet, line
    assert set(MAIL_MACROS) <= set(POSTFIX_MACRO_PARAMETERS["milter_mail_macros"])


def test_collects_envelope_headers_body_and_macros():
    rec = Recorder()
    _, rc = drive(rec)
    assert rc == Milter.ACCEPT
    (m,) = rec.messages
    assert m["queue_id"] == "4QUEUE1" and m["from"] == "alice@shop.example"
    assert m["rcpts"] == [("bob@far.example", "smtp", "mx.far.example")]
    assert ("Subject", "hi") in m["headers"] and m["body"] == b"hello\r\n"
    assert m["session"].tls.version == "TLSv1.3" and m["session"].client_addr == "192.0.2.1"


def test_reject_sets_reply():
    verdict = Verdict(Action.REJECT, (), Reply("550", "5.7.1", "contains payment card numbers"))
    ctx, rc = drive(Recorder(verdict))
    assert rc == Milter.REJECT
    assert ctx._reply == ("550", "5.7.1", "contains payment card numbers")


def test_tag_adds_headers_on_one_line():
    verdict = Verdict(Action.TAG, (Result("dlp", Action.TAG, headers=(("X-Privacy-DLP", "iban=1\n (high)"),)),))
    ctx, rc = drive(Recorder(verdict))
    assert rc == Milter.ACCEPT
    assert ctx.added == [("X-Privacy-DLP", " iban=1 (high)")]


def test_quarantine():
    verdict = Verdict(Action.QUARANTINE, (Result("dlp", Action.QUARANTINE),))
    ctx, rc = drive(Recorder(verdict))
    assert rc == Milter.ACCEPT and ctx.quarantined.startswith("privacy-milter")


def test_exception_tempfails_only_that_message():
    ctx, rc = drive(Recorder(error=RuntimeError("boom")))
    assert rc == Milter.TEMPFAIL and ctx._reply[0] == "451"


def test_deadline_tempfails():
    ctx, rc = drive(Recorder(delay=5))
    assert rc == Milter.TEMPFAIL


def test_large_body_is_spooled_to_disk():
    rec = Recorder()
    body = b"x" * (3 * 1024 * 1024)
    _, rc = drive(rec, body=body)
    assert rc == Milter.ACCEPT and rec.messages[0]["body"] == body


def test_eight_bit_and_nul_in_headers_do_not_break_collection():
    rec = Recorder()
    _, rc = drive(rec, headers=(("Subject", b"caf\xe9 \x00 ok"), ("X-Bin", b"\xff\xfe")))
    assert rc == Milter.ACCEPT
    assert len(rec.messages[0]["headers"]) == 2


def test_local_submission_has_no_client_macros():
    rec = Recorder()
    _, rc = drive(rec, macros={"{client_addr}": None, "{tls_version}": None, "{cipher}": None})
    assert rc == Milter.ACCEPT
    assert rec.messages[0]["session"].client_addr is None


def test_header_edits_reach_the_mta_with_their_position_and_folding():
    from privacy_milter.model import HeaderEdit

    sig = "v=1; a=ed25519-sha256; d=shop.example;\r\n\tb=abc"
    verdict = Verdict(Action.ACCEPT, (Result("x", headers=(("X-Privacy-DLP", "a\r\n  b"),), edits=(
        HeaderEdit.remove("Authentication-Results", 2), HeaderEdit.insert("DKIM-Signature", sig))),))
    ctx, rc = drive(Recorder(verdict))
    assert rc == Milter.ACCEPT
    assert ctx.added == [("X-Privacy-DLP", " a b"), ("DKIM-Signature", " v=1; a=ed25519-sha256; d=shop.example;\n\tb=abc")]
    assert ctx.positions == [-1, 0]
    assert ctx.changed == [("Authentication-Results", 2, None)]


def test_headers_are_kept_as_received_and_raw_is_byte_exact():
    """With P_HDR_LEADSPC Postfix sends the text after the colon as received (checked against
    Postfix 3.7: leading spaces, tabs, LF folding); raw() must rebuild those exact bytes."""
    rec = Recorder()
    seen = {}

    async def keep(message):
        seen["raw"] = message.raw().read()
        return Verdict(Action.ACCEPT, ())

    rec.process = keep
    headers = (("From", "  a@shop.example"), ("Subject", " folded\n\tsecond line\n   third"),
               ("X-Odd", "no-space"), ("X-Tab", "\tvalue  "))
    ctx = Ctx()
    Milter.factory = lambda: MilterAdapter(rec)
    ctx._negotiate()
    assert ctx._protocol & Milter.P_HDR_LEADSPC
    _, rc = drive(rec, headers=headers, body=b"body\r\n")
    assert rc == Milter.ACCEPT
    assert seen["raw"] == (b"From:  a@shop.example\r\nSubject: folded\r\n\tsecond line\r\n   third\r\n"
                           b"X-Odd:no-space\r\nX-Tab:\tvalue  \r\n\r\nbody\r\n")


def test_a_large_message_releases_memory_once_after_a_burst(monkeypatch):
    import threading

    from privacy_milter import memtrim

    calls = []
    done = threading.Event()
    t = memtrim.Trimmer(settle=0.05)
    t._trim = lambda pad: (calls.append(pad), done.set())
    monkeypatch.setattr(memtrim, "trimmer", t)
    t.after_message(1000)  # small: nothing to give back
    for _ in range(5):
        t.after_message(memtrim.LARGE_MESSAGE)
    assert done.wait(5)
    time.sleep(0.2)
    assert calls == [0]
    assert memtrim._malloc_trim() is not None  # glibc here


FREED_BLOCKS = """
import sys
from privacy_milter import memtrim
if sys.argv[1] == "fix":
    assert memtrim.fix_mmap_threshold()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
x = bytes(8 << 20); del x  # one large block freed: glibc's own rule would raise its threshold
big, keep = [], []
for i in range(200):
    big.append(bytearray(512 * 1024))  # a spool buffer or decoded part: 100 MB, resident
    keep.append(bytes(2000) + bytes([i]))  # heap blocks that outlive them (the next message)
before = rss()
del big
print(before - rss())
"""


@pytest.mark.parametrize("mode", ["fix", "plain"])
def test_large_freed_blocks_go_back_to_the_system_with_the_threshold_fixed(mode):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", FREED_BLOCKS, mode], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    returned_mb = int(out)
    if mode == "fix":
        assert returned_mb >= 90  # all of the 100 MB, as the daemon runs (daemon.run calls it)
    else:
        assert returned_mb < 20   # glibc's default keeps it: what the fix is for


def test_header_bytes_collects_and_answers_as_pymilters_own_path():
    """The adapter's header_bytes stands in for pymilter's (decode, then the @noreply
    wrapper of `header`): the same values (invalid UTF-8 kept as surrogates, leading space
    and folding kept) and the same answer, with and without NOREPLY negotiated; nothing is
    collected once collecting failed."""
    headers = [("Subject", b" caf\xc3\xa9 \xff\xfe"), ("X-Folded", b" one\n\ttwo"), ("Empty", b"")]
    for protocol in (0, Milter.P_NR_HDR, Milter.P_NR_HDR | Milter.P_NR_BODY):
        ours, stock = MilterAdapter(Recorder()), MilterAdapter(Recorder())
        for adapter in (ours, stock):
            adapter._protocol = protocol
            adapter.message = Message(Session("c1"), raw_headers=True)
        for name, value in headers:
            assert ours.header_bytes(name, value) == Milter.Base.header_bytes(stock, name, value)
        assert ours.message.headers == stock.message.headers
        assert ours.message.headers[0] == ("Subject", " caf\u00e9 \udcff\udcfe")
        ours.refuse("over the cap")
        ours.header_bytes("Late", b" x")
        assert [n for n, _ in ours.message.headers] == ["Subject", "X-Folded", "Empty"]
        for adapter in (ours, stock):
            adapter.message.close()


def test_envelope_bytes_are_decoded_as_utf8_with_surrogates():
    """The daemon hands pymilter's envfrom_bytes/envrcpt_bytes the raw addresses; invalid
    UTF-8 must arrive as surrogates (the strategy the adapter states), never as bytes."""
    Milter.factory = lambda: MilterAdapter(Recorder())
    ctx = Ctx()
    for k, v in {"{client_addr}": "192.0.2.1", "{rcpt_mailer}": "smtp", "{rcpt_host}": "mx.far.example"}.items():
        ctx._setsymval(k, v)
    ctx._connect()
    adapter = ctx._priv
    assert adapter.envfrom_bytes(b"<caf\xc3\xa9\xff@shop.example>", b"SIZE=10") in CONTINUE_OR_NOREPLY
    assert adapter.envrcpt_bytes(b"<b\xfe@far.example>") in CONTINUE_OR_NOREPLY
    assert adapter.message.mail_from == "caf\u00e9\udcff@shop.example"
    assert adapter.message.recipients[0].address == "b\udcfe@far.example"
    adapter.close()
