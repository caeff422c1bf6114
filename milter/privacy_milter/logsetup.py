"""Logging set-up: one line per event, shaped like Postfix's so both can be read together."""

from __future__ import annotations

import logging
import logging.handlers
import socket

from .policy import LogSettings


def configure_logging(settings: LogSettings) -> None:
    if settings.file:
        # Reopens the file when logrotate moves it, like Postfix's own maillog_file.
        handler: logging.Handler = logging.handlers.WatchedFileHandler(settings.file)
        # Postfix's maillog_file format: "Mon DD HH:MM:SS host program[pid]: text"
        fmt = f"%(asctime)s {socket.gethostname()} privacy-milter[%(process)d]: %(message)s"
        handler.setFormatter(logging.Formatter(fmt, datefmt="%b %d %H:%M:%S"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("privacy-milter[%(process)d]: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    # Quieten library chatter that would drown the per-message lines.
    for noisy in ("aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
