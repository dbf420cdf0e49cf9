"""Pattern strings (what they look for, their ``#N`` selectors, their matches) and Exo's
error messages (op names put back, source locations)."""

from __future__ import annotations

import re
from collections import ChainMap

import exo
import exo.API as _api
import exo.API_cursors as _pc

Procedure = _api.Procedure
SchedulingError = exo.SchedulingError

_UNKNOWN_DIRECTIVE = "<<<unknown directive>>>"


def pattern_kind(pattern: str) -> tuple[str, str | None]:
    """What a pattern string looks for, and the name it names: ('loop', 'q'), ..."""
    base = re.sub(r"#\s*\d+\s*$", "", pattern).strip()
    if m := re.fullmatch(r"for\s+([A-Za-z_]\w*)\s+in\b.*", base, re.S):
        return "loop", m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)", base):
        return "loop", m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)\s*:.*", base, re.S):
        return "alloc", m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)\s*(\[.*\])?\s*(\+)?=.*", base, re.S):
        return ("reduce" if m[3] else "assign"), m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)\s*\(.*\)", base, re.S):
        return "call", m[1]
    if base.startswith("if"):
        return "if", None
    return "other", None


def split_selector(pattern: str) -> tuple[str, int | None]:
    """``"for i in _:_ #1"`` -> (``"for i in _:_"``, 1), as Exo's matcher splits it."""
    m = re.search(r"^([^#]+)#(\d+)\s*$", pattern)
    if m:
        return m[1], int(m[2])
    return pattern, None


def expand_shorthand(pattern: str, kind: str) -> str:
    """Exo's shorthand for loops (``"i"``, ``"i #1"``) and allocations (``"x"``)."""
    m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(#\s*\d+)?\s*", pattern)
    if not m:
        return pattern
    sel = f" #{m[2][1:].strip()}" if m[2] else ""
    if kind == "loop":
        return f"for {m[1]} in _: _{sel}"
    if kind == "alloc":
        return f"{m[1]} : _{sel}"
    return pattern


def count_matches(p: Procedure, pattern: str) -> int:
    """How many nodes `pattern` matches in `p` once its ``#N`` selector is dropped."""
    base = re.sub(r"#\s*\d+\s*$", "", pattern).strip()
    if re.fullmatch(r"[A-Za-z_]\w*", base):
        base = f"for {base} in _: _"
    try:
        return len(p.find(base, many=True))
    except Exception:
        return 0


def pattern_matches(p: Procedure, pattern: str, namespace: dict | None = None) -> list:
    """Every match of a pattern (its ``#N`` dropped) in `p`, in Exo's order, as cursors."""
    from exo.frontend import pyparser
    from exo.frontend.pattern_match import PatternMatch

    base, _ = split_selector(pattern)
    ns = namespace or {}
    p_ast = pyparser.pattern(base, filename="<pattern>", lineno=0, srclocals=ChainMap({}), srcglobals=ChainMap(ns))
    found = PatternMatch().find(p._root(), p_ast, match_no=None)
    return [_pc.lift_cursor(c, p) for c in found]


def is_pattern_miss(exc: BaseException) -> bool:
    return isinstance(exc, SchedulingError) and "failed to find matches" in str(exc)


_SRC_LOC = re.compile(r"(?P<file>[^\s:()@]+\.py):(?P<line>\d+):(?P<col>\d+)")


def clean_message(message: str, op: str | None) -> str:
    """Exo composes ops and loses their names; put the real one back."""
    text = message.strip()
    if op:
        text = text.replace(_UNKNOWN_DIRECTIVE, op)
    elif text.startswith(_UNKNOWN_DIRECTIVE + ": "):
        text = text[len(_UNKNOWN_DIRECTIVE) + 2 :]
    # "<class 'abc.LoopIR.For'> statement (@/long/path/isa.py:106:8)" -> "For statement (isa.py:106:8)";
    # the full locations stay available to locations_in_message on the original message.
    text = re.sub(r"<class '[\w.]*?\.(\w+)'>", r"\1", text)
    text = re.sub(r"\(@[^\s()]*?([^/\s()]+\.py:\d+:\d+)\)", r"(\1)", text)
    return text


def locations_in_message(message: str) -> list[tuple[str, int, int]]:
    """``file.py:line:col`` mentions in an Exo message (line 1-based, col in bytes)."""
    return [(m["file"], int(m["line"]), int(m["col"])) for m in _SRC_LOC.finditer(message)]
