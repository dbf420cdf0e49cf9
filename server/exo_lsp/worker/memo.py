"""Memo tables that make re-runs incremental.

Exo procs are immutable and scheduling is deterministic, so a primitive applied to the
same proc object with the same arguments gives the same result, and a ``@proc`` parsed
from the same source against the same names gives the same proc (when an edit only moved
it, the tracer moves its source positions along: ``Tracer._follow_moved_lines``).
Keys hold strong references to every object whose ``id`` they use, so an id cannot be
reused by another object while its entry lives. Entries unused for a few runs are dropped.
"""

from __future__ import annotations

import inspect
import sys
import types
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from .exo import cursors, procs

KEEP_RUNS = 3  # a run may reuse entries made by any of the previous few runs


class Unkeyable(Exception):
    """An argument we cannot key soundly (e.g. an arbitrary object): do not memoize."""


class OpRecord(NamedTuple):
    """What the tracer keeps with a memoised op (``Entry.extra``) to replay it on a hit."""

    targets: list  # what its arguments selected
    changed: Any  # whether it changed the proc (None: it failed)
    children: list  # its nested steps (nested.Child)
    resolved: dict  # its resolved arguments
    failed_param: str | None  # the argument that failed to resolve, if one did
    printed: str  # what it printed (replace's "Failed to unify")


@dataclass
class Entry:
    value: Any  # result, or the exception raised
    extra: Any  # what the tracer recorded when it computed the value
    pins: tuple  # objects whose ids are in the key
    last_run: int


@dataclass
class MemoTable:
    entries: dict[tuple, Entry] = field(default_factory=dict)
    run: int = 0
    hits: int = 0
    misses: int = 0

    def start_run(self) -> None:
        self.run += 1
        self.hits = self.misses = 0
        stale = [k for k, e in self.entries.items() if self.run - e.last_run > KEEP_RUNS]
        for k in stale:
            del self.entries[k]

    def get(self, key: tuple) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        entry.last_run = self.run
        self.hits += 1
        return entry

    def put(self, key: tuple, value: Any, extra: Any, pins: tuple) -> None:
        self.entries[key] = Entry(value, extra, pins, self.run)

    def clear(self) -> None:
        self.entries.clear()


def value_key(value: Any, pins: list) -> Any:
    """A hashable, sound key for a scheduling argument or a name a ``@proc`` mentions.

    Every kind of value either gets a key that is the same on an identical re-run, or an
    explicit "not memoisable" decision (``NotMemoisable``, with the reason the tracer
    reports): a value that misses every run without saying so would silently turn every
    step after it into a re-run."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(value_key(v, pins) for v in value))
    if isinstance(value, cursors.Cursor):
        pins.append(value._proc)
        return ("cursor",) + cursors.cursor_key(value)
    if procs.is_procedure(value) or procs.is_memory_class(value):
        pins.append(value)
        return ("obj", id(value))
    if isinstance(value, TypeVar):
        # `from exo.frontend.syntax import *` binds n, x, R, ... to markers that carry
        # nothing but their name and bound
        return ("typevar", value.__name__, repr(value.__bound__), repr(value.__constraints__))
    formatted = procs.formatted_expr(value)
    if formatted is not None:  # its holes are nodes of an immutable proc: the same objects on a re-run
        text, nodes = formatted
        pins.extend(nodes)
        return ("formatted", text, tuple(map(id, nodes)))
    if procs.is_extern(value):
        return _extern_key(value, pins)
    if procs.is_config(value):
        if not _bound_in_library(value):
            raise NotMemoisable(
                f"`{procs.config_name(value)}` is a config defined in the script: a new object every run"
            )
        pins.append(value)
        return ("obj", id(value))
    if isinstance(value, type) or callable(value):
        # classes and functions from imported modules live as long as the worker
        pins.append(value)
        return ("obj", id(value))
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if _lives_in_library(value):
        pins.append(value)
        return ("obj", id(value))
    raise NotMemoisable(f"a {type(value).__name__} the memo cannot compare between runs")


class NotMemoisable(Unkeyable):
    """A value decided not memoisable; the message says why (shown to the user)."""


def _extern_key(value: Any, pins: list) -> tuple:
    """An extern (relu, select): its behaviour is its class's, its state its fields; an
    instance made anew each run keys the same as long as both are the same."""
    cls = type(value)
    state = tuple(sorted((k, value_key(v, pins)) for k, v in vars(value).items()))
    if _lives_in_library(cls):
        pins.append(cls)
        return ("extern", id(cls), state)
    try:  # defined in the script: a new class each run, the same while its source is
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        raise NotMemoisable(f"extern `{cls.__name__}`: its class has no source to compare") from None
    return ("extern", cls.__qualname__, src, state)


def _library_module(name: str | None) -> bool:
    """A module that stays loaded for the worker's life (Exo, the standard library,
    installed packages, exo-lsp's own targets), not the script or a module next to it
    (re-imported every run)."""
    m = sys.modules.get(name or "")
    if m is None or name == "__exo_lsp_script__":
        return False
    if name.split(".")[0] in ("exo", "exo_lsp") or name.split(".")[0] in sys.stdlib_module_names:
        return True
    f = getattr(m, "__file__", None) or ""
    return "site-packages" in f or "dist-packages" in f


_bound: dict[int, Any] = {}
_bound_modules: list[int] = [0]


def _bound_in_library(value: Any) -> bool:
    """Whether a library module binds this very object at its top level (a config or an
    extern instance Exo's platforms define): then it lives as long as the worker."""
    if len(sys.modules) != _bound_modules[0]:
        _bound.clear()
        for name, m in list(sys.modules.items()):
            if _library_module(name) and name.split(".")[0] in ("exo", "exo_lsp"):
                for v in list(getattr(m, "__dict__", {}).values()):
                    _bound[id(v)] = v
        _bound_modules[0] = len(sys.modules)
    return _bound.get(id(value)) is value


def _lives_in_library(value: Any) -> bool:
    if isinstance(value, (type, types.FunctionType)):
        return _library_module(value.__module__)
    return _bound_in_library(value)
