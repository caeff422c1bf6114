"""Text from a PDF, within the scan's deadline.

pypdf cannot be interrupted, and one hostile page can keep it busy for minutes, so by
default the PDF is read by a worker process (`python -m privacy_filters.dlp.pdftext`,
started on first use, kept for the next PDF, its address space capped at
limits.pdf_worker_mb) that is killed when the deadline passes. Workers are kept in a small
pool so that concurrent scans never wait for each other. Pages that share a content stream
(200 pages, one stream) are extracted once.

Past the deadline the scan stops with reason "time"; a worker that dies (memory cap) or a
PDF pypdf cannot read counts as unscannable ("too_large" / "malformed"); an encrypted PDF
that does not open with the empty password counts as "encrypted".
"""

from __future__ import annotations

import io
import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
from typing import IO, Any

from .mime import Budget, ScanStopped, Sink

log = logging.getLogger(__name__)

IDLE_WORKERS = 2   # kept running between PDFs; more start when scans overlap
_HEADER = struct.Struct(">QII")  # request: data length, max pages, max characters
_LENGTH = struct.Struct(">Q")    # answer: JSON length
_pool: list[subprocess.Popen[bytes]] = []
_pool_lock = threading.Lock()
_worker_broken = False


def extract_pages(data: bytes, max_pages: int, max_chars: int,
                  deadline: float = float("inf")) -> tuple[list[str], list[str]]:
    """(texts of the distinct pages, unscannable reasons). Never raises on a bad PDF."""
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # pypdf warns with content snippets
    reasons: list[str] = []
    texts: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return [], ["encrypted"]
            except Exception:  # noqa: BLE001 - unsupported crypto
                return [], ["encrypted"]
        pages = reader.pages
        if len(pages) > max_pages:
            reasons.append("too_large")
        seen: set[Any] = set()
        size = 0
        for i, page in enumerate(pages):
            if i >= max_pages or size >= max_chars:
                break
            if time.monotonic() > deadline:
                reasons.append("time")
                break
            key = _content_key(page)
            if key is not None:
                if key in seen:
                    continue  # the same content stream and resources: the same text
                seen.add(key)
            text = page.extract_text() or ""
            texts.append(text)
            size += len(text)
        texts.append(_not_on_the_page(reader, pages, max_pages))
    except MemoryError:
        reasons.append("too_large")
    except RecursionError:
        reasons.append("too_deep")
    except Exception as exc:  # noqa: BLE001 - any parser failure means "could not read"
        log.debug("pdf unreadable: %s", type(exc).__name__)
        reasons.append("malformed")
    return texts, reasons


_MAX_EXTRAS = 2000  # annotations and fields read per document: a bound for hostile files


def _not_on_the_page(reader: Any, pages: Any, max_pages: int) -> str:
    """What a reader sees besides the page text, one value per line: the document info
    (title, subject, keywords, author...), annotations (comments, sticky notes, their
    titles) and form-field values."""
    values: list[str] = []
    info = reader.metadata or {}
    values.extend(str(v) for v in info.values() if isinstance(v, str))
    for i, page in enumerate(pages):
        if i >= max_pages or len(values) > _MAX_EXTRAS:
            break
        for ref in page.get("/Annots") or ():
            annot = ref.get_object()
            for key in ("/T", "/Contents", "/V", "/TU"):
                value = annot.get(key)
                if isinstance(value, str) and value.strip():
                    values.append(str(value))
    for field in list((reader.get_fields() or {}).values())[:_MAX_EXTRAS]:
        value = field.get("/V")
        if isinstance(value, str) and value.strip():
            values.append(f"{field.get('/T', '')}: {value}")
    return "\n".join(values)


def _content_key(page: Any) -> tuple[object, object] | None:
    """What a page's text depends on, by object number: its content stream(s) and its
    resources (fonts); None when they are inline and so cannot be shared."""
    contents = page.raw_get("/Contents") if "/Contents" in page else None
    if isinstance(contents, list):
        streams: object = tuple(getattr(o, "idnum", None) for o in contents)
        if None in streams:  # type: ignore[operator]
            return None
    else:
        streams = getattr(contents, "idnum", None)
        if streams is None:
            return None
    if "/Resources" in page:
        resources = page.raw_get("/Resources")
        fonts: object = getattr(resources, "idnum", None) or repr(resources)
    else:  # inherited from the page tree node
        fonts = ("parent", getattr(page.raw_get("/Parent"), "idnum", None)
                 if "/Parent" in page else None)
    return streams, fonts


class _Worker:
    """One worker process speaking length-prefixed frames on its stdin and stdout."""

    def __init__(self, mem_mb: int) -> None:
        self.mem_mb = mem_mb
        self.proc = _take() or _start(mem_mb)

    def ask(self, data: bytes, budget: Budget) -> tuple[list[str], list[str]]:
        limits = budget.limits
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(_HEADER.pack(len(data), limits.max_pdf_pages, limits.max_part_chars))
            stdin.write(data)
            stdin.flush()
            length = _LENGTH.unpack(self._read(stdout, _LENGTH.size, budget))[0]
            answer = json.loads(self._read(stdout, length, budget))
        except (BrokenPipeError, EOFError, ValueError):
            died = self.proc.poll() is not None
            self.kill()  # died (its memory cap, most likely) or answered nonsense
            return [], ["too_large" if died else "malformed"]
        except BaseException:
            self.kill()  # ScanStopped: the deadline passed while it was working
            warm_up(self.mem_mb)  # its successor starts now, not when the next PDF comes
            raise
        with _pool_lock:
            if len(_pool) < IDLE_WORKERS:
                _pool.append(self.proc)
                return answer["texts"], answer["reasons"]
        self.kill()
        return answer["texts"], answer["reasons"]

    def _read(self, stream: IO[bytes], size: int, budget: Budget) -> bytes:
        fd = stream.fileno()
        chunks: list[bytes] = []
        got = 0
        while got < size:
            ready, _, _ = select.select([fd], [], [], max(0.0, min(0.05, budget.remaining())))
            if not ready:
                budget.check()
                continue
            chunk = os.read(fd, min(size - got, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=2)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def _start(mem_mb: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "privacy_filters.dlp.pdftext", str(mem_mb)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, close_fds=True)


def warm_up(mem_mb: int = 1024) -> None:
    """Start an idle worker unless one is waiting (a cold one costs ~0.3 s of a deadline).
    The daemon may call it at start-up; it is called after every kill."""
    with _pool_lock:
        if _pool or _worker_broken:
            return
    try:
        proc = _start(mem_mb)
    except OSError:
        return
    with _pool_lock:
        if len(_pool) < IDLE_WORKERS:
            _pool.append(proc)
            return
    proc.stdin.close()  # type: ignore[union-attr]
    proc.wait(timeout=2)


def stop_workers() -> int:
    """Stop the idle workers (at shutdown, or after tests); returns how many were running."""
    with _pool_lock:
        procs = list(_pool)
        _pool.clear()
    for proc in procs:
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()  # the worker exits at end of input
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)
    return len(procs)


def _take() -> subprocess.Popen[bytes] | None:
    with _pool_lock:
        while _pool:
            proc = _pool.pop()
            if proc.poll() is None:
                return proc
    return None


def _serve(mem_mb: int) -> None:
    """The worker's loop: one request, one answer, until stdin closes."""
    try:
        import resource

        limit = mem_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass
    import pypdf  # noqa: F401 - loaded before the first request, not during it

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        length, max_pages, max_chars = _HEADER.unpack(header)
        data = stdin.read(length)
        texts, reasons = extract_pages(data, max_pages, max_chars)
        body = json.dumps({"texts": texts, "reasons": reasons}).encode()
        stdout.write(_LENGTH.pack(len(body)) + body)
        stdout.flush()


def pdf_text(data: bytes, sink: Sink, budget: Budget) -> None:
    """Feed the text of a PDF to sink; past the deadline raise ScanStopped."""
    global _worker_broken
    limits = budget.limits
    texts: list[str] | None = None
    reasons: list[str] = []
    if limits.pdf_worker and not _worker_broken:
        try:
            texts, reasons = _Worker(limits.pdf_worker_mb).ask(data, budget)
        except ScanStopped:
            raise
        except OSError as exc:  # cannot start a process: read in-process
            log.warning("dlp: cannot start a PDF worker (%s); PDFs are read in-process, "
                        "without a hard time bound", exc)
            _worker_broken = True
    if texts is None:
        texts, reasons = extract_pages(data, limits.max_pdf_pages, limits.max_part_chars,
                                       budget.deadline)
    for reason in reasons:
        if reason == "time":
            raise ScanStopped
        budget.fail(reason)
    for text in texts:
        sink(budget.take_text(text), "attachment")


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 1024)
