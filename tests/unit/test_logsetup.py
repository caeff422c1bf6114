"""The log file is private: 0640 under umask 022, also after logrotate moved it."""

import logging
import os
import stat

from privacy_milter.logsetup import configure_logging
from privacy_milter.policy import LogSettings


def test_log_file_is_created_0640_and_keeps_it_after_rotation(tmp_path):
    path = tmp_path / "milter.log"
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    old = os.umask(0o022)
    try:
        configure_logging(LogSettings(level="info", file=str(path)))
        logging.getLogger("privacy_milter").info("first line")
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        path.rename(tmp_path / "milter.log.1")  # what logrotate does
        logging.getLogger("privacy_milter").info("second line")
        assert "second line" in path.read_text()
        assert "second line" not in (tmp_path / "milter.log.1").read_text()
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)
        for h in root.handlers:
            h.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_lines_about_a_message_carry_its_queue_id_from_any_module(tmp_path):
    from privacy_milter import logcontext

    path = tmp_path / "milter.log"
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging(LogSettings(level="info", file=str(path)))
        token = logcontext.set_tag("4F3A2B1C")
        logging.getLogger("privacy_filters.scanner").warning("engine slow")
        logging.getLogger("privacy_milter").info("4F3A2B1C: direction=inbound")  # already tagged
        logcontext.reset_tag(token)
        logging.getLogger("privacy_milter").info("policy reloaded")
        lines = path.read_text().splitlines()
        assert lines[0].endswith("privacy-milter[%d]: 4F3A2B1C: engine slow" % os.getpid())
        assert lines[1].endswith(": 4F3A2B1C: direction=inbound") and lines[1].count("4F3A2B1C") == 1
        assert lines[2].endswith("]: policy reloaded")
    finally:
        for h in root.handlers:
            h.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def _reference(fmt: str, datefmt: str | None, record: logging.LogRecord) -> str:
    """What logging.Formatter makes of the record with the tag a handler filter would add."""
    from privacy_milter import logcontext

    record.tag = logcontext.line_tag(record.getMessage())
    return logging.Formatter(fmt, datefmt=datefmt).format(record)


def test_the_line_formatter_writes_what_logging_formatter_writes():
    """LineFormatter builds the line in one pass; every kind of record must come out as the
    stock formatter (with the tag) writes it: tagged or not, already tagged, %-arguments, a
    traceback, a stack, and time stamps either side of a second and a minute."""
    import sys

    from privacy_milter import logcontext
    from privacy_milter.logsetup import DATEFMT, FILE_FORMAT, STREAM_FORMAT, LineFormatter

    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    fast = {"mx1.example": LineFormatter("mx1.example"), None: LineFormatter(None)}
    reference = {"mx1.example": (FILE_FORMAT.replace("{host}", "mx1.example"), DATEFMT), None: (STREAM_FORMAT, None)}
    for tag in (None, "4F3A2B1C"):
        token = logcontext.set_tag(tag)
        try:
            for msg, args, exc, stack in (("policy reloaded", None, None, None),
                                          ("4F3A2B1C: direction=inbound 100%", None, None, None),
                                          ("%s: %d record(s)", ("store", 3), None, None),
                                          ("tempfail: internal error", None, exc_info, None),
                                          ("here", None, None, "Stack (most recent call last):\n  x")):
                for created in (1_764_806_399.999, 1_764_806_400.0, 1_764_806_400.5, 1_764_806_401.0, 1_764_806_460.25):
                    for host, formatter in fast.items():
                        record = logging.LogRecord("privacy_milter", logging.INFO, "x.py", 1, msg, args, exc)
                        record.stack_info = stack
                        record.created = created
                        expected = _reference(*reference[host], logging.makeLogRecord(record.__dict__))
                        assert formatter.format(record) == expected, (tag, msg, created, host)
        finally:
            logcontext.reset_tag(token)
