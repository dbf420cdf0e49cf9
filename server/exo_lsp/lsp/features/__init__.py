"""LSP features: each module is a thin view over the engine's traces.

A module exposes ``register(server)``; ``register_all`` calls them. Standard LSP methods are
added to ``server.dispatcher`` with the documents each handler applies to, so the order of
the modules here does not decide who answers.
"""

from __future__ import annotations

import importlib

FEATURE_MODULES = ["views", "resolve", "quickfix", "actions", "simulate", "show", "writing", "suggest"]


def register_all(server) -> None:
    for name in FEATURE_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(server)
