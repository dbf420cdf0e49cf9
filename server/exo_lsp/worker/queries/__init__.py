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
    "exo_lsp.worker.queries.search",
]


_progress: Callable[[str, float], None] | None = None
_partial: Callable[[Any], None] | None = None  # sends results so far (a Result struct)
_cancelled: Callable[[], bool] = lambda: False  # whether the server cancelled this query


def report_progress(message: str, fraction: float) -> None:
    """Tell the server how far a long query has got (no-op outside a query)."""
    if _progress is not None:
        _progress(message, fraction)


def send_partial(result: Any) -> None:
    """Send results so far of a long query (no-op outside a query)."""
    if _partial is not None:
        _partial(result)


def query_cancelled() -> bool:
    return _cancelled()


def handles(params_type: type):
    def register(f):
        HANDLERS[params_type] = f
        return f

    return register


def load_handlers() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)
