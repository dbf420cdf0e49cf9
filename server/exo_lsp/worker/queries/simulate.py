"""Compile & simulate a proc of the last run on the RVM model (worker side)."""

from __future__ import annotations

from . import report_progress
from .views import rendered, rendered_c, view_lines
from . import handles
from ...shared.contract import SimulateParams, SimulateResult


def c_line_statements(tracer, handle: int) -> dict[int, str]:
    """1-based C line -> "proc line N: <statement>" (N as in the proc view) for the
    innermost statement that made it; "proc: <statement>" when the view map is not aligned."""
    r, c = rendered(tracer, handle), rendered_c(tracer, handle)
    label = {}
    for st in r.printed.stmts:
        lines, _, _ = view_lines(r, st)
        label[tuple(map(tuple, st.path))] = f"proc line {lines[0] + 1}: {st.text}" if lines[0] >= 0 else f"proc: {st.text}"
    best: dict[int, tuple[int, str]] = {}
    for path, spans in c.ranges.items():
        key = tuple(map(tuple, path))
        if not key or key not in label:
            continue
        for start, end in spans:
            for c_line in range(start, end):
                width = end - start
                if c_line + 1 not in best or width < best[c_line + 1][0]:
                    best[c_line + 1] = (width, label[key])
    return {k: v for k, (_, v) in best.items()}


@handles(SimulateParams)
def simulate(tracer, path: str, params: SimulateParams) -> SimulateResult:
    from ...rvm.evaluate import compile_and_simulate, render_report

    handle = params.handle
    proc = tracer.registry.get(handle)
    if proc is None:
        raise KeyError(f"no proc with handle {handle} (the script has changed since)")
    state = tracer.runs.get(path)
    algorithm = state.algorithms.get(handle, proc) if state else proc
    mapping = c_line_statements(tracer, handle)
    result = compile_and_simulate(
        proc,
        algorithm,
        compiler=params.compiler,
        seed=params.seed,
        c_line_to_stmt=mapping,
        progress=report_progress,
    )
    return SimulateResult(result, render_report(result))
