"""Which message a log line is about, without passing it by hand.

The runtime sets the message's tag (its queue id, or the connection id before Postfix has
given one) in a context variable for the work of that message, in the libmilter thread and
in the coroutine on the loop alike; the log's formatter (logsetup.LineFormatter) puts "TAG: "
in front of every line logged meanwhile, so any module's line about a message carries the same key as Postfix's own lines.
A line that already starts with the tag (the one-line summary) is left as it is.
"""

from __future__ import annotations

import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_tag: contextvars.ContextVar[str | None] = contextvars.ContextVar("privacy_milter_message", default=None)


def set_tag(tag: str | None) -> contextvars.Token[str | None]:
    return _tag.set(tag)


def reset_tag(token: contextvars.Token[str | None]) -> None:
    _tag.reset(token)


def current() -> str | None:
    return _tag.get()


async def tagged(tag: str | None, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` (on the loop) with the message's tag set, as the calling thread had it."""
    token = _tag.set(tag)
    try:
        return await coro
    finally:
        _tag.reset(token)


def line_tag(message: str) -> str:
    """What goes before `message` in the log: "4F3A2B1C: ", or "" outside a message's work
    or when the message already starts with its tag."""
    tag = _tag.get()
    if tag is None:
        return ""
    prefix = tag + ":"
    return "" if message.startswith(prefix) else prefix + " "
