"""Memo keys of one run's steps and procs (worker side).

An op call is keyed by its name and its arguments' keys (``memo.value_key``); a ``@proc``
by its source and the values of the names it reads. Two things are the run's own business:
classes the script defines are made again by every run, so they are keyed by their
source; and a value that cannot be keyed is said where the user can see it
(``run.unmemoised``: a hint on the line that will run again on every edit).
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
import weakref
from typing import Any

from ..shared.trace import Range, norm_path
from . import memo
from .exo import hooks


def value_key(run, v: Any, pins: list) -> Any:
    """memo.value_key, except for classes the script (or a sibling module it imports)
    defines: those are made again by every run (``class RVM_TILE(StaticMemory)``), so
    their id would miss every time; their source says what they do."""
    if isinstance(v, type) and defined_here(run, v):
        return class_key(v)
    return memo.value_key(v, pins)


_class_keys: "weakref.WeakKeyDictionary[type, tuple]" = weakref.WeakKeyDictionary()
_class_sources: dict[tuple, str] = {}  # (file, qualname, the file's text) -> the class's source


def class_key(cls: type) -> tuple:
    """("class", qualname, source): found once per class object (a run passes its memory
    class to many ops), and its source once per text of its file (inspect parses the
    whole module to find a class: tens of ms per call)."""
    key = _class_keys.get(cls)
    if key is not None:
        return key
    try:
        filename = inspect.getsourcefile(cls) or ""
        text = "".join(linecache.getlines(filename))
        where = (filename, cls.__qualname__, text)
        src = _class_sources.get(where)
        if src is None:
            if len(_class_sources) > 256:
                _class_sources.clear()
            src = _class_sources[where] = inspect.getsource(cls)
    except (OSError, TypeError):
        raise memo.Unkeyable(cls.__qualname__) from None
    key = _class_keys[cls] = ("class", cls.__qualname__, src)
    return key

def defined_here(run, cls: type) -> bool:
    if cls.__module__ == "__exo_lsp_script__":
        return True
    f = getattr(sys.modules.get(cls.__module__), "__file__", None) or ""
    return bool(f) and os.path.abspath(f).startswith(os.path.dirname(run.path) + os.sep) and "site-packages" not in f

def op_key(run, name: str, raw: dict[str, Any], rng: Range | None = None) -> tuple[tuple | None, tuple]:
    pins: list = []
    try:
        key = ("op", name) + tuple((k, value_key(run, v, pins)) for k, v in raw.items())
    except memo.Unkeyable as exc:
        if isinstance(exc, memo.NotMemoisable) and rng is not None:
            run.unmemoised.append((rng, f"`{name}` runs again on every edit: {exc}"))
        return None, ()
    return key, tuple(pins)

def proc_key(run, f, instr, frame) -> tuple[tuple | None, tuple]:
    try:
        filename, lineno, src, names = hooks.function_source_names(f)
    except (OSError, TypeError, SyntaxError):
        return None, ()
    pins: list = []
    env = []
    for n in names:
        if n in frame.f_locals:
            v = frame.f_locals[n]
        elif n in f.__globals__:
            v = f.__globals__[n]
        else:
            continue
        try:
            env.append((n, value_key(run, v, pins)))
        except memo.Unkeyable as exc:
            if isinstance(exc, memo.NotMemoisable) and norm_path(filename) == run.path:
                why = f"`{f.__name__}` is parsed again on every edit (and every step after it runs again): {exc}"
                run.unmemoised.append((run.lines.line_range(lineno - 1), why))
            return None, ()
    # In the script, not the line: a proc that only moved is the same proc (its positions
    # move with the edit, _follow_moved_lines); the same text defined twice is told apart
    # by its count. Other files (sibling modules) are not followed: there the line counts.
    where = () if norm_path(filename) == run.path else (lineno,)
    ident = (os.path.abspath(filename), *where, src, repr(instr), tuple(env))
    nth = run.definitions_seen[ident] = run.definitions_seen.get(ident, -1) + 1
    return ("proc", *ident, nth), tuple(pins)
