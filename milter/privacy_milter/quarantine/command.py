"""`privacy-milter quarantine list|show|release|delete|expire`, and the hold queue's part of
`subject export|delete`. Registered by cli.py with one call (add_parser)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..policy import Policy
from .actions import Quarantine
from .held import Held, text_line
from .postfix import PostfixQueue, QueueError

LOCK_NAME = "quarantine.lock"
WithStore = Callable[..., Any]


def add_parser(sub: Any, store_args: Callable[[argparse.ArgumentParser], None], with_store: WithStore) -> None:
    """`with_store` is cli._with_store (handed in: this module does not import cli)."""
    qp = sub.add_parser("quarantine", help="held mail: list, show, release, delete, expire (docs/QUARANTINE.md)")
    qsub = qp.add_subparsers(metavar="ACTION")
    ls = qsub.add_parser("list", help="every held message: age, expiry, domains, size, why")
    ls.add_argument("--domain", help="only messages from or to this domain")
    ls.add_argument("--json", action="store_true")
    show = qsub.add_parser("show", help="one held message: its record, envelope and route")
    show.add_argument("queue_id")
    rel = qsub.add_parser("release", help="deliver a held message (flagged mail only over TLS); root")
    dele = qsub.add_parser("delete", help="delete a held message; root")
    for p in (rel, dele):
        p.add_argument("queue_id")
        p.add_argument("--reason", required=True, help="why (recorded in the store and logged)")
    exp = qsub.add_parser("expire", help="delete held mail older than [quarantine] keep_days; root "
                                         "(the privacy-milter-quarantine-expire timer runs it daily)")
    for p, handler in ((ls, _list), (show, _show), (rel, _release), (dele, _delete), (exp, _expire)):
        store_args(p)
        p.set_defaults(handler=handler, with_store=with_store)


def quarantine_for(store: Any, policy: Policy) -> Quarantine:
    settings = policy.quarantine
    return Quarantine(PostfixQueue(settings.postfix_config), store.backend, settings,
                      policy.store.host_name or store.host, lock_path(policy))


def _log_where_the_daemon_does(policy: Policy) -> None:
    """Actions are logged with the queue id where the daemon logs ([log] file, else standard
    error: the journal under the timer's service). A log file that does not exist yet is
    left to the daemon to create: one made here, as root, would lock the daemon out of it."""
    from ..logsetup import configure_logging

    if policy.log.file and not Path(policy.log.file).exists():
        policy = dataclasses.replace(policy, log=dataclasses.replace(policy.log, file=""))
    configure_logging(policy.log)


def lock_path(policy: Policy) -> Path:
    """Next to the address key: every host that writes records has that directory."""
    return Path(policy.store.key_file).parent / LOCK_NAME


def _with(args: argparse.Namespace, work: Callable[[Quarantine], Any]) -> Any:
    async def go(store: Any, policy: Policy, _hasher: Any) -> Any:
        _log_where_the_daemon_does(policy)
        return await work(quarantine_for(store, policy))

    return args.with_store(args, go)


def _list(args: argparse.Namespace) -> int:
    async def work(q: Quarantine) -> tuple[list[Held], Quarantine]:
        return await q.held(), q

    held, q = _with(args, work)
    if args.domain:
        held = [h for h in held if h.involves_domain(args.domain)]
    if args.json:
        print(json.dumps({"host": q.host, "keep_days": q.settings.keep_days,
                          "held": [h.summary() for h in held]}, indent=2))
        return 0
    where = f" from or to {args.domain}" if args.domain else ""
    print(f"{len(held)} message(s) held{where} on {q.host} (keep_days {q.settings.keep_days})")
    for h in held:
        print(text_line(h))
    return 0


def _show(args: argparse.Namespace) -> int:
    async def work(q: Quarantine) -> dict[str, Any]:
        from . import events

        h = await q.get(args.queue_id)
        route = await _to_thread(q.queue.content_filter, h.queue_id)
        past = await events.of_queue_id(q.backend, h.queue_id)
        return {**h.summary(),
                "envelope": {"sender": h.entry.sender, "recipients": list(h.entry.recipients),
                             "queue": h.entry.queue_name, "content_filter": route or ""},
                "record": dataclasses.asdict(h.record) if h.record else None,
                "events": [dataclasses.asdict(e) for e in past]}

    print(json.dumps(_with(args, work), indent=2, default=str))
    return 0


async def _to_thread(fn: Callable[..., Any], *a: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *a)


def _release(args: argparse.Namespace) -> int:
    print(_with(args, lambda q: q.release(args.queue_id, args.reason)))
    return 0


def _delete(args: argparse.Namespace) -> int:
    print(_with(args, lambda q: q.delete(args.queue_id, args.reason)))
    return 0


def _expire(args: argparse.Namespace) -> int:
    async def work(q: Quarantine) -> tuple[list[str], int]:
        return await q.expire(), q.settings.keep_days

    done, keep = _with(args, work)
    print(f"expired {len(done)} held message(s) older than {keep} day(s)" + (f": {' '.join(done)}" if done else ""))
    return 0


# --- subject-access requests ------------------------------------------------------------------

def involves(h: Held, address: str) -> bool:
    a = address.strip().strip("<>").lower()
    return h.entry.sender.lower() == a or a in (r.lower() for r in h.entry.recipients)


async def subject_held(store: Any, policy: Policy, address: str, delete: bool) -> dict[str, Any]:
    """The held messages that involve the address (export: their ids and records; delete:
    deleted from the hold queue too). A host without Postfix, or a non-root delete, says so."""
    q = quarantine_for(store, policy)
    try:
        held = [h for h in await q.held() if involves(h, address)]
    except QueueError as exc:
        return {"checked": False, "problem": str(exc), "held": []}
    if not delete:
        return {"checked": True, "held": [{**h.summary(), "record": dataclasses.asdict(h.record)
                                           if h.record else None} for h in held]}
    if held and os.geteuid() != 0:
        return {"checked": True, "problem": f"{len(held)} held message(s) involve the address; deleting "
                "them needs root (postsuper)", "held": [h.queue_id for h in held], "deleted": []}
    deleted = []
    for h in held:
        await q.delete(h.queue_id, "subject request")
        deleted.append(h.queue_id)
    return {"checked": True, "held": [h.queue_id for h in held], "deleted": deleted}

