"""Procs and Exo's class state: what a value is, a proc's names and outline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import exo.API as _api
from exo.core.LoopIR import LoopIR
from exo.core.memory import Memory, StaticMemory

Procedure = _api.Procedure


def reset_exo_state() -> None:
    """StaticMemory keeps its free list at class level; a failed codegen leaves it dirty."""
    seen = set()
    todo = list(StaticMemory.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        reset = cls.__dict__.get("reset_allocations")
        if reset is not None:
            try:
                getattr(cls, "reset_allocations")()
                continue
            except Exception:
                pass
        size = len(getattr(cls, "is_chunk_allocated", []) or [])
        if size:
            cls.is_chunk_allocated = [False] * size


def is_memory_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Memory) and obj is not Memory


def is_procedure(obj: Any) -> bool:
    return isinstance(obj, Procedure)


def proc_name(p: Procedure) -> str:
    return str(p.name())


def proc_label(p: Any) -> str:
    """The name of a proc for a report; "?" when `p` is not one."""
    try:
        return str(p.name())
    except Exception:
        return str(getattr(getattr(p, "_loopir_proc", None), "name", "?"))


def instr_template(p: Procedure) -> str | None:
    instr = p._loopir_proc.instr
    return None if instr is None else instr.c_instr


def proc_srcinfo(p: Procedure):
    return p._loopir_proc.srcinfo


@dataclass
class ProcOutline:
    loops: list[str]
    allocs: list[str]
    args: list[str]
    assigned: list[str]  # buffers written by = or +=
    calls: list[str]


def outline(p: Procedure) -> ProcOutline:
    o = ProcOutline([], [], [], [], [])
    lp = p._loopir_proc
    o.args = [str(a.name) for a in lp.args]

    def add(lst, name):
        if name not in lst:
            lst.append(name)

    def walk(stmts):
        for s in stmts:
            if isinstance(s, LoopIR.For):
                add(o.loops, str(s.iter))
                walk(s.body)
            elif isinstance(s, LoopIR.If):
                walk(s.body)
                walk(s.orelse)
            elif isinstance(s, LoopIR.Alloc):
                add(o.allocs, str(s.name))
            elif isinstance(s, (LoopIR.Assign, LoopIR.Reduce)):
                add(o.assigned, str(s.name))
            elif isinstance(s, LoopIR.Call):
                add(o.calls, s.f.name)

    walk(lp.body)
    return o


def proc_names(p: Procedure) -> dict[str, list[str]]:
    """Names a pattern string can mention: loops, buffers (args and allocations), size
    and index arguments, and called procs."""
    from exo.core.LoopIR import T

    o = outline(p)
    lp = p._loopir_proc
    sizes = [str(a.name) for a in lp.args if a.type in (T.size, T.index)]
    buffers = [a for a in o.args if a not in sizes] + [a for a in o.allocs if a not in o.args]
    return {
        "loops": [str(x) for x in o.loops],
        "buffers": [str(x) for x in buffers],
        "sizes": sizes,
        "procs": [str(x) for x in o.calls],
    }


def is_extern(obj: Any) -> bool:
    from exo.core.extern import Extern

    return isinstance(obj, Extern)


def formatted_expr(obj: Any) -> tuple[str, tuple] | None:
    """(the text, the LoopIR nodes filling its holes) of a ``FormattedExprStr`` (what
    stdlib's halide helpers pass to ``cut_loop``), or None for anything else."""
    from exo.API_scheduling import FormattedExprStr

    if not isinstance(obj, FormattedExprStr):
        return None
    return obj._expr_str, tuple(obj._expr_holes)


def is_config(obj: Any) -> bool:
    from exo.core.configs import Config

    return isinstance(obj, Config)


def config_name(obj: Any) -> str:
    return str(obj.name())
