"""The facts the weekly report reads from the store, by their declarations (plugin.Symbol).

The report counts a few facts that checks give (flagged mail's routing, the failed TLS
decision, the scanners' verdicts). It reads them through what the filters declared, found by
fact name in the registry, never by a filter's name: a fact no filter declares any more is
an error at import, not a figure that silently stays 0.
"""

from __future__ import annotations

from ..plugin import Symbol
from ..registry import FILTERS


def declared(name: str) -> Symbol:
    """The declaration of the fact `name` (the first filter in the registry that gives it)."""
    for spec in FILTERS.values():
        for symbol in spec.symbols:
            if symbol.name == name:
                return symbol
    raise LookupError(f"no filter declares the fact {name!r} the weekly summary reads")


FLAGGED_ACTION = declared("flagged_action")  # what was done with flagged mail (encrypt, reject, ...)
FLAGGED_ROUTE = declared("flagged_route")    # local-only / mixed
TLS_DECISION = declared("tls_decision")      # "failed": the TLS decision for flagged mail failed
SPAM = declared("spam")                      # yes / no, or not examined (not_examined)
VIRUS = declared("virus")                    # clean / a signature, or not examined (not_examined)
