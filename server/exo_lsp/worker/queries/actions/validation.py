"""Validating a candidate by evaluating its call on the proc: what it costs (a running
average per group, for the request's budget), and the outcomes cached."""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass
from typing import Any

from ...exo import printing, procs
from ....shared.lru import LRU
from .candidate import COST, Candidate
from .places import Scope


# What one validation of a group costs, ms: a running average seeded by the cost class. A
# candidate is left to the background when it would not end within the request's budget.
_SEED_MS = {0: 10.0, 1: 80.0, 2: 150.0, 3: 250.0, 4: 500.0}
_cost_ms: dict[str, float] = {}


def expected_ms(group: str) -> float:
    return _cost_ms.get(group, _SEED_MS[COST.get(group, 0)])


def _observe(group: str, ms: float) -> None:
    old = _cost_ms.get(group)
    _cost_ms[group] = ms if old is None else 0.7 * old + 0.3 * ms


@dataclass
class Outcome:
    ok: bool
    result: Any  # the proc the call produced (ok or not, when it ran)
    error: str | None
    ms: float


CACHE = LRU(2000)  # (proc handle, var, call, calls after) -> its validated Outcome
RESULTS = LRU(500)  # (proc handle, var, call) -> the proc the call produced, for previews


def _evaluate(call: str, p, scope: Scope):
    ns = dict(scope.namespace)
    ns[scope.var] = p
    return eval(compile(call, "<exo-lsp action>", "eval"), ns)


def validate(c: Candidate, p, handle: int, scope: Scope, base_text: str) -> Outcome:
    key = (handle, scope.var, c.call, tuple(c.after))
    got = CACHE.get(key)
    if got is not None:
        return got
    t0 = time.perf_counter()
    out: Outcome
    try:
        if c.precheck is not None:
            # the same call on the cursor the pattern was checked to select, failing quietly
            r = c.precheck(p)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                r = _evaluate(c.call, p, scope)
        if not procs.is_procedure(r):
            out = Outcome(False, None, "did not return a proc", 0)
        elif printing.proc_text_fast(r) == base_text:
            out = Outcome(False, r, "changes nothing", 0)
        else:
            final = r
            for then in c.after:  # a memory fix is good when the replace it enables works
                final = _evaluate(then, final, scope)
            why = c.check(final) if c.check is not None else None
            out = Outcome(why is None, r, why, 0)
    except Exception as exc:  # the transform does not apply here
        out = Outcome(False, None, f"{type(exc).__name__}: {exc}", 0)
    finally:
        procs.reset_exo_state()
    out.ms = (time.perf_counter() - t0) * 1000
    _observe(c.group, out.ms)
    CACHE.put(key, out)
    if out.result is not None and out.ok:
        RESULTS.put((handle, scope.var, c.call), out.result)
    return out
