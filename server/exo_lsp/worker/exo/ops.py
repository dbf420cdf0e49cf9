"""Scheduling ops: their names, signatures and docs, and the nodes a step created."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import exo.API as _api
import exo.API_scheduling as _sched
from exo.core.LoopIR import LoopIR

from .listings import ProcListing, proc_listing

AtomicSchedulingOp = _sched.AtomicSchedulingOp
Procedure = _api.Procedure


def op_name(op: AtomicSchedulingOp) -> str:
    return getattr(op, "__name__", None) or op.func.__name__


def _arg_processor(op: AtomicSchedulingOp, param: str):
    for nm, argp in zip(op.sig.parameters, op.arg_procs):
        if nm == param:
            # ListA / ListOrElemA (bind_expr's expr_cursors, lift_alloc's lists) wrap the
            # processor of one element: what the argument is, is what that element is
            while isinstance(argp, _sched.ListA):
                argp = argp.elem_arg_proc
            return argp
    return None


def accepts_cursor(op: AtomicSchedulingOp, param: str) -> bool:
    return isinstance(_arg_processor(op, param), _sched.CursorArgumentProcessor)


def parameter_kind(op: AtomicSchedulingOp, param: str) -> str | None:
    """What a string for `param` is to Exo: "pattern" (matched in the proc), "window"
    (stage_mem's ``"A[i0:i0+4, k]"``), "expr" (an expression parsed where the op works:
    expand_dim's size and index), or None (a name, a tail strategy, ...)."""
    argp = _arg_processor(op, param)
    if isinstance(argp, _sched.CursorArgumentProcessor):
        return "pattern"
    if isinstance(argp, _sched.CustomWindowExprA):
        return "window"
    if isinstance(argp, _sched.NewExprA):
        return "expr"
    return None


def context_param(op: AtomicSchedulingOp, param: str) -> str | None:
    """The cursor parameter an expression argument is parsed next to (NewExprA's)."""
    argp = _arg_processor(op, param)
    return getattr(argp, "cursor_arg", None) if isinstance(argp, _sched.NewExprA) else None


def scheduling_op(name: str):
    f = getattr(_sched, name, None)
    return f if isinstance(f, AtomicSchedulingOp) else None


def op_signature(f) -> str:
    """``divide_loop(proc, loop_cursor, div_const, new_iters, tail='guard', perfect=False)``."""
    import inspect

    if isinstance(f, AtomicSchedulingOp):
        sig, name = f.sig, op_name(f)
    else:
        sig, name = inspect.signature(f), f.__name__
    params = []
    for prm in sig.parameters.values():
        text = prm.name
        if prm.kind is prm.VAR_POSITIONAL:
            text = "*" + text
        elif prm.kind is prm.VAR_KEYWORD:
            text = "**" + text
        if prm.default is not prm.empty:
            text += f"={prm.default!r}"
        params.append(text)
    return f"{name}({', '.join(params)})"


def op_doc(f) -> str:
    """The first paragraph of an op's docstring (Exo's own words), unwrapped."""
    import inspect

    doc = inspect.getdoc(f.func if isinstance(f, AtomicSchedulingOp) else f) or ""
    paragraph = []
    for line in doc.strip().splitlines():
        if not line.strip():
            if paragraph:
                break
            continue
        if re.match(r"^\s*(args|returns|rewrite)\s*:", line, re.I):
            break
        paragraph.append(line.strip())
    return " ".join(paragraph)


@dataclass
class Created:
    kind: str  # loop, alloc, call, load, store
    text: str
    line: int  # 0-based line in the listing of the proc after
    srcinfo: Any


def _stmt_names(s) -> tuple[set[str], set[str]]:
    """(buffers written, buffers read) by a simple statement."""
    written, read = set(), set()

    def reads(e):
        if isinstance(e, (LoopIR.Read, LoopIR.WindowExpr)):
            read.add(str(e.name))
        for attr in ("idx", "args"):
            for sub in getattr(e, attr, []) or []:
                if isinstance(sub, LoopIR.expr):
                    reads(sub)
        for attr in ("lhs", "rhs", "arg"):
            sub = getattr(e, attr, None)
            if isinstance(sub, LoopIR.expr):
                reads(sub)

    # a data move copies a value or a constant; a reduction or arithmetic is compute
    if isinstance(s, LoopIR.Assign) and isinstance(s.rhs, (LoopIR.Read, LoopIR.Const, LoopIR.WindowExpr)):
        written.add(str(s.name))
        reads(s.rhs)
    return written, read


def created_nodes(before: Procedure, after: Procedure, after_listing: ProcListing | None = None) -> list[Created]:
    """What a step added: loops, allocations, instruction calls, and the load/store
    statements or loop nests that move data in and out of a new buffer."""
    la = after_listing or proc_listing(after)
    lb = proc_listing(before)
    old: dict[str, int] = {}
    for path, s in lb.nodes.items():
        k = _created_key(lb, path, s)
        if k:
            old[k] = old.get(k, 0) + 1
    new_allocs = set()
    found: list[tuple[Created, Any, tuple]] = []
    for path in sorted(la.nodes, key=lambda p: la.spans[p][0]):
        s = la.nodes[path]
        k = _created_key(la, path, s)
        if not k:
            continue
        if old.get(k, 0) > 0:
            old[k] -= 1
            continue
        kind = k.split(":", 1)[0]
        line = la.spans[path][0]
        if kind == "alloc":
            new_allocs.add(str(s.name))
        found.append((Created(kind, la.lines[line].strip(), line, s.srcinfo), s, path))
    out = []
    inside_new_loop: list[tuple[int, int]] = []
    for c, s, path in found:
        if c.kind in ("loop", "assign") and new_allocs:
            inner = s
            while isinstance(inner, LoopIR.For) and len(inner.body) == 1:
                inner = inner.body[0]
            w, r = _stmt_names(inner)
            if w & new_allocs and not (r & new_allocs):
                c.kind = "load" if r else "init"
            elif r & new_allocs and not (w & new_allocs):
                c.kind = "store"
        if any(a <= c.line <= b for a, b in inside_new_loop):
            continue  # already told by the loop nest around it
        if c.kind == "assign":
            continue
        if isinstance(s, LoopIR.For) and c.kind in ("load", "store", "init"):
            span = la.spans[path]
            inside_new_loop.append((span[0] + 1, span[1]))
        out.append(c)
    return out


def _created_key(listing: ProcListing, path: tuple, s) -> str | None:
    text = listing.lines[listing.spans[path][0]].strip()
    if isinstance(s, LoopIR.For):
        return f"loop:{text}"
    if isinstance(s, LoopIR.Alloc):
        return f"alloc:{s.name}"
    if isinstance(s, LoopIR.Call):
        return f"call:{text}"
    if isinstance(s, (LoopIR.Assign, LoopIR.Reduce)):
        return f"assign:{text}"
    return None


def param_doc(f, param: str) -> str:
    """What an op's docstring says about one parameter (its ``args:`` section), unwrapped:
    ``tail`` of divide_loop -> 'specifies the strategy for handling the "remainder" ...'."""
    import inspect

    doc = inspect.getdoc(f.func if isinstance(f, AtomicSchedulingOp) else f) or ""
    lines = doc.splitlines()
    out: list[str] = []
    indent = None
    in_args = False
    for line in lines:
        if re.match(r"^\s*args\s*:", line, re.I):
            in_args = True
            continue
        if not in_args:
            continue
        if re.match(r"^\s*(returns|rewrite)\s*:", line, re.I):
            break
        m = re.match(r"^(\s*)(\w+)\s*(\(opt\w*\))?\s*[-:]\s+(.*)$", line)
        if m and (indent is None or len(m[1]) <= indent):
            if out:
                break
            if m[2] == param:
                indent = len(m[1])
                out.append(m[4].strip())
            continue
        if out:
            if not line.strip():
                break
            out.append(line.strip())
    return " ".join(out)
