"""Cursor lookups memoised (worker side).

``p.find("for i in _:_")``, ``p.forward(c)``, ``c.next()``, ``c.body()[0]`` are not
scheduling ops, but a schedule written through helpers (``fuse_all_loops(p, c)``,
stdlib's ``replace_all``, which tries ``proc.find(f"_ = _ #{i}")`` until it fails) calls
them hundreds of times, and pattern matching is most of what a fully memoised run would
still spend. Every lookup is a pure function of its receiver (a proc, or a cursor: its
proc and its path), its arguments, and, for a pattern, the Python values of the names the
pattern mentions in the frame Exo evaluates it in: that is its key. A hit returns the very
cursor the last run got (same proc object, same path), so every op it is passed to keys as
before (``memo.value_key``: a cursor is its kind, its proc and its path, not its identity)
and hits too. What a lookup written in the script showed (its targets) is kept with the
entry, so recording it again prints nothing.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from . import memo, run_keys
from .exo import cursors

_COUNT_SUFFIX = re.compile(r"^([^#]+)#(\d+)\s*$")  # as Exo's match_pattern strips it


@functools.lru_cache(maxsize=4096)
def pattern_names(pattern: str) -> tuple[str, ...] | None:
    """The Python names a pattern mentions (Exo evaluates a memory, a config, an extern or
    a called proc by its name in the caller's frame); None if it does not parse (then the
    lookup is not memoised: Exo reports the error)."""
    m = _COUNT_SUFFIX.match(pattern)
    text = m[1] if m else pattern
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    return tuple(sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id != "_"}))


_MISSING = object()


class RunLookups:
    """One run's view of the lookup memo (the hooks call it from the wrapped methods)."""

    def __init__(self, run, table: memo.MemoTable) -> None:
        self.run = run
        self.table = table

    def key(self, name: str, receiver, args: tuple, kwargs: dict, eval_frame) -> tuple[tuple, tuple] | None:
        """(key, pins) of a lookup, or None when one of its inputs cannot be keyed."""
        pins: list = []
        try:
            if isinstance(receiver, cursors.Cursor):
                rkey = memo.value_key(receiver, pins)
            elif cursors.cursor_proc(receiver) is receiver:  # a Procedure
                pins.append(receiver)
                rkey = ("proc", id(receiver))
            else:
                return None
            parts = tuple(run_keys.value_key(self.run, a, pins) for a in args)
            named = tuple(sorted((k, run_keys.value_key(self.run, v, pins)) for k, v in kwargs.items()))
            env: tuple = ()
            if name == "find":
                names = pattern_names(args[0]) if args and isinstance(args[0], str) else None
                if names is None or eval_frame is None:
                    return None
                env = tuple((n, self._name_key(n, eval_frame, pins)) for n in names)
        except Exception:  # Unkeyable, or a value of the script's that fails to describe itself
            return None
        return ("lookup", name, rkey, parts, named, env), tuple(pins)

    def _name_key(self, name: str, frame, pins: list) -> Any:
        v = frame.f_locals.get(name, _MISSING)
        if v is _MISSING:
            v = frame.f_globals.get(name, _MISSING)
        if v is _MISSING:
            return ("unbound",)
        return run_keys.value_key(self.run, v, pins)

    def get(self, key: tuple) -> memo.Entry | None:
        return self.table.get(key)

    def put(self, key: tuple, pins: tuple, result, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, Exception):
            return  # the run was stopped or cancelled inside it: not the lookup's answer
        # a list (find(..., many=True)) is the script's to change: the memo keeps its own
        self.table.put(key, exc if exc is not None else _own(result), None, pins)

    @staticmethod
    def answer(entry: memo.Entry):
        """The value a hit gives the script: a copy of a list, the cursor itself otherwise
        (cursors are immutable)."""
        return _own(entry.value)


def _own(value):
    return list(value) if isinstance(value, list) else value


def follow_moves(table: memo.MemoTable, move) -> None:
    """Lines moved by an edit: a failed lookup's message may name old lines (dropped, it
    runs again); the targets kept for recording move with the lines."""
    for key, e in list(table.entries.items()):
        if isinstance(e.value, BaseException):
            del table.entries[key]
        elif e.extra is not None:
            e.extra = [move(t) for t in e.extra]
