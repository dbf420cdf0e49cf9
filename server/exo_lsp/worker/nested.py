"""Steps made inside a memoised op, kept with its memo entry and replayed on a hit.

Some ops call other ops (``call_site_mem_aware_replace`` calls ``replace``; ``replace_all``
is a helper around it). A memo hit returns the outer op's result without running it, so
the inner calls would vanish from the trace: the entry keeps them (what the step recorded,
plus the proc objects, since handles are per run) and a hit appends them again under the
new step, marked cached, as a cold run would have shown them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from ..shared.trace import Step


@dataclass
class Child:
    step: Step  # index/parent relative to the memoised op's step (0); no handles
    proc_in: Any
    proc_out: Any
    op: Any
    raw: dict
    resolved: dict
    exception: BaseException | None
    failed_param: str | None


def capture(run, top: Step) -> list[Child]:
    """The steps recorded since `top` began: all of them are inside it (it was open)."""
    out = []
    reg = run.t.registry
    for s in run.steps[top.index + 1 :]:
        rt = run.runtime[s.index]
        out.append(
            Child(
                msgspec.structs.replace(
                    s, index=s.index - top.index, parent=s.parent - top.index, proc_in=None, proc_out=None, children=[]
                ),
                reg.get(s.proc_in) if s.proc_in is not None else None,
                reg.get(s.proc_out) if s.proc_out is not None else None,
                rt.op,
                rt.raw,
                rt.resolved,
                rt.exception,
                rt.failed_param,
            )
        )
    return out


def replay(run, top: Step, children: list[Child], runtime_type) -> None:
    """Append `children` under `top` (a memo hit), positioned at `top`'s call."""
    base = top.index
    frame = run.runtime[top.index].frame
    reg = run.t.registry
    for c in children:
        index = len(run.steps)
        step = msgspec.structs.replace(
            c.step,
            index=index,
            parent=base + c.step.parent,  # a hit ran nothing: child k is step base + k again
            range=top.range,
            line=top.line,
            proc_in=reg.handle(c.proc_in) if c.proc_in is not None else None,
            proc_out=reg.handle(c.proc_out) if c.proc_out is not None else None,
            cached=True,
            ms=0.0,
            children=[],
        )
        run.steps.append(step)
        run.runtime[index] = runtime_type(
            op=c.op, resolved=c.resolved, raw=c.raw, frame=frame, exception=c.exception, failed_param=c.failed_param
        )
        if step.proc_out is not None:
            run.algorithms[step.proc_out] = run.algorithms.get(step.proc_in, c.proc_in)
        run.cached_steps += 1


def move_targets(children: list[Child], move) -> None:
    """Apply `move` (a Target -> Target) to every child's targets (lines moved by an edit)."""
    for c in children:
        c.step = msgspec.structs.replace(c.step, targets=[move(t) for t in c.step.targets])
