"""A pymilter milter that answers MAIL FROM with what `connwatch.context_fd` read.

    python tests/harness/ctxfd_milter.py inet:PORT@127.0.0.1 TIMEOUT

context_fd reads the connection's socket out of libmilter's SMFICTX by byte offset. Here the
same descriptor is checked by another route, the kernel's: its peer address is the
client's own address (tests/unit/test_connwatch.py connects from a known port). The reply
to MAIL is a 550 whose text is `fd=N peer=PORT`, or `fd=none` when context_fd refused the
read (its layout checks failed).
"""

from __future__ import annotations

import os
import socket
import sys

import Milter

from privacy_milter.connwatch import context_fd


class Probe(Milter.Base):
    timeout = 0

    def envfrom(self, mailfrom: str, *params: str) -> int:
        fd = context_fd(self._ctx, self.timeout)
        if fd is None:
            text = "fd=none"
        else:
            with socket.socket(fileno=os.dup(fd)) as s:  # a duplicate: libmilter keeps its own
                text = f"fd={fd} peer={s.getpeername()[1]}"
        self.setreply("550", "5.7.1", text)
        return Milter.REJECT


def main() -> None:
    spec, timeout = sys.argv[1], int(sys.argv[2])
    Probe.timeout = timeout
    Milter.factory = Probe
    Milter.runmilter("ctxfd-probe", spec, timeout)


if __name__ == "__main__":
    main()
