"""A small DNS server for tests that answers like a validating recursive resolver.

Records are set by the test (`add`), answers come from dnspython's message code over UDP
and TCP on a loopback address. Names under a zone marked `secure` get the AD bit (when
the query asked for it with AD or DO, as a real validating resolver does); `servfail`
makes a name answer SERVFAIL (what a validating resolver says for bogus data); unknown
names answer NXDOMAIN, known names without the asked type NOERROR/NODATA.

In-process:   with DnsStub() as stub: stub.add("example.test", "MX", "10 mx.example.test.")
For a real Postfix (glibc only talks to port 53): DnsStub("127.0.0.77", 53), then
`stub.write_resolv_conf(path)` and bind-mount that file over /etc/resolv.conf.
"""

from __future__ import annotations

import collections
import socket
import socketserver
import struct
import threading
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

QUERY_LOG_SIZE = 1000
TCP_TIMEOUT = 5.0


def _key(name: str) -> str:
    return name.lower().rstrip(".") + "."


class DnsStub:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._records: dict[tuple[str, int], list[dns.rdata.Rdata]] = {}
        self._ttl = 300
        self._secure: set[str] = set()
        self._servfail: set[tuple[str, int | None]] = set()
        self._drop: set[str] = set()
        self._nxdomain: set[str] = set()
        self.queries: collections.deque[tuple[str, str, bool, bool]] = collections.deque(maxlen=QUERY_LOG_SIZE)
        self._udp: socketserver.ThreadingUDPServer | None = None
        self._tcp: socketserver.ThreadingTCPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- records ------------------------------------------------------------------------
    def add(self, name: str, rdtype: str, *values: str) -> DnsStub:
        """Add records: add("example.test", "MX", "10 mx1.example.test.", "20 mx2.example.test.")."""
        rtype = dns.rdatatype.from_text(rdtype)
        origin = dns.name.from_text(_key(name))
        rdatas = [dns.rdata.from_text(dns.rdataclass.IN, rtype, v, origin=origin, relativize=False) for v in values]
        with self._lock:
            self._records.setdefault((_key(name), rtype), []).extend(rdatas)
        return self

    def remove(self, name: str, rdtype: str | None = None) -> None:
        """Forget a name's records (all types when rdtype is None)."""
        key = _key(name)
        with self._lock:
            for k in [k for k in self._records if k[0] == key
                      and (rdtype is None or k[1] == dns.rdatatype.from_text(rdtype))]:
                del self._records[k]

    def secure(self, zone: str) -> DnsStub:
        """Answers for `zone` and below carry AD (DNSSEC-secure)."""
        with self._lock:
            self._secure.add(_key(zone))
        return self

    def insecure(self, zone: str) -> None:
        with self._lock:
            self._secure.discard(_key(zone))

    def servfail(self, name: str, rdtype: str | None = None, on: bool = True) -> None:
        """Answer SERVFAIL for `name` (one type, or all when rdtype is None)."""
        entry = (_key(name), None if rdtype is None else int(dns.rdatatype.from_text(rdtype)))
        with self._lock:
            (self._servfail.add if on else self._servfail.discard)(entry)

    def nxdomain(self, name: str, on: bool = True) -> None:
        """Answer NXDOMAIN for `name` even if it has records."""
        with self._lock:
            (self._nxdomain.add if on else self._nxdomain.discard)(_key(name))

    def drop(self, name: str, on: bool = True) -> None:
        """Never answer queries for `name` (the client times out)."""
        with self._lock:
            (self._drop.add if on else self._drop.discard)(_key(name))

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> DnsStub:
        stub = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = stub.answer(data, max_size=None)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(TCP_TIMEOUT)
                for _ in range(100):  # bounded: a few queries per connection at most
                    head = _recv_exact(conn, 2)
                    if head is None:
                        return
                    data = _recv_exact(conn, struct.unpack("!H", head)[0])
                    if data is None:
                        return
                    reply = stub.answer(data, max_size=65535)
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)

        socketserver.ThreadingUDPServer.allow_reuse_address = True
        for _ in range(20):
            udp = socketserver.ThreadingUDPServer((self.host, self.port), Udp)
            port = udp.server_address[1]
            try:
                tcp = socketserver.ThreadingTCPServer((self.host, port), Tcp, bind_and_activate=False)
                tcp.allow_reuse_address = True
                tcp.server_bind()
                tcp.server_activate()
            except OSError:
                udp.server_close()
                tcp.server_close()
                if self.port:
                    raise
                continue
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        udp.daemon_threads = tcp.daemon_threads = True
        self._udp, self._tcp, self.port = udp, tcp, port
        for server in (udp, tcp):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"dnsstub-{self.host}:{port}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(5)
        self._udp = self._tcp = None
        self._threads.clear()

    def __enter__(self) -> DnsStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_resolv_conf(self, path: str | Path) -> Path:
        """A resolv.conf pointing glibc at this stub (needs port 53)."""
        if self.port != 53:
            raise ValueError("glibc only queries port 53: start the stub as DnsStub(ADDRESS, 53)")
        path = Path(path)
        path.write_text(f"nameserver {self.host}\noptions edns0 trust-ad timeout:2 attempts:1\n")
        return path

    # --- answering ----------------------------------------------------------------------
    def answer(self, wire: bytes, max_size: int | None) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        try:
            return self._answer(query, max_size)
        except Exception:  # a stub bug answers SERVFAIL instead of silence
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()

    def _answer(self, query: dns.message.Message, max_size: int | None) -> bytes | None:
        if len(query.question) != 1:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = question.rdtype
        wants_ad = bool(query.flags & dns.flags.AD) or bool(query.ednsflags & dns.flags.DO)
        self.queries.append((name, dns.rdatatype.to_text(rdtype), bool(query.flags & dns.flags.AD),
                             bool(query.ednsflags & dns.flags.DO)))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        with self._lock:
            if name in self._drop:
                return None
            if (name, None) in self._servfail or (name, int(rdtype)) in self._servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
                return response.to_wire()
            rdatas = list(self._records.get((name, rdtype), []))
            cname = list(self._records.get((name, dns.rdatatype.CNAME), []))
            exists = name not in self._nxdomain and any(k == name or k.endswith("." + name) for k, _ in self._records)
            if name in self._nxdomain:
                rdatas, cname = [], []
            secure = any(name == z or name.endswith("." + z) or z == "." for z in self._secure)
        if rdatas:
            response.answer.append(dns.rrset.from_rdata_list(question.name, self._ttl, rdatas))
        elif cname and rdtype != dns.rdatatype.CNAME:
            response.answer.append(dns.rrset.from_rdata_list(question.name, self._ttl, cname))
        elif not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        if secure and wants_ad:
            response.flags |= dns.flags.AD
        size = max_size or (max(512, query.payload) if query.edns >= 0 else 512)
        try:
            return response.to_wire(max_size=size)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.TC | dns.flags.RA
            return truncated.to_wire()


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        try:
            chunk = conn.recv(n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data
