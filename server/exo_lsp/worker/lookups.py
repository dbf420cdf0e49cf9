"""Records cursor lookups written in a script (worker side).

``p.find_loop("c")``, ``p.find("acc[_] = 0").after()``, ``c.body()[0]``, ``p.forward(c)``
return cursors without being scheduling ops, so the op hook never sees them. The
lookup hooks (``exo/hooks.py``) wrap those methods and report each call made from the
script's own code; the tracer hands it here. A lookup is placed by the code position of
the call in the script's frame (the call expression, or the subscript for ``[i]``),
exactly as steps are.
"""

from __future__ import annotations

import ast

from .exo import cursors, patterns, procs
from ..shared.trace import Argument, Lookup

# names of the positional parameters of the wrapped methods, for Argument.name
_PARAMS = {
    "find": ["pattern", "many"],
    "find_loop": ["pattern", "many"],
    "find_alloc_or_arg": ["pattern"],
    "find_all": ["pattern"],
    "forward": ["cursor"],
    "expand": ["delta_lo", "delta_hi"],
    "prev": ["dist"],
    "next": ["dist"],
    "__getitem__": ["index"],
}
PATTERN_METHODS = frozenset({"find", "find_loop", "find_alloc_or_arg", "find_all"})


def record_lookup(run, method: str, receiver, args: tuple, kwargs: dict, frame, result, exc, memo_entry=None) -> None:
    """Called by the tracer (``_ScriptRun.lookup_done``) for each lookup in the script.
    `memo_entry`: the lookup's memo entry (a hit) or its (key, pins) (just computed): the
    targets described once are kept there and reused."""
    site = run._call_site(frame)
    arguments = _arguments(run, method, site, args, kwargs, frame)
    proc = cursors.cursor_proc(receiver)
    handle = run.t.registry.handle(proc) if proc is not None else None
    entry = memo_entry
    if isinstance(memo_entry, tuple):
        entry = run.t.lookup_table.entries.get(memo_entry[0])
    targets = []
    if exc is None:
        targets = entry.extra if entry is not None and entry.extra is not None else run._targets({"result": result})
        if entry is not None:
            entry.extra = targets
    error = None
    if exc is not None:
        error = patterns.clean_message(str(exc), method) or type(exc).__name__
    lk = Lookup(
        index=len(run.lookups),
        method=method,
        range=site.range,
        line=site.range.start.line,
        arguments=arguments,
        proc_name=procs.proc_name(proc) if proc is not None else "",
        proc=handle,
        targets=targets,
        ok=exc is None,
        error=error,
        after_step=len(run.steps),
    )
    run.lookups.append(lk)
    run.lookup_values[lk.index] = (receiver, result)


def _arguments(run, method: str, site, args: tuple, kwargs: dict, frame=None) -> list[Argument]:
    names = _PARAMS.get(method, [f"arg{i}" for i in range(len(args))])
    values = dict(zip(names, args))
    values.update(kwargs)
    nodes: dict[str, ast.AST] = {}
    node = site.node
    if node is not None and not any(isinstance(a, ast.Starred) for a in node.args):
        nodes.update(zip(names, node.args))
        nodes.update({kw.arg: kw.value for kw in node.keywords if kw.arg})
    out = []
    for name, value in values.items():
        n = nodes.get(name)
        if n is None and name == "many" and value is False:
            continue  # the default, not written
        rng = None
        if n is not None:
            rng = run.lines.range(n.lineno, n.col_offset, n.end_lineno, n.end_col_offset)
        if isinstance(value, str) and method in PATTERN_METHODS and name == "pattern":
            kind = "pattern"
        elif cursors.is_cursor_value(value):
            kind = "cursor"
        elif procs.is_procedure(value):
            kind = "proc"
        else:
            kind = "value"
        text = run.lines.text_of(rng) if rng is not None else repr(value)
        out.append(Argument(name, rng, text, kind))
        for outer in run.passed_in(frame, n):  # a helper's parameter: where it was passed in
            out.append(Argument(name, outer, run.lines.text_of(outer), kind))
    return out
