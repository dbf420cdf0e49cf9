"""Nodes through Exo's public cursors: kinds, constants, neighbours, walks, and pattern
strings in the style of schedules that select exactly one node."""

from __future__ import annotations

from ...exo import procs
from ...exo.cursors import cursor_is, node_path


def _is(c, cls_name: str) -> bool:
    return cursor_is(c, cls_name)


def _const(e) -> int | None:
    if _is(e, "LiteralCursor") and isinstance(e.value(), int) and not isinstance(e.value(), bool):
        return e.value()
    return None


def _trip(loop) -> int | None:
    lo, hi = _const(loop.lo()), _const(loop.hi())
    return None if lo is None or hi is None else hi - lo


def _parent_stmt(c):
    par = c.parent()
    if par is None or _is(par, "InvalidCursor"):
        return None
    return par if (_is(par, "ForCursor") or _is(par, "IfCursor")) else None


def _siblings_after(c):
    try:
        n = c.next()
    except Exception:
        return None
    return None if _is(n, "InvalidCursor") else n


def _siblings_before(c):
    try:
        n = c.prev()
    except Exception:
        return None
    return None if _is(n, "InvalidCursor") else n


def _walk(stmts):
    for s in stmts:
        yield s
        if _is(s, "ForCursor"):
            yield from _walk(s.body())
        elif _is(s, "IfCursor"):
            yield from _walk(s.body())
            orelse = s.orelse()
            if not _is(orelse, "InvalidCursor"):
                yield from _walk(orelse)


def _exprs(e):
    yield e
    if _is(e, "BinaryOpCursor"):
        yield from _exprs(e.lhs())
        yield from _exprs(e.rhs())
    elif _is(e, "UnaryMinusCursor"):
        yield from _exprs(e.arg())
    elif _is(e, "ReadCursor"):
        for i in e.idx():
            yield from _exprs(i)
    elif _is(e, "ExternFunctionCursor"):
        for a in e.args():
            yield from _exprs(a)


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stmt_pattern(c) -> str | None:
    """A pattern string in the style of schedules for one statement (without ``#N``)."""
    if _is(c, "ForCursor"):
        return f"for {c.name()} in _:_"
    if _is(c, "IfCursor"):
        return "if _:_"
    if _is(c, "AllocCursor"):
        return f"{c.name()} : _"
    if cursor_is(c, "AssignCursor", "ReduceCursor"):
        op = "+=" if _is(c, "ReduceCursor") else "="
        return f"{c.name()}[_] {op} _" if len(c.idx()) else f"{c.name()} {op} _"
    if _is(c, "CallCursor"):
        return f"{c.subproc().name()}(_)"
    if _is(c, "PassCursor"):
        return "pass"
    return None


class Namer:
    """Pattern strings that select exactly one node, checked against the proc."""

    def __init__(self, p) -> None:
        self.p = p
        self._matches: dict[str, list[tuple]] = {}

    def matches(self, pattern: str) -> list[tuple]:
        got = self._matches.get(pattern)
        if got is None:
            try:
                found = self.p.find(pattern, many=True)
                got = [node_path(c) for c in found]
            except Exception:
                got = []
            self._matches[pattern] = got
        return got

    def select(self, base: str | None, c) -> str | None:
        if base is None:
            return None
        found = self.matches(base)
        want = node_path(c)
        if want not in found:
            return None
        return base if len(found) == 1 else f"{base} #{found.index(want)}"

    def stmt(self, c) -> str | None:
        return self.select(stmt_pattern(c), c)

    def nest(self, outer, inner) -> str | None:
        """``"x y"`` (or ``"x y #N"``) for a loop and the loop that is its whole body."""
        base = f"for {outer.name()} in _:\n  for {inner.name()} in _: _"
        found = self.matches(base)
        want = node_path(outer)
        if want not in found:
            return None
        short = f"{outer.name()} {inner.name()}"
        return short if len(found) == 1 else f"{short} #{found.index(want)}"

    def names(self) -> set[str]:
        o = procs.outline(self.p)
        return set(o.loops) | set(o.allocs) | set(o.args)

    def fresh(self, *wanted: str) -> list[str]:
        taken = self.names()
        out = []
        for w in wanted:
            name, k = w, 1
            while name in taken or name in out:
                name = f"{w}{k}"
                k += 1
            out.append(name)
        return out
