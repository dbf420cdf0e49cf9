"""Where actions apply: the place a request names (a step's argument, an algorithm line,
a view line, node paths, or the whole proc), and what the script sees there."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ....shared.contract import ActionsParams
from ...exo import procs
from ...exo.cursors import cursor_at_path, flatten_cursors, source_lines, stmts_from_line
from .. import views as view_queries
from .nodes import _is


@dataclass
class Scope:
    """What the script sees at the place: the proc variable, instructions and memories."""

    var: str
    namespace: dict
    instrs: list[tuple[str, Any]]  # (name in the script, @instr proc)
    memories: dict[Any, str]  # Memory class -> name in the script


def build_scope(state, step_index: int | None, var: str) -> Scope:
    ns: dict = {}
    frame = None
    if step_index is not None:
        rt = state.runtime.get(step_index)
        frame = rt.frame if rt is not None else None
    if frame is not None:
        ns.update(frame.f_globals)
        if frame.f_locals is not frame.f_globals:
            ns.update(frame.f_locals)
    else:
        ns.update(state.namespace)
    instrs: list[tuple[str, Any]] = []
    seen: set[int] = set()
    memories: dict[Any, str] = {}

    def add_instr(name, v):
        if id(v) not in seen and procs.instr_template(v) is not None:
            seen.add(id(v))
            instrs.append((name, v))

    for name, v in list(ns.items()):
        if name.startswith("__"):
            continue
        if procs.is_procedure(v):
            add_instr(name, v)
        elif procs.is_memory_class(v):
            memories.setdefault(v, name)
        elif type(v).__name__ == "module" and getattr(v, "__name__", "").startswith("exo.platforms"):
            for attr, w in vars(v).items():
                if procs.is_procedure(w) and not attr.startswith("_"):
                    add_instr(f"{name}.{attr}", w)
    return Scope(var, ns, instrs, memories)


def _forwarded(p_out, cursors):
    out = []
    for c in cursors:
        try:
            f = p_out.forward(c)
        except Exception:
            continue
        if _is(f, "InvalidCursor"):
            continue
        if _is(f, "GapCursor"):
            try:
                f = f.anchor()
            except Exception:
                continue
        out.append(f)
    return out


def _steps_with_var(trace, vars_: dict) -> list:
    return [s for s in trace.steps if s.parent is None and s.ok and s.proc_out is not None and str(s.index) in vars_]


def resolve_place(tracer, path: str, params: ActionsParams):
    """(step, proc handle, proc, nodes, whole-proc?) for the place in `params`."""
    state = tracer.runs.get(os.path.abspath(path))
    if state is None:
        raise KeyError(f"{path} has not been run")
    trace = state.trace
    place, vars_ = params.place, params.vars
    kind = place.kind
    if kind == "algo_line":
        line1 = place.line + 1
        for s in reversed(_steps_with_var(trace, vars_)):
            alg = state.algorithms.get(s.proc_out)
            span = source_lines(alg) if alg is not None else None
            if span and os.path.abspath(span[0]) == os.path.abspath(path) and span[1] <= line1 <= span[2]:
                p = tracer.registry.get(s.proc_out)
                nodes = stmts_from_line(p, path, line1)[:3]
                return state, s.index, s.proc_out, p, nodes, not nodes
        return state, None, None, None, [], False
    step = params.step
    if step is None or not 0 <= step < len(trace.steps):
        return state, None, None, None, [], False
    s = trace.steps[step]
    handle = params.handle or s.proc_out
    p = tracer.registry.get(handle) if handle is not None else None
    if p is None:
        return state, None, None, None, [], False
    if kind == "arg":
        rt = state.runtime.get(s.index)
        value = rt.resolved.get(place.arg) if rt is not None else None
        cursors = flatten_cursors(value)
        nodes = _forwarded(p, cursors) if cursors else []
        return state, s.index, handle, p, nodes, not nodes
    if kind == "paths":  # nodes named by their paths in the proc (benchmarks, tests)
        nodes = [cursor_at_path(p, path) for path in place.paths]
        return state, s.index, handle, p, nodes, not nodes
    if kind == "view_line":  # the views' own line map
        path_ = view_queries.stmt_at_line(tracer, handle, place.line)
        c = cursor_at_path(p, path_) if path_ is not None else None
        return state, s.index, handle, p, ([c] if c is not None else []), c is None
    return state, s.index, handle, p, [], True
