"""Hovers for the arguments that are not a pattern matched in the step's proc: what a
library helper's argument became in the primitives under it, stage_mem's window and
expand_dim's expressions (parsed in the proc), and procs passed as arguments (call_eqv's
equivalent, replace's instruction). Each says what it matched at that step."""

from __future__ import annotations

from ..exo import exprargs, listings, ops, procs
from ..exo.cursors import cursor_proc, describe_cursor, flatten_cursors
from ...shared.trace import Argument, Step, Target


def _descendants(state, step: Step):
    todo = list(step.children)
    while todo:
        s = state.trace.steps[todo.pop(0)]
        yield s
        todo.extend(s.children)


def _as_targets(name: str, cursors: list, known: list[Target]) -> list[Target]:
    """Targets for cursors a helper received (their origins from the ones its primitives
    recorded for the same node, where there is one)."""
    out = []
    for c in cursors:
        try:
            info = describe_cursor(c)
        except Exception:
            continue
        origin = next((t.origin for t in known if t.path == info.path and t.text == info.text), None)
        out.append(Target(name, info.kind, info.path, info.text, info.count, origin))
    return out


def helper_selection(state, step: Step, arg_name: str, p, targets: list[Target]):
    """(proc, cursors, targets) for an argument of a library helper (round_loop,
    tile_loops, dce, ...): a cursor is the node the helper received, in its own proc; a
    pattern is what the first primitive that received the same string resolved it to."""
    rt = state.runtime[step.index]
    value = rt.raw.get(arg_name)
    below = list(_descendants(state, step))
    known = [t for s in below for t in s.targets]
    cursors = flatten_cursors(value)
    if cursors:
        return cursor_proc(cursors[0]) or p, cursors, _as_targets(arg_name, cursors, known)
    if isinstance(value, (str, list, tuple)) and value:
        for s in below:
            crt = state.runtime.get(s.index)
            if crt is None or not crt.resolved:
                continue
            for name, raw in crt.raw.items():
                if name != "proc" and raw is value or (isinstance(value, str) and raw == value):
                    got = flatten_cursors(crt.resolved.get(name))
                    child_p = crt.raw.get("proc")
                    if got and procs.is_procedure(child_p):
                        return child_p, got, [t for t in s.targets if t.argument == name]
    return p, [], targets


def expression_selection(rt, arg_name: str, p) -> tuple[list, str, list[str]]:
    """(cursors to mark, the hover's first line, more lines) for a window or an expression
    argument, from what the op parsed it to."""
    cursors, kind = exprargs.argument_cursors(rt.op, arg_name, rt.resolved)
    value = rt.resolved.get(arg_name)
    more: list[str] = []
    if kind == "access":
        text = exprargs.window_text(value) or str(rt.raw.get(arg_name))
        n = len(cursors)
        buf = value[0] if isinstance(value, tuple) else "?"
        covers = f"covers {n} access{'es' if n != 1 else ''} to `{buf}` in the block" if n else f"no access to `{buf}` in the block"
        return cursors, f"**window** `{text}` · {covers}", more
    ctx_name = ops.context_param(rt.op, arg_name)
    ctx = rt.resolved.get(ctx_name or "")
    where = ""
    ctx_cursors = flatten_cursors(ctx)
    if ctx_cursors:
        try:
            where = f" · parsed at `{describe_cursor(ctx_cursors[0]).text}`"
        except Exception:
            where = ""
    for c in cursors:
        try:
            what = "loop" if describe_cursor(c).kind == "loop" else "argument"
            more.append(f"`{c.name()}` is the {what} `{describe_cursor(c).text}`")
        except Exception:
            continue
    return cursors + ctx_cursors, f"**expression** `{exprargs.expr_text(value)}`{where}", more


_PROC_ROLES = {
    "call_eqv": "replaces the call selected in `{proc}` (they must be equivalent)",
    "replace": "replaces the block selected in `{proc}` (its body must unify with it)",
    "replace_all": "replaces every block of `{proc}` its body unifies with",
    "inline": "is inlined",
}


def proc_argument_hover(state, step: Step, arg: Argument, value, p, where: str) -> dict | None:
    """A proc passed to an op: its signature and body, and what it matches in the step's proc."""
    from .resolve import _short, selection_block

    if not procs.is_procedure(value):
        return None
    other = [c for a in step.arguments if a.name not in ("proc", arg.name)
             for c in flatten_cursors(state.runtime[step.index].resolved.get(a.name) or None)]
    head = f"**proc** `{procs.proc_name(value)}`"
    role = _PROC_ROLES.get(step.op)
    if role:
        head += " · " + role.format(proc=step.proc_name)
    parts = [f"{head}  \n`{_short(arg.text, 50)}` — {where}"]
    marked: list[str] = []
    if other:
        body, marked = selection_block(p, other)
        parts.append(f"```python\n{body}\n```")
    lst = listings.proc_listing(value)
    shown = lst.lines[:14] + (["    …"] if len(lst.lines) > 14 else [])
    parts.append(f"`{procs.proc_name(value)}`:\n```python\n" + "\n".join(shown) + "\n```")
    return {"markdown": "\n\n".join(parts), "kind": "proc", "marked": marked, "match": None}


def value_hover(state, step: Step, arg: Argument, value, where: str) -> dict | None:
    """A string the op does not resolve in the proc (a new name, a tail strategy): what
    it is, in the op's own words."""
    from .resolve import _short

    if not isinstance(value, str):
        return None
    rt = state.runtime[step.index]
    f = rt.op if rt.op is not None else state.namespace.get(step.op)
    doc = ops.param_doc(f, arg.name) if f is not None and callable(f) else ""
    line = f"**`{arg.name}`** of `{step.op}`: `{_short(value, 60)}`"
    parts = [f"{line}  \n{where}"]
    if doc:
        parts.append(doc)
    return {"markdown": "\n\n".join(parts), "kind": "value", "marked": [], "match": None}
