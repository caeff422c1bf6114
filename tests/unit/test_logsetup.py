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
        logging.getLogger("privacy_milter").info("within the second")  # not yet looked for
        assert "within the second" in (tmp_path / "milter.log.1").read_text()
        for h in root.handlers:
            h._checked -= 2  # type: ignore[attr-defined]  # a second or more later
        logging.getLogger("privacy_milter").info("second line")
        assert "second line" in path.read_text()
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
