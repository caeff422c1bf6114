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
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    finally:
        os.umask(old)
        for h in root.handlers:
            h.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
