"""Cursors: their kinds, paths and one-line descriptions, and the node helpers of code
actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import exo.API as _api
import exo.API_cursors as _pc
from exo.core import internal_cursors as _ic
from exo.core import LoopIR_pprint as _pprint
from exo.core.LoopIR import LoopIR

from .printing import _one_line, _stmt_nodes

Procedure = _api.Procedure
Cursor = _pc.Cursor


@dataclass(frozen=True)
class NodeInfo:
    kind: str
    path: list[list[str | int]]
    text: str
    count: int
    srcinfo: Any  # exo SrcInfo or None
    header_only: bool  # loops and ifs: highlight the header line, not the body


_KIND = [
    (_pc.ForCursor, "loop"),
    (_pc.IfCursor, "if"),
    (_pc.AssignCursor, "assign"),
    (_pc.ReduceCursor, "reduce"),
    (_pc.AllocCursor, "alloc"),
    (_pc.CallCursor, "call"),
    (_pc.PassCursor, "pass"),
    (_pc.WindowStmtCursor, "window"),
    (_pc.AssignConfigCursor, "config"),
    (_pc.BlockCursor, "block"),
    (_pc.GapCursor, "gap"),
    (_pc.ArgCursor, "arg"),
    (_pc.ExprCursor, "expr"),
]


def cursor_kind(c: Cursor) -> str:
    for cls, kind in _KIND:
        if isinstance(c, cls):
            return kind
    return type(c).__name__


def _path_of(impl) -> list[list[str | int]]:
    if isinstance(impl, _ic.Node):
        return [[a, -1 if i is None else i] for a, i in impl._path]
    if isinstance(impl, _ic.Block):
        base = _path_of(impl._anchor)
        return base + [[impl._attr, impl._range.start, impl._range.stop]]
    if isinstance(impl, _ic.Gap):
        return _path_of(impl._anchor) + [["gap", impl._type.name.lower()]]
    return []


def cursor_key(c: Cursor) -> tuple:
    """Identity of a cursor for memo keys: its class, its proc and its path."""
    return (type(c).__name__, id(c._proc), repr(_path_of(c._impl)))


def describe_cursor(c: Cursor) -> NodeInfo:
    kind = cursor_kind(c)
    impl = c._impl
    path = _path_of(impl)
    if isinstance(c, _pc.BlockCursor):
        stmts = list(impl.resolve_all())
        first = _one_line(stmts[0]) if stmts else ""
        text = first if len(stmts) == 1 else f"{first} … ({len(stmts)} stmts)"
        si = _union_srcinfo([s.srcinfo for s in stmts])
        return NodeInfo(kind, path, text, len(stmts), si, len(stmts) == 1 and _is_compound(stmts[0]))
    if isinstance(c, _pc.GapCursor):
        anchor = impl.anchor()._node
        where = "before" if impl._type.name.lower() == "before" else "after"
        return NodeInfo(kind, path, f"gap {where}: {_one_line(anchor)}", 0, anchor.srcinfo, True)
    node = impl._node
    if isinstance(node, LoopIR.stmt):
        return NodeInfo(kind, path, _one_line(node), 1, node.srcinfo, _is_compound(node))
    if isinstance(c, _pc.ArgCursor):
        return NodeInfo(kind, path, _pprint._print_fnarg(node, _pprint.PrintEnv()), 1, node.srcinfo, False)
    if isinstance(node, LoopIR.expr):
        return NodeInfo(kind, path, _pprint._print_expr(node, _pprint.PrintEnv()), 1, node.srcinfo, False)
    return NodeInfo(kind, path, type(node).__name__, 1, getattr(node, "srcinfo", None), False)


def _is_compound(stmt) -> bool:
    return isinstance(stmt, (LoopIR.For, LoopIR.If))


def _union_srcinfo(infos):
    infos = [i for i in infos if i is not None]
    if not infos:
        return None
    first, last = infos[0], infos[-1]
    return type(first)(
        filename=first.filename,
        lineno=first.lineno,
        col_offset=first.col_offset,
        end_lineno=last.end_lineno,
        end_col_offset=last.end_col_offset,
    )


def flatten_cursors(value: Any) -> list[Cursor]:
    if isinstance(value, Cursor) and not isinstance(value, _pc.InvalidCursor):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            out.extend(flatten_cursors(v))
        return out
    return []


def cursor_proc(c) -> Procedure | None:
    """The proc a cursor (or a proc) points into."""
    if isinstance(c, Procedure):
        return c
    if isinstance(c, Cursor):
        return c._proc
    return None


def is_cursor_value(value: Any) -> bool:
    return bool(flatten_cursors(value))


# --------------------------------------------------------------------------- code actions: nodes
# The action finder (worker/queries/actions) walks procs through Exo's public cursors; these
# helpers give it what the public API lacks: a hashable identity for a node, a cursor
# rebuilt from a recorded path, one-line printing, and the statements that an algorithm
# source line became after scheduling (via srcinfo).


def cursor_is(c: Any, *class_names: str) -> bool:
    """Whether `c` is one of Exo's public cursor classes, named: "ForCursor", "InvalidCursor", ..."""
    return isinstance(c, tuple(getattr(_pc, n) for n in class_names))


def node_path(c: Cursor) -> tuple:
    """Hashable identity of a cursor's node in its proc: its internal path as tuples."""
    return tuple(tuple(x) for x in _path_of(c._impl))


def cursor_at_path(p: Procedure, path) -> Cursor:
    """The node of `p` at a node path (``[[attr, index], ...]``, index -1 for none)."""
    steps = [(str(a), None if i is None or i == -1 else int(i)) for a, i, *_ in path]
    return _pc.lift_cursor(_ic.Node(p._loopir_proc, steps), p)


def node_text(c: Cursor) -> str:
    """One line for a statement (the header of a loop or an if), or an expression."""
    node = c._impl._node
    if isinstance(node, LoopIR.stmt):
        return _one_line(node)
    return _pprint._print_expr(node, _pprint.PrintEnv())


def stmts_from_line(p: Procedure, filename: str, line: int) -> list[Cursor]:
    """Statements of `p` (pre-order) whose srcinfo starts at 1-based `line` of `filename`."""
    import os

    want = os.path.abspath(filename)
    out: list[Cursor] = []
    for path, s in _stmt_nodes(p._loopir_proc).items():
        si = s.srcinfo
        if si is not None and si.lineno == line and si.filename and os.path.abspath(si.filename) == want:
            out.append(cursor_at_path(p, path))
    return out


def source_lines(p: Procedure) -> tuple[str, int, int] | None:
    """(file, first, last) 1-based source lines the statements of `p` come from."""
    si = p._loopir_proc.srcinfo
    if si is None or not si.filename:
        return None
    last = si.lineno
    for s in _stmt_nodes(p._loopir_proc).values():
        if s.srcinfo is not None and s.srcinfo.filename == si.filename:
            last = max(last, s.srcinfo.end_lineno or s.srcinfo.lineno)
    return si.filename, si.lineno, last
