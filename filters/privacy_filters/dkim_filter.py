"""DKIM in the pipeline: sign hosted customers' outbound mail last, verify inbound mail.

Outbound: runs after every other filter (`sees_all_edits`), over the header exactly as it
will leave (the received bytes, P_HDR_LEADSPC, plus every other filter's edits) and the
body as Postfix holds it; never for a message being rejected or tempfailed. Each
DKIM-Signature is inserted at index 0, so the signatures sit above every other header,
in the order the keys are listed in policy.toml. Signing is CPU work: `decide` signs at
once when the pipeline runs in the SMTP connection's thread (it cannot be done in
`prepare`, which runs before other filters add their headers); `check` on the loop hands
it to a worker thread.

Inbound (verify = true): every DKIM-Signature is verified with DNS through the injected
resolver; Authentication-Results headers that claim our authserv-id are removed
(forgeries, RFC 8601 §5) and ours is inserted at the top.

Facts (the store, the log line, later filters through ctx.results):
  ("dkim", "signed:rsa-sha256,ed25519-sha256" | "unsigned:<reason>" | "tempfail:error")  outbound
  ("dkim_result", "example.com:pass,other.example:temperror")   inbound, signing domains only
  ("dkim_forged_ar", "N")                                       forged headers removed
"""

from __future__ import annotations

import asyncio
import logging
import time
from privacy_milter.model import Action, HeaderEdit, Message, Result, apply_edits, header_block
from privacy_milter.model import wire_value
from privacy_milter.plugin import Counter, FilterContext, FilterSettings, FilterSpec, Symbol, hostname
from privacy_milter.services import DnsTxt, Services

from .dkim.cli import COMMAND
from .dkim.settings import DkimSettings, read_settings
from .dkim.sign import NotSignable, SigningError, milter_value, plan, sign_planned
from .dkim.verify import DkimResult, authentication_results, forged_ar, verify

log = logging.getLogger("privacy_milter.dkim")

AR = "Authentication-Results"
MAX_REASON = 60


class DkimFilter:
    name = "dkim"
    sees_all_edits = True   # sign last, over the header as it will leave

    def __init__(self, settings: DkimSettings | None = None, services: Services | None = None) -> None:
        self.settings = settings if settings is not None else DkimSettings()
        services = services or Services()
        # Our authserv-id: the setting, else the daemon's one host name (hostname.py), the
        # name in the store's host column and the summary's From as well.
        self.authserv_id = self.settings.authserv_id or services.host_name or hostname.best_effort()
        ns = self.settings.nameserver
        self.resolver = (DnsTxt(ns[0], ns[1], self.settings.dns_timeout) if ns is not None
                         else services.dns_txt or DnsTxt(timeout=self.settings.dns_timeout))

    # --- the pipeline's hooks ------------------------------------------------------------

    def decide(self, message: Message, ctx: FilterContext) -> Result | None:
        """In the caller's thread: sign here (CPU, no I/O); inbound verification needs the loop."""
        if message.outbound:
            return self._outbound(message, ctx)
        if not self.settings.verify:
            return Result(self.name)
        return None

    async def check(self, message: Message, ctx: FilterContext) -> Result:
        if message.outbound:
            return await asyncio.to_thread(self._outbound, message, ctx)  # RSA is CPU: off the loop
        if not self.settings.verify:
            return Result(self.name)
        return await self._inbound(message)

    # --- signing ---------------------------------------------------------------------------

    def _outbound(self, message: Message, ctx: FilterContext) -> Result:
        if ctx.action_so_far >= Action.TEMPFAIL:  # rejected or tempfailed: nothing leaves
            return _unsigned(f"not delivered ({ctx.action_so_far.label})")
        raw = outgoing_bytes(message, ctx)
        chosen = plan(raw, self.settings, ctx.site.is_hosted)
        if not chosen.keys:
            return _unsigned(chosen.reason)
        started = time.perf_counter()
        try:
            signatures = sign_planned(raw, chosen, self.settings)
        except (SigningError, NotSignable) as exc:
            return self._failed(message, str(exc))
        spent = time.perf_counter() - started
        log.debug("%s: dkim: signed as %s with %d key(s) in %.1f ms", message.queue_id or "NOQUEUE",
                  chosen.domain, len(signatures), spent * 1000)
        # Each insert at 0 goes above the previous one: insert the last first, so the
        # signatures end up in the keys' order.
        edits = tuple(HeaderEdit.insert(name, milter_value(value), 0) for name, value in reversed(signatures))
        algorithms = ",".join(k.algorithm for k in chosen.keys)
        return Result(self.name, edits=edits, facts=(("dkim", f"signed:{algorithms}"),))

    def _failed(self, message: Message, problem: str) -> Result:
        """A signing problem: never silent. on_error says whether the mail leaves unsigned."""
        action = self.settings.on_error
        log.error("%s: dkim: %s; on_error=%s", message.queue_id or "NOQUEUE", problem, action.label)
        outcome = "unsigned:error" if action is Action.ACCEPT else "tempfail:error"
        return Result(self.name, action=action, facts=(("dkim", outcome),), error=problem[:200])

    # --- verifying -------------------------------------------------------------------------

    async def _inbound(self, message: Message) -> Result:
        settings = self.settings
        with message.raw() as f:
            raw = f.read()
        results = await verify(raw, self.resolver, settings.dns_timeout)
        received = [value for name, value in message.headers if name.lower() == AR.lower()]
        forged = [i for i, value in enumerate(received, 1) if forged_ar(value, self.authserv_id)]
        # Remove the highest occurrence first: the lower ones keep their numbers whichever
        # way the MTA counts after a removal.
        edits = [HeaderEdit.remove(AR, i) for i in sorted(forged, reverse=True)]
        edits.append(HeaderEdit.insert(AR, authentication_results(self.authserv_id, results), 0))
        facts = [("dkim_result", summary(results))]
        if forged:
            facts.append(("dkim_forged_ar", str(len(forged))))
            log.info("%s: dkim: removed %d Authentication-Results claiming %s", message.queue_id or "NOQUEUE",
                     len(forged), self.authserv_id)
        return Result(self.name, edits=tuple(edits), facts=tuple(facts))


def _unsigned(reason: str) -> Result:
    return Result("dkim", facts=(("dkim", f"unsigned:{reason[:MAX_REASON]}"),))


def summary(results: list[DkimResult]) -> str:
    """`d:result` per signature, top first ("none" for an unsigned message): domains only."""
    return ",".join(f"{r.domain}:{r.result}" if r.domain else r.result for r in results)


def outgoing_bytes(message: Message, ctx: FilterContext) -> bytes:
    """The message as Postfix will write it: the received header (byte-exact), every earlier
    filter's edits applied as Postfix applies them, then the body, CRLF line ends."""
    headers = message.headers if message.raw_headers else [(n, wire_value(v)) for n, v in message.headers]
    head = header_block(apply_edits(headers, ctx.edits), exact=True)
    return head + _body(message)


def _body(message: Message) -> bytes:
    if message.source is not None:  # read from a file: the body follows the first empty line
        raw = message.source
        ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := raw.find(sep)) != -1]
        if not ends:
            return b""
        i, n = min(ends)
        body = raw[i + n:]
    else:
        with message.raw() as f:
            body = f.read()[len(message.header_block()):]
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _build(settings: FilterSettings, services: Services) -> DkimFilter:
    assert isinstance(settings, DkimSettings)
    return DkimFilter(settings, services)


RESULTS = frozenset({"pass", "fail", "neutral", "temperror", "permerror", "none"})
DKIM_COUNTER = Counter("privacy_milter_dkim_results_total",
                       "DKIM: outbound signed/unsigned, inbound one per signature by result (none: no signature)",
                       ("direction", "result"))


def _outbound_labels(value: str, failed: bool) -> list[tuple[str, ...]]:
    """"signed:alg,..." | "unsigned:why" | "tempfail:error" -> signed or unsigned."""
    return [("outbound", "signed" if value.startswith("signed") else "unsigned")]


def _inbound_labels(value: str, failed: bool) -> list[tuple[str, ...]]:
    """"d.example:pass,e.example:fail" | "none" -> one result per signature."""
    results = (item.rsplit(":", 1)[-1].strip() for item in value.split(","))
    return [("inbound", r if r in RESULTS else "other") for r in results]


SYMBOLS = (
    Symbol("dkim", help="outbound: signed:ALGORITHMS, unsigned:WHY or tempfail:error", counter=DKIM_COUNTER,
           labels=_outbound_labels),
    Symbol("dkim_result", help="inbound: DOMAIN:RESULT per signature (domains only), or none",
           counter=DKIM_COUNTER, labels=_inbound_labels),
    Symbol("dkim_forged_ar", help="how many forged Authentication-Results were removed"),
)

SPEC = FilterSpec(name="dkim", read=read_settings, build=_build, symbols=SYMBOLS, commands=(COMMAND,))
