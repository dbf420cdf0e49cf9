"""A proc's arguments as plain values.

What compile & simulate (rvm/harness.py) needs to know about a proc's arguments to
declare and fill them: kind, element type, shape and memory. Shapes are size expressions:
an int, a size argument's name, or a SizeOp of two of them; any other expression is a
SizeOpaque. Both keep Exo's printing of the expression for messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import exo.API as _api
from exo.core.LoopIR import LoopIR

Procedure = _api.Procedure


@dataclass(frozen=True)
class SizeOp:
    op: str  # Exo's binary operator: "+", "-", "*", "/" or "%" in a shape
    lhs: "SizeExpr"
    rhs: "SizeExpr"
    text: str  # as Exo prints it, e.g. "(n + 8) / 4"


@dataclass(frozen=True)
class SizeOpaque:
    text: str  # an expression that is neither a constant, a name nor a binary operation


SizeExpr = int | str | SizeOp | SizeOpaque


@dataclass(frozen=True)
class FnArgInfo:
    name: str
    #: "size"; "scalar" or "tensor" (numeric); "other" (index, bool, stride, ...)
    kind: str
    type_text: str  # the type as Exo prints it: "size", "i8", "f32[n + 1, 4]", "[i32][4]"
    elem_type: str | None  # scalars and tensors: "i32", "i8", "f32", ...
    shape: list[SizeExpr]  # tensors; [] otherwise
    window: bool  # a window argument ``[T][...]``
    mem: str | None  # the memory class's name; None when Exo records none


@dataclass(frozen=True)
class ProcSignature:
    name: str
    args: list[FnArgInfo]


def _size_expr(e) -> SizeExpr:
    if isinstance(e, LoopIR.Const):
        return int(e.val)
    if isinstance(e, LoopIR.Read) and not e.idx:
        return str(e.name)
    if isinstance(e, LoopIR.BinOp):
        return SizeOp(str(e.op), _size_expr(e.lhs), _size_expr(e.rhs), str(e))
    return SizeOpaque(str(e))


def proc_signature(p: Procedure) -> ProcSignature:
    """The name and arguments of `p` (an ``exo.Procedure``, or its LoopIR proc)."""
    from exo.core.LoopIR import T

    lp = getattr(p, "_loopir_proc", p)
    args = []
    for fa in lp.args:
        ty = fa.type
        if ty == T.size:
            kind = "size"
        elif ty in (T.index, T.bool, T.stride) or not ty.is_numeric():
            kind = "other"
        else:
            kind = "scalar" if ty.is_real_scalar() else "tensor"
        numeric = kind in ("scalar", "tensor")
        args.append(
            FnArgInfo(
                name=str(fa.name),
                kind=kind,
                type_text=str(ty),
                elem_type=str(ty.basetype()) if numeric else None,
                shape=[_size_expr(e) for e in ty.shape()] if kind == "tensor" else [],
                window=numeric and ty.is_win(),
                mem=fa.mem.name() if fa.mem is not None else None,
            )
        )
    return ProcSignature(str(lp.name), args)
