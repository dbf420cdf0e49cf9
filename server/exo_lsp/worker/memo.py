"""Memo tables that make re-runs incremental.

Exo procs are immutable and scheduling is deterministic, so a primitive applied to the
same proc object with the same arguments gives the same result, and a ``@proc`` parsed
from the same source against the same names gives the same proc (when an edit only moved
it, the tracer moves its source positions along: ``Tracer._follow_moved_lines``).
Keys hold strong references to every object whose ``id`` they use, so an id cannot be
reused by another object while its entry lives. Entries unused for a few runs are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .exo import cursors, procs

KEEP_RUNS = 3  # a run may reuse entries made by any of the previous few runs


class Unkeyable(Exception):
    """An argument we cannot key soundly (e.g. an arbitrary object): do not memoize."""


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
    """A hashable, sound key for a scheduling argument."""
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
    if isinstance(value, type) or callable(value):
        # classes and functions from imported modules live as long as the worker
        pins.append(value)
        return ("obj", id(value))
    raise Unkeyable(type(value).__name__)
