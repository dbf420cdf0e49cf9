"""LSP features: each module is a thin view over the engine's traces.

A module exposes ``register(server)``; ``register_all`` wires them in a fixed order.
"""

from __future__ import annotations

import importlib

FEATURE_MODULES = ["views", "resolve", "actions", "simulate"]


def register_all(server) -> None:
    for name in FEATURE_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(server)
