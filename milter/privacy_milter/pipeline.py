"""Filters in policy order, each with its own timeout and on_error, folded into one Verdict.

A filter (plugin.Filter) is anything with a `name` and `async def check(message, ctx) ->
Result`; nothing to inherit. A filter with CPU-bound work may also have
`prepare(message, deadline) -> value`, which the runtime calls in the SMTP connection's own
thread before handing the message to the event loop: the work then costs no thread hop and
never runs on the loop, it stops by `deadline` (the earlier of the message's and the
filter's own), and its value comes back to that filter as `ctx.prepared`. Filters run one
after another so a later one can read earlier results (the TLS check needs the findings
acted on); a REJECT ends the run early since nothing can soften it. A filter's Result may
add, insert or remove headers (HeaderEdit); edits apply in pipeline order, and a filter with
`sees_all_edits = True` (a signer) runs after all the others, over the header as it will
leave.

A filter that fails (times out, raises, its prepare or decide raises) gets its `on_error`
action, unless it has `fail_closed(message, ctx, problem) -> Result | None`: for a message
where on_error would break a promise (flagged mail left in clear text because the TLS
decision failed), the filter gives the safe answer itself, for this message and the
results so far. Every failure path goes through `_failed`, so none can skip it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .model import Action, Message, Reply, Result, Verdict, result_edits
from .plugin import Filter, FilterContext, FilterSettings, Site
from .services import Services

__all__ = ["Filter", "FilterContext", "Pipeline", "Preparation", "Prepared", "Services", "Stage", "combine"]

log = logging.getLogger("privacy_milter.pipeline")

MIN_CHECK_TIME = 0.05  # seconds a check always gets after its prepare hook

DEFAULT_REPLIES = {
    Action.REJECT: Reply("550", "5.7.1", "Message refused by the sender's mail policy"),
    Action.TEMPFAIL: Reply("451", "4.7.1", "Message could not be checked now; please try again later"),
}


@dataclass(frozen=True)
class Preparation:
    """How a filter's prepare hook went: the time it took, what it returned (handed to
    that filter as ctx.prepared) and, if it raised, what."""

    seconds: float
    error: str | None = None
    value: object = None


Prepared = dict[str, Preparation]  # filter name -> its preparation


@dataclass(frozen=True)
class Stage:
    filter: Filter
    settings: FilterSettings


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        # A filter that must see every other edit (a signer) runs after all the others.
        last = [s for s in stages if getattr(s.filter, "sees_all_edits", False)]
        self.stages = tuple([s for s in stages if s not in last] + last)

    def prepare(self, message: Message, deadline: float | None = None) -> Prepared:
        """Run the filters' synchronous `prepare` hooks in the caller's thread, each under its
        filter's timeout: the hook is given the earlier of `deadline` (the message's) and
        its filter's own, and CPU-bound work stops there. The time a hook took counts against
        its filter's timeout in `run`; a hook that raised sends its filter to on_error there,
        without running its check (no second scan)."""
        prepared: dict[str, Preparation] = {}
        for stage in self.stages:
            hook = getattr(stage.filter, "prepare", None)
            if hook is None:
                continue
            start = time.monotonic()
            own = start + stage.settings.timeout
            error, value = None, None
            try:
                value = hook(message, own if deadline is None else min(own, deadline))
            except Exception as exc:  # a broken hook costs its filter's on_error, never the message
                error = f"failed: {type(exc).__name__}"
                log.error("filter %s: prepare %s", stage.filter.name,
                          error, exc_info=log.isEnabledFor(logging.DEBUG))
            prepared[stage.filter.name] = Preparation(time.monotonic() - start, error, value)
        return prepared

    def run_now(self, message: Message, site: Site, services: Services = Services(),
                prepared: Prepared | None = None) -> Verdict | Partial:
        """In the caller's thread, no event loop: run the stages whose filter can answer at once
        (`decide(message, ctx) -> Result | None`: pure CPU on what prepare left, no I/O). At the
        first that cannot (no `decide`, or it returned None) stop and hand back a Partial for
        `run` to finish on the loop. Most messages need no thread hop at all."""
        ctx = FilterContext(site, services)
        prepared = prepared or {}
        for index, stage in enumerate(self.stages):
            started = time.monotonic()
            preparation = prepared.get(stage.filter.name)
            ctx.prepared = preparation.value if preparation is not None else None
            decide = getattr(stage.filter, "decide", None)
            if preparation is not None and preparation.error is not None:
                result: Result | None = self._failed(stage, message, ctx, preparation.error)
            elif decide is None:
                return Partial(ctx, index)
            else:
                try:
                    result = decide(message, ctx)
                except Exception as exc:  # a broken filter must cost one message, never the daemon
                    result = self._failed(stage, message, ctx, f"failed: {type(exc).__name__}", log_error=True)
            if result is None:
                return Partial(ctx, index)
            if self._add(ctx, result, preparation, started):
                break
        return combine(ctx.results)

    async def run(self, message: Message, site: Site, services: Services = Services(),
                  prepared: Prepared | None = None, partial: Partial | None = None) -> Verdict:
        ctx = partial.ctx if partial is not None else FilterContext(site, services)
        for stage in self.stages[partial.index if partial is not None else 0:]:
            started = time.monotonic()
            preparation = (prepared or {}).get(stage.filter.name)
            ctx.prepared = preparation.value if preparation is not None else None
            result = await self._check(stage, message, ctx, preparation)
            if self._add(ctx, result, preparation, started):
                break
        return combine(ctx.results)

    @staticmethod
    def _add(ctx: FilterContext, result: Result, preparation: Preparation | None, started: float) -> bool:
        """Record a stage's result (with the time it took); True when the run must end."""
        spent = (preparation.seconds if preparation else 0.0) + time.monotonic() - started
        result = result.timed(spent)
        ctx.prepared = None  # one filter's value is not the next one's
        ctx.results.append(result)
        ctx.edits.extend(result_edits(result))
        return result.action is Action.REJECT  # nothing can soften a reject

    async def _check(self, stage: Stage, message: Message, ctx: FilterContext,
                     preparation: Preparation | None) -> Result:
        spent = preparation.seconds if preparation else 0.0
        if preparation is not None and preparation.error is not None:
            return self._failed(stage, message, ctx, preparation.error)
        try:
            # What prepare spent counts against the filter's timeout; the check still gets
            # a moment to hand over what prepare computed.
            async with asyncio.timeout(max(stage.settings.timeout - spent, MIN_CHECK_TIME)):
                return await stage.filter.check(message, ctx)
        except TimeoutError:
            return self._failed(stage, message, ctx, f"timed out after {stage.settings.timeout:g}s")
        except Exception as exc:  # a broken filter must cost one message, never the daemon
            return self._failed(stage, message, ctx, f"failed: {type(exc).__name__}", log_error=True)

    @staticmethod
    def _failed(stage: Stage, message: Message, ctx: FilterContext, problem: str, log_error: bool = False) -> Result:
        """The result of a failed filter: its fail-closed answer for this message if it has
        one, else its on_error action. Either way `error` is set (recorded as failed=NAME)."""
        name = stage.filter.name
        if log_error:
            log.error("filter %s %s", name, problem,
                      exc_info=log.isEnabledFor(logging.DEBUG))
        closed = Pipeline._fail_closed(stage, message, ctx, problem)
        if closed is not None:  # the hook logged which safe action it chose
            return replace(closed, filter=name, error=problem)
        action = stage.settings.on_error
        log.warning("filter %s %s; on_error=%s", name, problem,
                    action.label)
        return Result(filter=name, action=action, error=problem)

    @staticmethod
    def _fail_closed(stage: Stage, message: Message, ctx: FilterContext, problem: str) -> Result | None:
        hook = getattr(stage.filter, "fail_closed", None)
        if hook is None:
            return None
        try:
            result: Result | None = hook(message, ctx, problem)
            return result
        except Exception as exc:  # the hook exists because on_error is unsafe here: tempfail
            log.error("filter %s %s, and its fail-closed answer failed too (%s); tempfail",
                      stage.filter.name, problem, type(exc).__name__)
            return Result(filter=stage.filter.name, action=Action.TEMPFAIL)


@dataclass
class Partial:
    """A run that `run_now` began in the caller's thread; `run` goes on from stage `index`."""

    ctx: FilterContext
    index: int


def combine(results: Sequence[Result]) -> Verdict:
    """The strictest action wins; its reply is the first one given at that action."""
    action = max((r.action for r in results), default=Action.ACCEPT)
    reply = next((r.reply for r in results if r.action is action and r.reply), None)
    if reply is None:
        reply = DEFAULT_REPLIES.get(action)
    return Verdict(action=action, results=tuple(results), reply=reply)
