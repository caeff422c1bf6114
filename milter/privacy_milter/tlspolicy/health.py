"""Is the configured resolver there, and does it validate? Asked at start-up and by
`privacy-milter policy check`.

Every outbound TLS decision (DANE, MTA-STS, the classification of flagged mail) starts
with a DNS query to [tls_policy] nameserver. A stock Debian 12 host runs no resolver on
127.0.0.1 (the default): each query then hangs until its time-out, so every flagged
message waits and falls back to flagged_unknown. One bounded query (the root zone's SOA,
which is signed, so a validating resolver sets AD) tells an admin at once instead.
"""

from __future__ import annotations

import asyncio
import logging

import dns.exception
import dns.flags
import dns.resolver

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.dnsclient import make_resolver

log = logging.getLogger("privacy_milter.tlspolicy")

PROBE_TIMEOUT = 2.0  # seconds: a resolver on loopback answers the root SOA in milliseconds
PROBE_NAME = "."     # signed since 2010: a validating resolver answers it with AD
ADVICE = ("install a local validating resolver (apt install unbound; docs/DEPLOY.md, \"A local validating "
          "resolver\") or set [tls_policy] nameserver to one")


async def resolver_warning(config: TlsPolicyConfig, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when the resolver answers (with the AD bit if DANE is on), else a warning for
    the admin saying what is wrong and what to do."""
    where = f"{config.nameserver or '(resolv.conf)'}:{config.nameserver_port}"
    resolver = make_resolver(config.nameserver, config.nameserver_port, timeout)
    flags: int
    try:
        async with asyncio.timeout(timeout + 0.5):  # dnspython's lifetime, with a backstop
            answer = await resolver.resolve(PROBE_NAME, "SOA", raise_on_no_answer=False, search=False)
        flags = int(answer.response.flags)
    except dns.resolver.NXDOMAIN as exc:  # odd for the root, but the resolver is there
        response = exc.response(exc.qnames()[0]) if exc.qnames() else None
        flags = int(response.flags) if response is not None else 0
    except (TimeoutError, dns.exception.Timeout):
        problem = f"did not answer within {timeout:g}s"
    except dns.resolver.NoNameservers:
        problem = "answered SERVFAIL or refused the query"
    except dns.exception.DNSException as exc:
        problem = f"failed ({type(exc).__name__})"
    else:
        if not config.dane_enabled or flags & dns.flags.AD:
            return None
        return (f"[tls_policy] nameserver {where} answers without the AD bit: it does not validate DNSSEC, "
                f"so DANE (dane = true) can never apply; {ADVICE}")
    return (f"[tls_policy] nameserver {where} {problem}: outbound TLS decisions (DANE, MTA-STS, the "
            f"classification of flagged mail) will fail, and flagged mail falls back to "
            f"[filters.tls] flagged_unknown; {ADVICE}")


async def log_resolver_warning(config: TlsPolicyConfig) -> None:
    """The start-up check, as a task on the daemon's loop (start-up does not wait for it)."""
    warning = await resolver_warning(config)
    if warning is not None:
        log.warning("%s", warning)
    else:
        log.info("tls policy: resolver %s:%d answers%s", config.nameserver or "(resolv.conf)",
                 config.nameserver_port, " with DNSSEC validation (AD)" if config.dane_enabled else "")
