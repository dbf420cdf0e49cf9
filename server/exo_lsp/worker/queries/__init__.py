"""Worker-side answers to the server's queries, one handler per method of the contract
(``shared/contract.py``). A handler gets the worker's Tracer, the script path and its
typed Params, and returns the method's Result (or None when there is nothing to say).
Modules listed in HANDLER_MODULES register their handlers with ``@handles(Params)``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

HANDLERS: dict[type, Callable[[Any, str, Any], Any]] = {}

HANDLER_MODULES = [
    "exo_lsp.worker.queries.resolve",
    "exo_lsp.worker.queries.actions.handlers",
    "exo_lsp.worker.queries.views",
    "exo_lsp.worker.queries.simulate",
    "exo_lsp.worker.queries.fixes",
    "exo_lsp.worker.queries.complete",
    "exo_lsp.worker.queries.signature",
    "exo_lsp.worker.queries.bind",
]


_progress: Callable[[str, float], None] | None = None


def report_progress(message: str, fraction: float) -> None:
    """Tell the server how far a long query has got (no-op outside a query)."""
    if _progress is not None:
        _progress(message, fraction)


def handles(params_type: type):
    def register(f):
        HANDLERS[params_type] = f
        return f

    return register


def load_handlers() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)
