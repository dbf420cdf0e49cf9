"""Created cursors, in the editor (``write.bind``): for a step that created nodes
(``stage_mem``'s allocation, load and store; ``divide_loop``'s loops; ``replace``'s call,
...), one cursor expression per node that selects it in the step's output proc.

This is the "returning relevant cursors" proposal done by the tool instead of the op: the
nodes come from ``ops.created_nodes`` (what op hovers list), and each expression is
checked by evaluating it, in order, against the output proc, with the proc variable and the
names bound so far in scope: an expression that does not select its node is never offered.
Navigation from the node bound just before (``tile_alloc.next()``) is preferred to a
pattern, the way a user would write it; a pattern (with ``#N``) is the fallback.
"""

from __future__ import annotations

import re

from ..exo import cursors, listings, ops
from ..exo import completion_support as cs
from ...shared.contract import BindParams, BindResult, BoundLine
from . import handles
from .complete import safe_eval
from .resolve import _bind as bind_tracer, _state


def _name_for(kind: str, node_text: str, last_alloc: str | None) -> str:
    if kind == "alloc":
        return f"{node_text.split(':', 1)[0].strip()}_alloc"
    if kind in ("load", "store", "init", "assign", "reduce"):
        return f"{last_alloc}_{kind}" if last_alloc else kind
    if kind == "loop":
        m = re.match(r"for\s+(\w+)", node_text)
        return f"{m.group(1)}_loop" if m else "loop"
    if kind == "call":
        m = re.match(r"(\w+)\s*\(", node_text)
        return f"{m.group(1)}_call" if m else "call"
    return kind


def _fresh(name: str, taken: set[str]) -> str:
    out, n = name, 1
    while out in taken or not out.isidentifier():
        n += 1
        out = f"{name}_{n}" if name.isidentifier() else f"node_{n}"
    taken.add(out)
    return out


def _candidates(var: str, st: cs.Stmt | None, prev: tuple[str, tuple] | None, path: tuple) -> list[str]:
    out = []
    if prev is not None:
        pname, ppath = prev
        if ppath[:-1] == path[:-1] and ppath[-1][0] == path[-1][0]:
            d = path[-1][1] - ppath[-1][1]
            if d == 1:
                out.append(f"{pname}.next()")
            elif d > 1:
                out.append(f"{pname}.next({d})")
        if path[: len(ppath)] == ppath and len(path) == len(ppath) + 1 and path[-1] == ("body", 0):
            out.append(f"{pname}.body()[0]")
    if st is not None:
        if st.kind == "loop":
            sel = st.pattern[st.pattern.rindex(" #"):] if " #" in st.pattern else ""
            out.append(f'{var}.find_loop("{st.name}{sel}")')
        else:
            out.append(f'{var}.find("{st.pattern}")')
    return out


def bind_lines(p_in, p_out, var: str, taken: set[str], namespace: dict) -> list[BoundLine]:
    lst = listings.proc_listing(p_out)
    created = ops.created_nodes(p_in, p_out, lst)
    by_line = {span[0]: path for path, span in lst.spans.items()}
    stmts = {st.path: st for st in cs.statements(p_out, None, namespace)}
    env = dict(namespace)
    env[var] = p_out
    # created_nodes keys loops and calls by their printed line, so a step that only rewrote
    # their expressions (simplify, unroll_buffer) lists them too: keep those whose name
    # really has more statements than before
    more = {k for k, n in _name_counts(p_out, namespace).items() if n > _name_counts(p_in, namespace).get(k, 0)}
    nodes = [(c.line, c.kind, c.text) for c in created]
    # created_nodes leaves out computations (bind_expr's `prod = A[...] * B[...]`): the
    # assignment right after a new allocation, to it, was made by the step too (uses of the
    # new buffer further away are the staged block itself, rewritten, not new)
    listed = {c.line for c in created}
    for c in created:
        path = by_line.get(c.line)
        if c.kind != "alloc" or path is None:
            continue
        nxt = stmts.get(path[:-1] + ((path[-1][0], path[-1][1] + 1),))
        if (nxt is not None and nxt.kind in ("assign", "reduce") and nxt.line not in listed
                and nxt.name == c.text.split(":", 1)[0].strip()):
            nodes.append((nxt.line, nxt.kind, nxt.text))
    nodes.sort()
    out: list[BoundLine] = []
    prev: tuple[str, tuple] | None = None
    last_alloc: str | None = None
    for line, kind, text in nodes:
        path = by_line.get(line)
        if path is None:
            continue
        st = stmts.get(path)
        if kind in ("loop", "call") and st is not None and (st.kind, st.name) not in more:
            continue
        want = tuple(tuple(x) for x in path)
        for expr in _candidates(var, st, prev, path):
            try:
                got = cursors.flatten_cursors(safe_eval(expr, env))
            except Exception:
                continue
            if len(got) == 1 and cs.stmt_key(got[0]) == want:
                name = _fresh(_name_for(kind, text, last_alloc), taken)
                env[name] = got[0]
                out.append(BoundLine(name=name, expr=expr, kind=kind, text=text))
                prev = (name, path)
                if kind == "alloc":
                    last_alloc = text.split(":", 1)[0].strip()
                break
    return out


def _name_counts(p, namespace) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for st in cs.statements(p, {"loop", "call"}, namespace):
        out[(st.kind, st.name)] = out.get((st.kind, st.name), 0) + 1
    return out


@handles(BindParams)
def bind(tracer, path: str, params: BindParams) -> BindResult | None:
    bind_tracer(tracer)
    state = _state(tracer, path, params.version)
    if state is None or not 0 <= params.step < len(state.trace.steps):
        return None
    step = state.trace.steps[params.step]
    if not step.ok or step.proc_in is None or step.proc_out is None or step.changed is False:
        return BindResult(op=step.op)
    p_in, p_out = tracer.registry.get(step.proc_in), tracer.registry.get(step.proc_out)
    if p_in is None or p_out is None:
        return BindResult(op=step.op)
    taken = set(params.taken) | set(state.namespace)
    return BindResult(op=step.op, lines=bind_lines(p_in, p_out, params.var, taken, state.namespace))
