"""Search strategies over schedules, all scored by complete schedules' simulated cycles.

* ``evolve`` (ours, the default): evolution over complete schedules, Ansor's way. Every
  candidate is a whole schedule, so none is judged by a half-done proc's cycles; the best
  found so far are the parents. A child keeps a parent's first actions and either draws
  the same actions again with new parameters (staging levels, accumulators, which loop to
  block: a recipe's parameters are where most of the cycles are) or draws new actions
  after them; a share of every batch is new random schedules, random search's own draws.
* ``beam``: a beam of prefixes; each is extended by several children (one action each) and
  every child is judged by seeded random *rollouts* to a complete schedule, not by its own
  cycles: a half-done schedule (tiles staged, nothing offloaded yet) is slower than the
  algorithm and would mislead a greedy judge (Ansor's and ProTuner's lesson).
* ``greedy``: extend by the child with the best immediate cycles.
* ``random``: independent random schedules from the start.

Budget = distinct procs simulated (structural hash); a batch's results are consumed in task
order and the budget cuts at the same result whatever ran them, so a seed and budget give
the same best schedule on any backend and worker count. ``time_limit`` and Ctrl-C stop
early (and keep the best so far); those are not deterministic.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from .rollout import Result, Steps, Task

MAX_ACTIONS = 4  # actions in a schedule (a recipe is one action of many calls)
STRATEGIES = ("evolve", "beam", "greedy", "random")


@dataclass
class Progress:
    evaluations: int = 0
    best_cycles: int | None = None
    best_speedup: float | None = None
    best_calls: tuple[str, ...] = ()
    best_labels: list[str] = field(default_factory=list)
    history: list[tuple[int, int | None]] = field(default_factory=list)  # (evaluations, best)
    seconds: float = 0.0
    stopped: str = "budget"


class Tracker:
    def __init__(self, budget: int, on_progress: Callable | None, t0: float, time_limit: float | None) -> None:
        self.budget = budget
        self.seen: set[str] = set()
        self.p = Progress()
        self.on_progress = on_progress
        self.t0 = t0
        self.time_limit = time_limit
        self.steps_of: dict[tuple[str, ...], Steps] = {(): Steps()}  # a schedule found, cut after an action

    def task(self, prefix: tuple[str, ...], seed: int, depth: int, rollout_seed: int | None = None,
             plan: tuple[str, ...] = ()) -> Task:
        """A task after a prefix found earlier, told the prefix's actions (so that its result
        names its whole schedule, wherever it ran)."""
        return Task(prefix, seed, depth, rollout_seed, plan, self.steps_of.get(prefix, Steps()))

    def done(self) -> bool:
        if self.p.evaluations >= self.budget:
            return True
        if self.time_limit is not None and time.perf_counter() - self.t0 > self.time_limit:
            self.p.stopped = "time"
            return True
        return False

    def take(self, results: list[Result]) -> list[Result]:
        """Consume results in order up to the budget; the ones consumed."""
        used = []
        for r in results:
            if self.p.evaluations >= self.budget:
                break
            if r.hash and r.hash not in self.seen:
                self.seen.add(r.hash)
                self.p.evaluations += 1
            used.append(r)
            for n, b in enumerate(r.bounds):
                self.steps_of.setdefault(r.calls[:b], r.steps.first(n + 1))
            if r.cycles is not None and (self.p.best_cycles is None or r.cycles < self.p.best_cycles):
                self.p.best_cycles, self.p.best_speedup = r.cycles, r.speedup
                self.p.best_calls, self.p.best_labels = r.calls, r.labels
            self.p.history.append((self.p.evaluations, self.p.best_cycles))
        self.p.seconds = time.perf_counter() - self.t0
        if self.on_progress is not None:
            self.on_progress(self.p)
        return used


def _seed(*parts) -> int:
    return random.Random("/".join(map(str, parts))).getrandbits(48)


def search(backend, *, strategy: str = "evolve", budget: int = 200, seed: int = 0, time_limit: float | None = None,
           on_progress: Callable | None = None, beam: int = 3, children: int = 4, rollouts: int = 2) -> Progress:
    t0 = time.perf_counter()
    tr = Tracker(budget, on_progress, t0, time_limit)
    try:
        # the start proc itself first: every strategy reports at least it
        tr.take(backend.run([Task((), seed, 0)]))
        if strategy == "random":
            _random(backend, tr, seed)
        elif strategy == "greedy":
            _greedy(backend, tr, seed, children * beam)
        elif strategy == "beam":
            _beam(backend, tr, seed, beam, children, rollouts)
        elif strategy == "evolve":
            _evolve(backend, tr, seed)
        else:
            raise ValueError(f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
    except KeyboardInterrupt:
        tr.p.stopped = "interrupted"
    tr.p.seconds = time.perf_counter() - t0
    return tr.p


def _random_task(seed: int, n: int) -> Task:
    """Random search's n-th schedule (evolution draws its new schedules from the same list)."""
    return Task((), _seed(seed, "random", n), MAX_ACTIONS)


def _random(backend, tr: Tracker, seed: int) -> None:
    k = 0

    def next_round(room: int) -> list[Task]:
        nonlocal k
        tasks = [_random_task(seed, k + i) for i in range(BATCH)]
        k += len(tasks)
        return tasks

    for used, _new in _pipelined(backend, tr, next_round):
        if not used:
            return


def _greedy(backend, tr: Tracker, seed: int, width: int) -> None:
    restart = 0
    while not tr.done():
        prefix: tuple[str, ...] = ()
        for level in range(MAX_ACTIONS):
            tasks = [tr.task(prefix, _seed(seed, "greedy", restart, level, i), 1) for i in range(width)]
            used = tr.take(backend.run(tasks))
            moved = [r for r in used if r.child != prefix]
            if not moved or tr.done():
                break
            ok = [r for r in moved if r.cycles is not None]
            # the best immediate cycles; with none simulated correctly, the first that applied
            prefix = min(ok, key=lambda r: r.cycles).child if ok else moved[0].child
        restart += 1


def _beam(backend, tr: Tracker, seed: int, width: int, children: int, rollouts: int) -> None:
    restart = 0
    while not tr.done():
        beam: list[tuple[str, ...]] = [()]
        for level in range(MAX_ACTIONS):
            tasks = []
            for b, prefix in enumerate(beam):
                for c in range(children):
                    s = _seed(seed, "beam", restart, level, b, c)
                    for r in range(rollouts):
                        tasks.append(tr.task(prefix, s, MAX_ACTIONS - level, _seed(s, "rollout", r)))
            used = tr.take(backend.run(tasks))
            score: dict[tuple, float] = {}
            order: list[tuple] = []
            for r in used:
                if r.child == r.task.prefix:
                    continue  # nothing applied
                if r.child not in score:
                    order.append(r.child)
                    score[r.child] = float("inf")
                if r.cycles is not None:
                    score[r.child] = min(score[r.child], r.cycles)
            if not order or tr.done():
                break
            # a child is as good as the best complete schedule found through it
            beam = sorted(order, key=lambda c: (score[c], order.index(c)))[:width]
        restart += 1


BATCH = 8  # tasks per round: four per worker on two cores
PARENTS = 4  # the best schedules found so far breed
EXPLORE = 0.25  # share of a round that is new random schedules
STALE_ROUNDS = 25  # rounds that found no new proc: the reachable space is exhausted
IN_FLIGHT = 2  # rounds submitted before the oldest is collected


def _pipelined(backend, tr: Tracker, next_round: Callable[[int], list[Task]]):
    """Rounds of tasks with the next one already running while the oldest is collected, so a
    worker that finishes its part of a round early starts on the next instead of waiting for
    the slowest task (two Ray workers went from 1.41x the evaluations/s of one to 1.67-1.88x
    on matmul). Round k is made from what rounds up to k-2 found, whatever the backend: a
    backend without ``submit`` runs a round when it is collected, and the search is the same. Yields (results used, how many
    of them were new procs)."""
    submit = getattr(backend, "submit", None) or (lambda tasks: tasks)
    collect = getattr(backend, "collect", None) or backend.run
    pending: deque[tuple[list[Task], object]] = deque()
    while True:
        while len(pending) < IN_FLIGHT and not tr.done():
            # no more tasks than the budget can still count (a repeat counts nothing)
            room = tr.budget - tr.p.evaluations - sum(len(t) for t, _ in pending)
            tasks = next_round(room) if room > 0 else []
            if not tasks:
                break
            pending.append((tasks, submit(tasks)))
        if not pending:
            return
        tasks, handle = pending.popleft()
        before = tr.p.evaluations
        used = tr.take(collect(handle))
        yield used, tr.p.evaluations - before


def _evolve(backend, tr: Tracker, seed: int) -> None:
    rng = random.Random(_seed(seed, "evolve"))
    found: dict[tuple[str, ...], tuple[int, Steps]] = {}  # calls -> (cycles, its actions)
    # New schedules are random search's own draws, in its order (the same seeds): until
    # something is found to breed from, evolution is random search, and after that a share
    # of every round still is. Random rollouts are a strong start (the recipes carry most
    # of the weight); what evolution adds is what it breeds from them.
    fresh = 0
    stale = 0
    k = 0

    def next_round(room: int) -> list[Task]:
        nonlocal k, fresh
        parents = sorted(found.items(), key=lambda kv: (kv[1][0], kv[0]))[:PARENTS]
        tasks = []
        for i in range(min(BATCH, room)):
            s = _seed(seed, "evolve", k, i)
            if not parents or rng.random() < EXPLORE:
                tasks.append(_random_task(seed, fresh))
                fresh += 1
                continue
            # the best parent most often: rank r is drawn with weight 1/(r+1)
            calls, (_, steps) = rng.choices(parents, weights=[1 / (r + 1) for r in range(len(parents))])[0]
            n = len(steps.labels)
            # where redrawing the actions from there on can change the schedule: not after
            # its last action with parameters (an unroll or a privatization drawn again is
            # the same call, the same proc: nothing learnt)
            redraw = [j for j in range(n) if any(steps.drew[j:])]
            if redraw and (rng.random() < 0.5 or n == MAX_ACTIONS):
                # the same actions from the j-th on, their parameters drawn again
                j = rng.choice(redraw)
                tasks.append(tr.task(calls[: steps.bounds[j - 1]] if j else (), s, n - j, plan=steps.labels[j:]))
            else:
                # keep the first j actions (at least one), then one or more new ones
                j = rng.randint(1, min(n, MAX_ACTIONS - 1))
                tasks.append(tr.task(calls[: steps.bounds[j - 1]], s, rng.randint(1, MAX_ACTIONS - j)))
        k += 1
        return tasks

    for used, new in _pipelined(backend, tr, next_round):
        for r in used:
            if r.cycles is not None and r.labels:
                found.setdefault(r.calls, (r.cycles, r.steps))
        stale = 0 if new else stale + 1
        if not used or stale >= STALE_ROUNDS:
            return
