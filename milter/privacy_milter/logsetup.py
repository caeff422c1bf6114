"""Logging set-up: one line per event, shaped like Postfix's so both can be read together."""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import socket

from .logcontext import line_tag

from .policy import LogSettings

LOG_FILE_MODE = 0o640  # domains, client addresses and queue ids: not for every local user


class PrivateFileHandler(logging.handlers.WatchedFileHandler):
    """WatchedFileHandler whose file is created 0640 whatever the umask, on the first open
    and on every reopen after logrotate moved it (an existing file keeps its mode).

    The rotation check is WatchedFileHandler's own (a stat() before every line): checking
    once a second instead saved 1 % of the daemon's own CPU per message
    (bench/milter_path.py --ab reopen at 05fd7dc, docs/BENCHMARKS.md), under the 10 % a shortcut must
    earn, and sent the lines of the second after a rotation into the rotated file."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_FILE_MODE)
        if os.fstat(fd).st_size == 0:
            os.fchmod(fd, LOG_FILE_MODE)  # the umask may have taken bits away, never added them
        return io.TextIOWrapper(io.FileIO(fd, "a"), encoding=self.encoding, errors=self.errors,
                                line_buffering=False)


# Postfix's maillog_file format: "Mon DD HH:MM:SS host program[pid]: text"; without a file
# (journald adds the time and host), the rest of it.
FILE_FORMAT = "%(asctime)s {host} privacy-milter[%(process)d]: %(tag)s%(message)s"
STREAM_FORMAT = "privacy-milter[%(process)d]: %(tag)s%(message)s"
DATEFMT = "%b %d %H:%M:%S"


class LineFormatter(logging.Formatter):
    """logging.Formatter with FILE_FORMAT (or STREAM_FORMAT, without a host), whose %(tag)s is
    "TAG: " (logcontext.line_tag: the queue id of the message the line is about, if any).

    The plain library formatter: a hand-written one (the line in one f-string, the time stamp
    cached per second) saved 5 % of the daemon's own CPU per message, about 1 % behind
    Postfix (bench/milter_path.py --ab formatter, docs/BENCHMARKS.md), under the 10 % a
    shortcut must earn."""

    def __init__(self, host: str | None) -> None:
        if host is None:
            super().__init__(STREAM_FORMAT)
        else:
            super().__init__(FILE_FORMAT.replace("{host}", host), datefmt=DATEFMT)

    def format(self, record: logging.LogRecord) -> str:
        record.tag = line_tag(record.getMessage())
        return super().format(record)


def configure_logging(settings: LogSettings) -> None:
    if settings.file:
        # Reopens the file when logrotate moves it, like Postfix's own maillog_file.
        handler: logging.Handler = PrivateFileHandler(settings.file)
        handler.setFormatter(LineFormatter(socket.gethostname()))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(LineFormatter(None))
    # No line shows a thread name, and asking for one costs a threading._DummyThread (an
    # Event, a lock, a registry entry) each time libmilter's pool starts a new worker thread,
    # which it does all the time under load. Nor the process name: the records skip looking
    # for them (logging's public knobs, "Optimization" in the logging HOWTO). The caller's
    # file and line are still looked up (logging._srcfile, a private name, left alone): turning
    # that off saved 2 % of the daemon's CPU per message (docs/BENCHMARKS.md, Fast paths).
    logging.logThreads = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    # Quieten library chatter that would drown the per-message lines.
    for noisy in ("aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
