"""A schedule search for the editor (``SearchParams``), run in a worker of its own.

The search itself is ``worker/search`` (evolution over complete schedules, scored by the RVM
simulator). This handler watches the results as they come, per task, to rank the *first*
actions from the start by the best complete schedule found through each, keep the best
whole schedules, stream both to the server (``QueryPartial``), and stop when the server
cancels. Evaluations are carried over from searches of earlier versions of the script:
a proc's cycles depend on the proc and the algorithm it is compared with, not on the
script's text, so an edit does not throw them away.
"""

from __future__ import annotations

import hashlib
import marshal
import time

from . import handles, query_cancelled, send_partial
from ...shared.contract import FoundSchedule, RankedAction, SearchParams, SearchResult

MAX_SCHEDULES = 5
PARTIAL_EVERY_S = 1.0  # results so far are sent at most this often (and at every improvement)

# (algorithm hash, proc hash) -> (cycles, speedup, error): outlives a Spec (a script version)
_CARRIED: dict[tuple[str, str], tuple] = {}


class Ranking:
    """The results consumed so far, as the editor shows them."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.seen: set[str] = set()  # distinct procs counted, as the search's budget counts them
        self.evaluations = 0
        self.roots: dict[tuple, dict] = {}  # first action's calls -> its stats
        self.schedules: dict[tuple, FoundSchedule] = {}
        self.start: tuple[int | None, float | None] = (None, None)
        self.cached = 0
        self.carried: set[str] = set()

    def take(self, r) -> bool:
        """Count one result as the search does; whether it improved what is shown."""
        if self.evaluations >= self.budget:
            return False
        if r.hash and r.hash not in self.seen:
            self.seen.add(r.hash)
            self.evaluations += 1
            if r.hash in self.carried:
                self.cached += 1
        labels = [str(x) for x in r.labels]  # the whole schedule's (a recipe's label may hold Exo names)
        if not r.calls:
            self.start = (r.cycles, r.speedup)
            return True
        root = self._root(r)
        if root is None:
            return False
        stats = self.roots[root]
        stats["evaluations"] += 1
        improved = False
        if r.cycles is not None and (stats["cycles"] is None or r.cycles < stats["cycles"]):
            stats.update(cycles=r.cycles, speedup=r.speedup, schedule=[str(c) for c in r.calls], labels=labels)
            improved = True
        if r.cycles is not None and r.calls not in self.schedules:
            self.schedules[r.calls] = FoundSchedule([str(c) for c in r.calls], labels, r.cycles, r.speedup)
            improved = True
        return improved

    def _root(self, r) -> tuple | None:
        if not r.task.prefix:
            if r.child == () or not r.labels:
                return None
            if r.child not in self.roots:
                self.roots[r.child] = dict(label=str(r.labels[0]), calls=[str(c) for c in r.child], cycles=None, speedup=None,
                                           evaluations=0, schedule=[], labels=[], order=len(self.roots))
            return r.child
        # a deeper prefix starts with one of the first actions (schedules are bred from those)
        best = None
        for root in self.roots:
            if len(root) <= len(r.calls) and r.calls[: len(root)] == root and (best is None or len(root) > len(best)):
                best = root
        return best

    def result(self, done: bool, stopped: str, seconds: float, proc: str, rename: bool = False) -> SearchResult:
        ranked = sorted(self.roots.values(), key=lambda s: (s["cycles"] is None, s["cycles"] or 0, s["order"]))
        actions = [RankedAction(s["label"], s["calls"], s["cycles"], s["speedup"], s["evaluations"], s["schedule"], s["labels"])
                   for s in ranked]
        schedules = sorted(self.schedules.values(), key=lambda s: (s.cycles, len(s.calls)))[:MAX_SCHEDULES]
        return SearchResult(done, stopped, self.evaluations, self.cached, round(seconds, 2), proc, rename,
                            self.start[0], self.start[1], actions, schedules)


class Watched:
    """The search's backend, run a few tasks at a time: each result is ranked as it comes,
    the server hears of improvements, and a cancel stops the search between tasks (the
    search ends with what it has, ``stopped="interrupted"``)."""

    def __init__(self, inner, ranking: Ranking, on_change) -> None:
        self.inner = inner
        self.ranking = ranking
        self.on_change = on_change
        self.chunk = 2 * getattr(inner, "workers", 1) if getattr(inner, "name", "") != "serial" else 1
        self.name = inner.name

    def run(self, tasks):
        out = []
        for i in range(0, len(tasks), self.chunk):
            if query_cancelled():
                raise KeyboardInterrupt
            got = self.inner.run(tasks[i : i + self.chunk])
            improved = False
            for r in got:
                improved = self.ranking.take(r) or improved
            out += got
            self.on_change(improved)
        return out

    def close(self) -> None:
        self.inner.close()


def _carry_in(spec, algo: str, ranking: Ranking) -> None:
    from ..search import rollout

    for (a, h), value in _CARRIED.items():
        if a == algo:
            rollout._EVALS.setdefault((spec, h), value)
            ranking.carried.add(h)
    # the sessions and memos of earlier versions of this script are of no more use
    for old in [s for s in rollout._SESSIONS if s.path == spec.path and s != spec]:
        del rollout._SESSIONS[old]
    for table in (rollout._EVALS, rollout._ACTIONS):
        for key in [k for k in table if k[0] != spec and k[0].path == spec.path]:
            del table[key]


def context_hash(session, algorithm: str) -> str:
    """What a carried proc's cycles depend on besides the proc: the algorithm it is checked
    against, and the instructions and memories in scope (a scheduled proc names an @instr by
    name only, so an edited instruction or memory must not reuse the old cycles)."""
    from ..exo import printing, procs

    h = hashlib.sha1(algorithm.encode())
    for name, instr in sorted(session.scope.instrs, key=lambda x: x[0]):
        h.update(f"\0instr {name}\0{procs.instr_template(instr)}\0".encode())
        h.update(printing.proc_text_fast(instr).encode())
    for mem, name in sorted(session.scope.memories.items(), key=lambda x: x[1]):
        h.update(f"\0memory {name}\0".encode())
        for attr, value in sorted(vars(mem).items()):
            code = getattr(getattr(value, "__func__", value), "__code__", None)
            if code is not None:
                h.update(attr.encode() + marshal.dumps(code))
            elif isinstance(value, (str, int, float, bool, type(None))):
                h.update(f"{attr}={value!r}".encode())  # (reprs of other objects hold addresses)
    return h.hexdigest()[:16]


def _carry_out(spec, algo: str) -> None:
    from ..search import rollout

    for (s, h), value in rollout._EVALS.items():
        if s == spec:
            _CARRIED[(algo, h)] = value


@handles(SearchParams)
def run_search(tracer, path: str, params: SearchParams) -> SearchResult:
    from ..search.backends import make_backend
    from ..search.engine import search
    from ..search.rollout import session_for
    from ..search.session import Spec, proc_hash

    t0 = time.perf_counter()
    spec = Spec(path, params.text, None, params.step)
    session = session_for(spec)  # a bad step raises: the query's error
    algo = context_hash(session, proc_hash(session.algorithm))
    proc = str(session.start.name())  # (an Exo Identifier)
    rename = "rename" in session.scope.namespace
    ranking = Ranking(params.budget)
    _carry_in(spec, algo, ranking)
    last = [0.0]

    def on_change(improved: bool) -> None:
        now = time.perf_counter()
        if improved or now - last[0] >= PARTIAL_EVERY_S:
            last[0] = now
            send_partial(ranking.result(False, "", now - t0, proc, rename))

    # a cancel stops the wait for a batch too, not only the next batch
    backend = Watched(make_backend(spec, params.workers, stop=query_cancelled), ranking, on_change)
    try:
        progress = search(backend, budget=params.budget, seed=params.seed, time_limit=params.time_limit)
    finally:
        backend.close()
        _carry_out(spec, algo)
    return ranking.result(True, progress.stopped, time.perf_counter() - t0, proc, rename)
