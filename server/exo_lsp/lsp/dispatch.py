"""One registration per LSP method, fanned out to every feature that handles it.

pygls keeps one handler per method. Several features answer the same method for different
documents (hover in a script is resolve's, hover in a proc view is the views'), so each
feature adds a handler here with the documents it applies to, and ``install`` registers
one pygls handler per method that asks them in the order the features were added:
the first answer that is not None wins, or, for methods whose answers are lists, the
lists are joined.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("exo_lsp.dispatch")

Applies = Callable[[Any, Any], bool]  # (server, params) -> whether the handler answers


@dataclass
class _Handler:
    fn: Callable
    applies: Applies | None


@dataclass
class _Method:
    options: Any = None
    join_lists: bool = False
    handlers: list[_Handler] = field(default_factory=list)


class Dispatcher:
    def __init__(self) -> None:
        self.methods: dict[str, _Method] = {}

    def handle(self, method: str, options: Any = None, *, applies: Applies | None = None, join_lists: bool = False):
        """Decorator: `fn(ls, params)` answers `method` where `applies(ls, params)` holds
        (everywhere when None)."""
        entry = self.methods.setdefault(method, _Method())
        if options is not None:
            if entry.options is not None and entry.options != options:
                raise ValueError(f"two features give {method} different options")
            entry.options = options
        entry.join_lists = entry.join_lists or join_lists

        def register(fn):
            entry.handlers.append(_Handler(fn, applies))
            return fn

        return register

    def install(self, server) -> None:
        for method, entry in self.methods.items():
            server.feature(method, entry.options)(_fan_out(method, entry))


def _fan_out(method: str, entry: _Method):
    async def answer(ls, params):
        joined: list | None = None
        for h in entry.handlers:
            if h.applies is not None and not h.applies(ls, params):
                continue
            result = h.fn(ls, params)
            if inspect.isawaitable(result):
                result = await result
            if result is None:
                continue
            if not entry.join_lists:
                return result
            joined = (joined or []) + list(result)
        return joined

    answer.__name__ = f"dispatch_{method.replace('/', '_')}"
    return answer
