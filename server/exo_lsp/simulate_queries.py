"""Compile & simulate a proc of the last run on the RVM model (worker side)."""

from __future__ import annotations

from . import worker_api
from .view_queries import rendered, rendered_c
from .worker_api import query


def c_line_statements(tracer, handle: int) -> dict[int, str]:
    """1-based C line -> "proc line N: <statement>" for the innermost statement that made it."""
    r, c = rendered(tracer, handle), rendered_c(tracer, handle)
    view_line = {}
    for st in r.printed.stmts:
        line = st.raw[0]
        if r.lines is not None and line < len(r.lines):
            line = r.lines[line][0]
        view_line[tuple(map(tuple, st.path))] = (line, st.text)
    best: dict[int, tuple[int, str]] = {}
    for path, spans in c.ranges.items():
        key = tuple(map(tuple, path))
        if key not in view_line or not key:
            continue
        line, text = view_line[key]
        for start, end in spans:
            for c_line in range(start, end):
                width = end - start
                if c_line + 1 not in best or width < best[c_line + 1][0]:
                    best[c_line + 1] = (width, f"proc line {line + 1}: {text}")
    return {k: v for k, (_, v) in best.items()}


@query("simulate")
def simulate(tracer, path: str, params: dict):
    from .rvm.simulate import compile_and_simulate, render_report

    handle = int(params["handle"])
    proc = tracer.registry.get(handle)
    if proc is None:
        raise KeyError(f"no proc with handle {handle} (the script has changed since)")
    state = tracer.runs.get(path)
    algorithm = state.algorithms.get(handle, proc) if state else proc
    mapping = c_line_statements(tracer, handle)
    result = compile_and_simulate(
        proc,
        algorithm,
        compiler=params.get("compiler", "zig"),
        seed=int(params.get("seed", 0)),
        c_line_to_stmt=mapping,
        progress=worker_api.report_progress,
    )
    return {"result": result, "report": render_report(result)}
