"""A search task, run wherever candidates are evaluated: replay a prefix, take `depth` seeded
random actions (the first is the child the search scores), simulate the proc it reaches.

A task's result depends only on the task: the actions at a proc are listed in a fixed order
and drawn from ``Random(seed)`` (a task's ``plan`` names the first ones to take, their
parameters still drawn), and the simulator is deterministic. So the search is the same
whatever process runs a task, in whatever order.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from ...rvm.evaluate import compile_and_simulate
from ...rvm.isa import reset_rvm_state
from . import recipes as R
from .session import Session, Spec, proc_hash
from .space import actions_at, pick

MAX_TRIES = 6  # actions tried per step before the rollout stops there


@dataclass(frozen=True)
class Steps:
    """A schedule's actions, one entry each: what the search breeds from."""

    labels: tuple[str, ...] = ()
    bounds: tuple[int, ...] = ()  # len(calls) after each action
    drew: tuple[bool, ...] = ()  # whether it drew parameters (redrawn, it may differ)

    def first(self, n: int) -> Steps:
        return Steps(self.labels[:n], self.bounds[:n], self.drew[:n])


@dataclass(frozen=True)
class Task:
    prefix: tuple[str, ...]
    seed: int  # draws the first action (the child)
    depth: int
    rollout_seed: int | None = None  # draws the rest; None: the same generator
    plan: tuple[str, ...] = ()  # labels of the first actions to take, where they apply
    before: Steps = Steps()  # the prefix's actions, so that a result tells its whole schedule


@dataclass
class Result:
    task: Task
    child: tuple[str, ...]  # prefix + the first action's calls
    calls: tuple[str, ...]  # the whole schedule evaluated
    labels: list[str] = field(default_factory=list)  # every action's, the prefix's included
    bounds: tuple[int, ...] = ()  # len(calls) after each action (one per label)
    hash: str = ""
    cycles: int | None = None  # None: not simulated correctly (failed, wrong or race)
    speedup: float | None = None
    error: str | None = None
    seconds: float = 0.0
    drew: tuple[bool, ...] = ()  # per action: whether it drew parameters

    @property
    def steps(self) -> Steps:
        return Steps(tuple(self.labels), self.bounds, self.drew)


_SESSIONS: dict[Spec, Session] = {}
_EVALS: dict[tuple, tuple] = {}  # (spec, proc hash) -> (cycles, speedup, error)
_ACTIONS: dict[tuple, list] = {}  # (spec, proc hash) -> actions there


def session_for(spec: Spec) -> Session:
    s = _SESSIONS.get(spec)
    if s is None:
        s = _SESSIONS[spec] = Session(spec)
    return s


def evaluate(spec: Spec, p, h: str) -> tuple:
    """Cycles if bit-exact with the algorithm, cached by the proc's structural hash."""
    key = (spec, h)
    got = _EVALS.get(key)
    if got is None:
        s = session_for(spec)
        try:
            r = compile_and_simulate(p, s.algorithm)
        except Exception as e:  # a compiler crash must not end the search
            reset_rvm_state()
            got = (None, None, f"{type(e).__name__}: {e}")
        else:
            if r.ok and r.correct and r.scheduled is not None:
                got = (r.scheduled.cycles, r.speedup, None)
            else:
                got = (None, None, r.error or ("wrong result" if r.correct is False else "failed"))
        _EVALS[key] = got
    return got


def run_task(spec: Spec, task: Task) -> Result:
    t0 = time.perf_counter()
    s = session_for(spec)
    rng = random.Random(task.seed)
    try:
        p = s.replay(task.prefix)
    except Exception as e:
        return Result(task, task.prefix, task.prefix, list(task.before.labels), task.before.bounds,
                      error=f"prefix: {e}", seconds=time.perf_counter() - t0, drew=task.before.drew)
    calls = list(task.prefix)
    child = None
    labels = list(task.before.labels)
    bounds = list(task.before.bounds)
    drew = list(task.before.drew)
    for d in range(task.depth):
        if d == 1 and task.rollout_seed is not None:
            rng = random.Random(task.rollout_seed)  # rollouts of one child differ after it
        h = proc_hash(p)
        acts = _ACTIONS.get((spec, h))
        if acts is None:
            acts = _ACTIONS[(spec, h)] = actions_at(s, p)
        tried: set[int] = set()
        done = False
        planned = _planned(acts, task.plan[d]) if d < len(task.plan) else None
        for _ in range(MAX_TRIES):
            i = planned if planned is not None and planned not in tried else pick(acts, rng, tried)
            if i is None:
                break
            tried.add(i)
            if acts[i].kind == "stop":
                break
            b = R.Builder(s, p, tuple(calls))
            state = rng.getstate()
            try:
                acts[i].run(b, rng)
            except (R.RecipeFailed, Exception):
                continue
            if not b.calls or proc_hash(b.p) == h:
                continue
            p = b.p
            calls.extend(b.calls)
            s.remember(tuple(calls), p)
            labels.append(acts[i].label)
            bounds.append(len(calls))
            drew.append(rng.getstate() != state)
            done = True
            break
        if d == 0:
            child = tuple(calls)
        if not done:
            break
    h = proc_hash(p)
    cycles, speedup, err = evaluate(spec, p, h)
    return Result(task, child or tuple(calls), tuple(calls), labels, tuple(bounds), h, cycles, speedup, err,
                  time.perf_counter() - t0, tuple(drew))


def _planned(acts, label: str) -> int | None:
    return next((i for i, a in enumerate(acts) if a.label == label), None)


def run_batch(spec: Spec, tasks: list[Task]) -> list[Result]:
    return [run_task(spec, t) for t in tasks]
