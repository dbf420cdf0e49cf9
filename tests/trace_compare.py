"""A trace without its run-specific numbers, for comparing two runs of one script."""

from __future__ import annotations

from exo_lsp.worker.exo import printing
from exo_lsp.worker.tracer import Tracer


def normalized(tracer: Tracer, state) -> dict:
    """The trace with run-specific numbers (times, handles, cache flags) taken out."""
    t = state.trace
    handles: dict[int, int] = {}

    def h(x):
        if x is None:
            return None
        return handles.setdefault(x, len(handles))

    steps = []
    for s in t.steps:
        out = tracer.registry.get(s.proc_out) if s.proc_out is not None else None
        steps.append(
            (
                s.index, s.parent, s.op, s.range, s.line, tuple(s.arguments), s.proc_name,
                h(s.proc_in), h(s.proc_out), tuple(s.targets), s.ok, s.error, s.changed,
                tuple(s.children), printing.proc_text_fast(out) if out is not None else None,
            )
        )
    return {
        "ok": t.ok,
        "steps": steps,
        "problems": [(p.path, p.range, p.severity, p.message, p.code, tuple(p.related), p.step) for p in t.problems],
        "procs": [(p.name, p.is_instr, p.location, p.instr) for p in t.procs],
        "memories": t.memories,
        "output": t.output,
    }
