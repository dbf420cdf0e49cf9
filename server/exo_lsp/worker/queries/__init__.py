"""Registry of worker-side query handlers.

Feature modules that need to look at procs (which live only in the worker) register a
handler with ``@query("kind")``; the server calls it with ``engine.query(kind, path, params)``.
A handler gets the worker's Tracer, the script path and the params dict, and returns
msgspec-encodable data. Modules listed in HANDLER_MODULES are imported by the worker.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

QUERY_HANDLERS: dict[str, Callable[[Any, str, dict], Any]] = {}

HANDLER_MODULES = ["exo_lsp.worker.queries.resolve", "exo_lsp.worker.queries.actions.handlers", "exo_lsp.worker.queries.views", "exo_lsp.worker.queries.simulate"]


_progress: Callable[[str, float], None] | None = None


def report_progress(message: str, fraction: float) -> None:
    """Tell the server how far a long query has got (no-op outside a query)."""
    if _progress is not None:
        _progress(message, fraction)


def query(kind: str):
    def register(f):
        QUERY_HANDLERS[kind] = f
        return f

    return register


def load_handlers() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)
