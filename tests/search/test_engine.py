"""The search strategies' own logic, on a made-up schedule space (no Exo, no simulator): a
schedule is up to four actions, each a label and a drawn parameter, and its cycles are a
fixed function of them. What a task asks for (prefix, seed, plan) is honoured the way
``rollout.run_task`` honours it (a result names the prefix's actions too, from the task)."""

from __future__ import annotations

import hashlib
import random

from exo_lsp.worker.search.engine import MAX_ACTIONS, search
from exo_lsp.worker.search.rollout import Result

LABELS = ["tile", "stage", "unroll", "fuse", "split"]


def _cycles(calls: tuple[str, ...]) -> int:
    # the best schedule stages with parameter 7 first, then tiles with 3: one in 2,500
    score = 10_000
    for k, c in enumerate(calls):
        label, param = c.split(":")
        score -= 100 * (int(param) == (7 if k == 0 else 3)) + 400 * ((k, label) in {(0, "stage"), (1, "tile")})
    return score


class World:
    """A backend over the made-up space; it records every task it was given."""

    name = "fake"

    def __init__(self, fixed: frozenset[str] = frozenset()) -> None:
        self.tasks = []
        self.fixed = fixed  # labels that take no parameter

    def run(self, tasks):
        self.tasks.append(list(tasks))
        return [self._one(t) for t in tasks]

    def _one(self, task) -> Result:
        rng = random.Random(task.seed)
        calls = list(task.prefix)
        labels, bounds, drew, child = list(task.before.labels), list(task.before.bounds), list(task.before.drew), None
        for d in range(task.depth):
            if len(calls) >= MAX_ACTIONS:
                break
            label = task.plan[d] if d < len(task.plan) else rng.choice(LABELS)
            fixed = label in self.fixed  # no parameter: redrawn, it is the same call
            calls.append(f"{label}:{0 if fixed else rng.randrange(10)}")
            labels.append(label)
            bounds.append(len(calls))
            drew.append(not fixed)
            if d == 0:
                child = tuple(calls)
        calls = tuple(calls)
        h = hashlib.sha1("|".join(calls).encode()).hexdigest()
        return Result(task, child or calls, calls, labels, tuple(bounds), h, _cycles(calls), 1.0, drew=tuple(drew))

    def close(self) -> None:
        pass


def test_evolution_breeds_from_the_best_found_and_still_explores():
    w = World()
    res = search(w, strategy="evolve", budget=60, seed=4)
    # w.tasks[0] is the start proc alone; the first two rounds are made before any result
    # is in (the second runs while the first is collected): random schedules
    first = w.tasks[1] + w.tasks[2]
    assert all(t.prefix == () and not t.plan and t.depth == MAX_ACTIONS for t in first)
    later = [t for batch in w.tasks[3:] for t in batch]
    bred = [t for t in later if t.prefix or t.plan]
    fresh = [t for t in later if not t.prefix and not t.plan]
    assert fresh and len(bred) > 2 * len(fresh)
    # a bred task continues a schedule found earlier: its prefix is one, cut after an action
    found = {r.calls for batch in w.tasks[:-1] for r in map(w._one, batch)}
    assert all(any(c[: len(t.prefix)] == t.prefix for c in found) for t in bred)
    assert res.evaluations == 60


def test_same_seed_same_search_and_different_seeds_differ():
    a, b, c = World(), World(), World()
    ra = search(a, strategy="evolve", budget=40, seed=1)
    rb = search(b, strategy="evolve", budget=40, seed=1)
    rc = search(c, strategy="evolve", budget=40, seed=2)
    assert a.tasks == b.tasks and (ra.best_calls, ra.history) == (rb.best_calls, rb.history)
    assert a.tasks != c.tasks


def test_evolution_beats_random_search_on_the_made_up_space():
    # 9 seeds, the same budget: the best found after 80 evaluations, median over seeds.
    # Evolution's new schedules are random search's own, so without its breeding the two
    # would tie.
    def median_best(strategy):
        bests = sorted(search(World(), strategy=strategy, budget=80, seed=s).best_cycles for s in range(9))
        return bests[4]

    assert median_best("evolve") < median_best("random")


def test_a_small_budget_asks_for_no_more_tasks_than_it_can_count():
    w = World()
    search(w, strategy="evolve", budget=3, seed=0)
    assert sum(len(b) for b in w.tasks) == 3  # the start proc and two schedules


class PipelinedWorld(World):
    """A backend that starts rounds when they are submitted (as the pool and Ray do); it
    records what was running when each round was collected."""

    def __init__(self) -> None:
        super().__init__()
        self.running: list[int] = []  # rounds submitted and not yet collected
        self.at_collect: list[int] = []  # how many were running at each collect

    def submit(self, tasks):
        self.running.append(len(self.tasks))
        self.tasks.append(list(tasks))
        return self.running[-1]

    def collect(self, handle):
        self.at_collect.append(len(self.running))
        self.running.remove(handle)
        return [self._one(t) for t in self.tasks[handle]]


def test_the_next_round_runs_while_one_is_collected_and_the_search_is_the_same():
    plain, piped = World(), PipelinedWorld()
    ra = search(plain, strategy="evolve", budget=50, seed=5)
    rb = search(piped, strategy="evolve", budget=50, seed=5)
    # a worker that finished its share of a round has the next round's tasks to start on
    assert piped.at_collect[1:4] == [2, 2, 2]
    # ...and what the search asks for and finds does not depend on it
    assert piped.tasks == plain.tasks and (ra.best_calls, ra.history) == (rb.best_calls, rb.history)
    rr = search(PipelinedWorld(), strategy="random", budget=30, seed=5)
    assert rr.history == search(World(), strategy="random", budget=30, seed=5).history


def test_new_schedules_are_random_searchs_own_draws_in_its_order():
    # so with the same seed evolution is random search until it has bred something, and
    # never trails it before then
    ev, rs = World(), World()
    re = search(ev, strategy="evolve", budget=60, seed=8)
    rr = search(rs, strategy="random", budget=60, seed=8)
    fresh = [t for batch in ev.tasks for t in batch if not t.prefix and not t.plan]
    drawn = [t for batch in rs.tasks for t in batch]
    assert len(fresh) > 16 and fresh == drawn[: len(fresh)]
    assert re.history[:16] == rr.history[:16]


def test_a_bred_schedule_is_bred_from_by_all_its_actions():
    # A schedule bred after a parent's first actions must be known by all its actions when
    # it is a parent in turn: its redrawn actions are planned where they were, after the
    # same prefix (a result used to name only its own task's actions, and a grandchild
    # redrew those from the start proc as if they were all).
    w = World()
    search(w, strategy="evolve", budget=120, seed=3)
    labels_of = lambda calls: [c.split(":")[0] for c in calls]  # noqa: E731
    found: list[tuple[str, ...]] = []  # schedules found by the rounds before
    planned = 0
    for batch in w.tasks:
        for t in batch:
            if not t.plan:
                continue
            planned += 1
            # the parent: a schedule found earlier, of the prefix and then the planned actions
            n = len(t.prefix) + len(t.plan)
            assert any(len(c) == n and c[: len(t.prefix)] == t.prefix and labels_of(c)[len(t.prefix):] == list(t.plan)
                       for c in found), t
        found += [r.calls for r in map(w._one, batch)]
    assert planned > 20
    # ...and the best schedule is reported by all its actions
    for seed in range(4):
        res = search(World(), strategy="evolve", budget=80, seed=seed)
        assert res.best_labels == labels_of(res.best_calls)


def test_actions_are_redrawn_only_where_that_can_change_the_schedule():
    # an unroll or a fusion drawn again is the same call: a plan of those alone would be
    # the parent again, a task that learns nothing
    plans = []
    for seed in range(6):
        w = World(fixed=frozenset({"unroll", "fuse"}))
        search(w, strategy="evolve", budget=120, seed=seed)
        plans += [t.plan for batch in w.tasks for t in batch if t.plan]
    assert len(plans) > 100 and all(not set(plan) <= {"unroll", "fuse"} for plan in plans)
