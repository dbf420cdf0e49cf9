"""Arguments an op parses as expressions in the proc (not patterns it matches): stage_mem's
window ``"A[i0:i0+4, k]"`` and expand_dim's size and index (``16``, ``"j"``). What they
"select" is what a user needs to check them: the accesses a window covers, and the loops
and arguments the names of an expression are bound to at the place the op parses it."""

from __future__ import annotations

from typing import Any

import exo.API_cursors as _pc
from exo.core import LoopIR_pprint as _pprint
from exo.core.LoopIR import LoopIR

from .cursors import cursor_at_path, node_path
from .printing import _stmt_nodes

Cursor = _pc.Cursor


def expr_text(e: Any) -> str:
    """A parsed expression (or a window's (lo, hi) pair) as Exo prints it."""
    if isinstance(e, tuple) and len(e) == 2:
        return f"{expr_text(e[0])}:{expr_text(e[1])}"
    if isinstance(e, LoopIR.expr):
        return _pprint._print_expr(e, _pprint.PrintEnv())
    return str(e)


def window_text(win: Any) -> str | None:
    """``C[i, 0:16]`` for stage_mem's resolved window (name, [point or (lo, hi)])."""
    if not (isinstance(win, tuple) and len(win) == 2 and isinstance(win[0], str)):
        return None
    name, idx = win
    return f"{name}[{', '.join(expr_text(e) for e in idx)}]" if idx else name


def _names_in(e: Any, out: set[str]) -> set[str]:
    if isinstance(e, (list, tuple)):
        for x in e:
            _names_in(x, out)
        return out
    if isinstance(e, (LoopIR.Read, LoopIR.WindowExpr)):
        out.add(str(e.name))
    if isinstance(e, (LoopIR.Assign, LoopIR.Reduce, LoopIR.WindowStmt)):
        out.add(str(e.name))
    for attr in ("idx", "args", "w_args"):
        for sub in getattr(e, attr, None) or []:
            _names_in(sub, out)
    for attr in ("lhs", "rhs", "arg", "lo", "hi", "pt", "cond"):
        sub = getattr(e, attr, None)
        if isinstance(sub, (LoopIR.expr, LoopIR.w_access)):
            _names_in(sub, out)
    return out


def window_accesses(p, block: Any, win: Any) -> list[Cursor]:
    """The statements in the staged block that read or write the window's buffer."""
    if not (isinstance(win, tuple) and isinstance(win[0], str)) or not isinstance(block, Cursor):
        return []
    name = win[0]
    try:
        stmts = [block] if not isinstance(block, _pc.BlockCursor) else list(block)
        prefixes = [node_path(c) for c in stmts]
    except Exception:
        return []
    out = []
    for path, s in _stmt_nodes(p._loopir_proc).items():
        if isinstance(s, (LoopIR.For, LoopIR.If)):
            continue
        if any(tuple(path[: len(pre)]) == pre for pre in prefixes) and name in _names_in(s, set()):
            out.append(cursor_at_path(p, [list(x) for x in path]))
    return out


def expr_binders(p, context: Any, expr: Any) -> list[Cursor]:
    """The loops around `context` and the proc's arguments that bind the names `expr` uses."""
    names = _names_in(expr, set())
    if not names or not isinstance(context, Cursor):
        return []
    out: list[Cursor] = []
    c = context
    while isinstance(c, _pc.ExprCursor):
        c = c.parent()
    if isinstance(c, _pc.GapCursor):
        c = c.anchor()
    try:
        while isinstance(c, Cursor) and not isinstance(c, _pc.InvalidCursor):
            if isinstance(c, _pc.ForCursor) and c.name() in names:
                out.append(c)
                names.discard(c.name())
            parent = c.parent()
            if parent == c:
                break
            c = parent
    except Exception:
        pass
    for a in p.args():
        if a.name() in names:
            out.append(a)
    return out


def argument_cursors(op, param: str, resolved: dict[str, Any]) -> tuple[list[Cursor], str | None]:
    """What an expression argument selects, and the target kind to record it as: the
    accesses a window covers ("access"), the binders of an expression's names ("binder")."""
    from .ops import context_param, parameter_kind

    kind = parameter_kind(op, param)
    p = resolved.get("proc")
    ctx = resolved.get(context_param(op, param) or "")
    if p is None or kind is None or kind == "pattern":
        return [], None
    try:
        if kind == "window":
            return window_accesses(p, ctx, resolved.get(param)), "access"
        return expr_binders(p, ctx, resolved.get(param)), "binder"
    except Exception:  # a description must never fail the step
        return [], None
