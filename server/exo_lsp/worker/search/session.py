"""A script loaded for search: the start proc, its algorithm, the names in scope, and
schedules (lists of call strings on ``p``) replayed from the start with a prefix memo.

Every process that evaluates candidates (pool worker, Ray actor) builds its own Session
from (path, text, proc, step): procs do not pickle, call strings do.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from dataclasses import dataclass

from ..exo import printing, procs
from ..queries.actions.places import Scope, build_scope
from ..tracer import Tracer

VAR = "p"  # the variable schedules are written on


@dataclass(frozen=True)
class Spec:
    """What identifies a search problem; picklable, sent to every worker."""

    path: str
    text: str
    proc: str | None
    step: int | None  # None: the proc as defined; N: after trace step N


class Session:
    def __init__(self, spec: Spec) -> None:
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
        self.spec = spec
        self.tracer = Tracer()
        path = os.path.abspath(spec.path)
        with contextlib.redirect_stdout(io.StringIO()):
            self.state = self.tracer.run(path, spec.text, 1)
        trace = self.state.trace
        step = spec.step
        if step is None:
            start = _defined(self.state, spec.proc)
            self.algorithm = start
            scope_step = None
        else:
            if not 0 <= step < len(trace.steps):
                raise ValueError(f"step {step} does not exist (the script has {len(trace.steps)} steps)")
            s = trace.steps[step]
            if not (s.ok and s.proc_out is not None):
                raise ValueError(f"step {step} ({s.op}) failed; pick a step that ran")
            start = self.tracer.registry.get(s.proc_out)
            self.algorithm = self.state.algorithms.get(s.proc_out) or start
            scope_step = s.index
        self.start = start
        self.scope: Scope = build_scope(self.state, scope_step, VAR)
        # schedule -> (the proc it makes, the proc that was made from). Exo forwards a cursor
        # only along the chain of procs it came from, so a recipe may reuse a memoised step
        # only when it was made from the very proc the recipe holds (one made from an equal
        # proc, by an earlier task, made a later step of the same recipe lose its cursor, and
        # the search's result depended on what the worker had run before)
        self._memo: dict[tuple, tuple[object, object]] = {(): (start, None)}

    # ------------------------------------------------------------------ replay

    def apply_call(self, p, call: str):
        ns = dict(self.scope.namespace)
        ns[VAR] = p
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                r = eval(compile(call, "<exo-lsp search>", "eval"), ns)
        finally:
            procs.reset_exo_state()
        if not procs.is_procedure(r):
            raise TypeError(f"{call} did not return a proc")
        return r

    def replay(self, schedule: tuple[str, ...]):
        """The proc after `schedule` (raises when a step fails). Prefixes are memoised:
        a search extends the same prefixes over and over (Anderson'21)."""
        k = len(schedule)
        while k > 0 and schedule[:k] not in self._memo:
            k -= 1
        p = self._memo[schedule[:k]][0]
        for i in range(k, len(schedule)):
            q = self.apply_call(p, schedule[i])
            self.remember(schedule[: i + 1], q, parent=p)
            p = q
        return p

    def remember(self, schedule: tuple, p, parent=None) -> None:
        """Memoise the proc `schedule` makes; `parent`: the proc it was made from (None:
        not known, so no recipe step reuses it)."""
        known = self._memo.get(schedule)
        if known is not None and known[0] is p:
            return
        if len(self._memo) > 4000:  # bounded: drop the oldest half (dicts keep insertion order)
            for key in list(self._memo)[1:2000]:
                del self._memo[key]
        self._memo[schedule] = (p, parent)

    def made_from(self, schedule: tuple, p):
        """The memoised proc `schedule` makes if it was made from `p` itself, else None."""
        known = self._memo.get(schedule)
        return known[0] if known is not None and known[1] is p else None


def proc_hash(p) -> str:
    """A structural hash of a proc: candidates that reach the same program are one."""
    return hashlib.sha1(printing.proc_text_fast(p).encode()).hexdigest()[:16]


def _defined(state, name: str | None):
    # the script's namespace in definition order: the @proc itself comes before the
    # variables holding its scheduled versions
    for k, v in state.namespace.items():
        if procs.is_procedure(v) and procs.instr_template(v) is None and (name is None or v.name() == name or k == name):
            return v
    raise ValueError(f"no proc named {name!r} is defined in this script")
