"""Schedule search: recipes on a kernel not in examples/, output scripts that reproduce
their cycles through `exo-lsp simulate`, and the same result on every backend.

Budgets are tiny (a handful of simulations) to keep the module well under a minute on a
shared 2-core machine; search quality is measured by benchmarks/search_quality.py."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = pathlib.Path(__file__).with_name("kernels.py")

pytestmark = pytest.mark.slow


def _spec(path: pathlib.Path, proc: str, step=None):
    from exo_lsp.worker.search.session import Spec

    return Spec(str(path), path.read_text(), proc, step)


def test_recipes_offload_an_unseen_kernel():
    """A·Bᵀ with its own loop and buffer names: tiled, staged and replaced from the
    instruction shapes alone, bit-exact and faster."""
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search import recipes as R
    from exo_lsp.worker.search.rollout import session_for

    s = session_for(_spec(KERNELS, "abt"))
    [mmasa] = [sh for sh in R.instr_shapes(s.scope) if sh.reduce]
    [(path, mapping)] = R.tile_choices(s.start, mmasa)
    assert mapping == {"i": "m", "j": "n", "k": "q"}
    calls, p = R.offload(s, s.start, path, mmasa, mapping, ((0, False), (0, False), (1, True)), ())
    assert any("rvm_mmasa" in c for c in calls) and any("rvm_mld" in c for c in calls)
    r = compile_and_simulate(p, s.algorithm)
    assert r.correct and r.speedup > 3, r.error


def test_accumulator_recipe_transposes_the_second_operand_of_a_plain_matmul():
    """C = A·B: the instruction reads its second operand as [j, k], B is [k, j]: staged
    into a CPU buffer, transposed (rearrange_dim), then into tile registers; accumulators
    zeroed, accumulated and stored through tile registers, two of them."""
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search import recipes as R
    from exo_lsp.worker.search.accumulate import Plan, accumulate
    from exo_lsp.worker.search.rollout import session_for

    s = session_for(_spec(KERNELS, "matmul_ab"))
    [mmasa] = [sh for sh in R.instr_shapes(s.scope) if sh.reduce]
    [(path, mapping)] = R.tile_choices(s.start, mmasa)
    assert mapping == {"i": "x", "j": "y", "k": "z"}
    calls, p = accumulate(s, s.start, path, mmasa, mapping, Plan("i", 2, share=True, privatize=True), ())
    assert any(c.startswith("rearrange_dim(p, \"rhs_t : _\", [1, 0])") for c in calls), calls
    text = str(p)
    assert text.count("rvm_mzero(") == 2 and text.count("rvm_mst(") == 2 and text.count("rvm_mmasa(") == 2
    r = compile_and_simulate(p, s.algorithm)
    assert r.correct, r.error
    assert r.speedup > 8, r.speedup


def _hand():
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search.rollout import session_for

    s = session_for(_spec(ROOT / "examples" / "conv1d.py", "conv1d"))
    last = s.tracer.registry.get(s.state.trace.steps[-1].proc_out)
    return compile_and_simulate(last, s.algorithm).scheduled.cycles, len(s.state.trace.steps)


def test_accumulator_recipe_on_conv1d_reaches_the_hand_schedule():
    """Four accumulators along the result's first loop, the im2col tile built once per
    channel for all of them (the producer loops it does not use are removed: a stale
    cursor used to leave one in, 2x slower), CPU temporaries in faster banks."""
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search import recipes as R
    from exo_lsp.worker.search.accumulate import Plan, accumulate
    from exo_lsp.worker.search.rollout import session_for

    hand, _ = _hand()
    s = session_for(_spec(ROOT / "examples" / "conv1d.py", "conv1d"))
    [mmasa] = [sh for sh in R.instr_shapes(s.scope) if sh.reduce]
    [(path, mapping)] = [c for c in R.tile_choices(s.start, mmasa) if c[1]["k"] == "r"]
    plan = Plan("i", 4, share=True, privatize=True, cpu_mem="DRAM_INTERLEAVED")
    calls, p = accumulate(s, s.start, path, mmasa, mapping, plan, ())
    r = compile_and_simulate(p, s.algorithm)
    assert r.correct, r.error
    assert r.scheduled.cycles <= hand, (r.scheduled.cycles, hand)
    assert str(p).count("rvm_mmasa(") == 4
    assert any(c.startswith("reuse_buffer(") for c in calls)  # 4 accumulators + 4 kernel tiles + 1 > 8 registers


@pytest.mark.parametrize("frac", [0.25, 0.5])
def test_complete_a_prefix_of_the_hand_schedule(frac):
    """From the hand schedule's first steps (an accumulator already staged, with copies):
    the rest is derived from the instruction, within 10% of the hand schedule's cycles."""
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search import recipes as R
    from exo_lsp.worker.search.accumulate import Plan, complete, staged_choices
    from exo_lsp.worker.search.rollout import session_for

    hand, n = _hand()
    s = session_for(_spec(ROOT / "examples" / "conv1d.py", "conv1d", round(frac * n) - 1))
    [mmasa] = [sh for sh in R.instr_shapes(s.scope) if sh.reduce]
    choices = [c for c in staged_choices(s.start, mmasa) if c[1]["k"] == "r"]
    assert [(m, c) for _, m, c in choices] == [({"i": "ii", "j": "ji", "k": "r"}, "ioi")]
    path, mapping, copies = choices[0]
    calls, p = complete(s, s.start, path, mmasa, mapping, copies, Plan(privatize=True), ())
    r = compile_and_simulate(p, s.algorithm)
    assert r.correct, r.error
    assert r.scheduled.cycles <= 1.10 * hand, (r.scheduled.cycles, hand)


def test_finish_a_late_prefix_of_the_hand_schedule():
    """After the first replacement: the other replacements, copies unrolled, a register
    per copy, the shortest-lived copies sharing a register (not the accumulators)."""
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search import recipes as R
    from exo_lsp.worker.search.accumulate import finish
    from exo_lsp.worker.search.rollout import session_for

    hand, n = _hand()
    s = session_for(_spec(ROOT / "examples" / "conv1d.py", "conv1d", round(0.75 * n) - 1))
    calls, p = finish(s, s.start, R.instr_shapes(s.scope), ())
    assert calls[-1].startswith("reuse_buffer(") and "acc" not in calls[-1], calls
    # the im2col buffer is still one for all channels: the CPU overwrites it while queued
    # loads read it (the simulator's wrong result); one copy per channel (a search action)
    from exo_lsp.worker.search.space import actions_at

    [one_per_c] = [a for a in actions_at(s, p) if a.kind == "privatize" and a.label == "one y per c"]
    b = R.Builder(s, p, None)
    one_per_c.run(b, None)
    assert b.calls == ['expand_dim(p, "y : _", 4, "c")', 'lift_alloc(p, "y : _")'], b.calls
    r = compile_and_simulate(b.p, s.algorithm)
    assert r.correct, r.error
    assert r.scheduled.cycles <= 1.10 * hand, (r.scheduled.cycles, hand)


def test_a_late_prefix_may_move_a_cpu_buffer_to_a_faster_memory():
    """After the first replacement the hand schedule's im2col buffer is in DRAM_STATIC; the
    other CPU memory in scope is faster for it. Once a proc was offloaded the enumerator's
    set_memory steps were not offered (most put a CPU buffer in tile memory), so no search
    from there got below the hand schedule's choice."""
    from exo_lsp.worker.search.rollout import Task, run_task, session_for
    from exo_lsp.worker.search.space import actions_at

    hand, n = _hand()
    spec = _spec(ROOT / "examples" / "conv1d.py", "conv1d", round(0.75 * n) - 1)
    s = session_for(spec)
    acts = actions_at(s, s.start)
    assert [a.label for a in acts if a.kind == "memory"] == ["y in DRAM_INTERLEAVED"]
    [finish] = [a.label for a in acts if a.kind == "finish"]
    r = run_task(spec, Task((), 1, 3, plan=("y in DRAM_INTERLEAVED", finish, "one y per c")))
    assert r.calls[0] == 'set_memory(p, "y : _", DRAM_INTERLEAVED)'
    assert r.cycles is not None and r.cycles < 0.95 * hand, (r.cycles, hand, r.error)


def test_a_task_gives_the_same_result_whatever_the_worker_ran_before():
    """A recipe's steps are memoised by the calls that make them; reusing one made from an
    equal proc by an earlier task lost a cursor in a later step (Exo forwards cursors only
    along the procs they came from): the same task, run twice in one process, made another
    schedule the second time, so a pool and Ray (their workers' histories differ) found
    different best schedules for the same seed."""
    from exo_lsp.worker.search.engine import _random_task
    from exo_lsp.worker.search.rollout import run_task

    spec = _spec(KERNELS, "matmul_ab")
    task = _random_task(0, 0)
    first, again = run_task(spec, task), run_task(spec, task)
    assert (again.calls, again.labels, again.cycles) == (first.calls, first.labels, first.cycles)
    assert "one rhs_t per yo" in first.labels  # the step that lost its cursor


def test_a_result_names_its_whole_schedule_and_which_actions_drew_parameters():
    """A task after a prefix is told the prefix's actions, so its result names them all (a
    schedule bred from a bred schedule used to be known by its last actions alone, and was
    redrawn from the start as if they were all); per action, whether it drew parameters (a
    recipe does; an unroll does not, so redrawing it is the same proc)."""
    from exo_lsp.worker.search.rollout import Task, run_task, session_for
    from exo_lsp.worker.search.space import actions_at

    spec = _spec(KERNELS, "abt")
    s = session_for(spec)
    acc = next(a.label for a in actions_at(s, s.start) if a.kind == "accumulate")
    first = run_task(spec, Task((), 0, 1, plan=(acc,)))
    assert (first.labels, first.bounds, first.drew) == ([acc], (len(first.calls),), (True,))
    unroll = next(a.label for a in actions_at(s, s.replay(first.calls)) if a.kind == "unroll")
    second = run_task(spec, Task(first.calls, 7, 1, plan=(unroll,), before=first.steps))
    assert second.labels == [acc, unroll] and second.drew == (True, False)
    assert second.bounds[0] == len(first.calls) and second.bounds[1] == len(second.calls) > len(first.calls)
    assert second.cycles is not None and second.cycles != first.cycles


def _search_and_simulate(tmp_path, script: pathlib.Path, proc: str, budget: int, step=None):
    from exo_lsp.worker.search.backends import Serial
    from exo_lsp.worker.search.engine import search
    from exo_lsp.worker.search.rollout import session_for
    from exo_lsp.worker.search.script import render

    spec = _spec(script, proc, step)
    res = search(Serial(spec), budget=budget, seed=1)
    assert res.best_cycles is not None
    text = render(session_for(spec), res.best_calls, cycles=res.best_cycles, speedup=res.best_speedup,
                  evaluations=res.evaluations, seed=1)
    out = tmp_path / f"{proc}_searched.py"
    out.write_text(text)
    sim = subprocess.run([sys.executable, "-m", "exo_lsp", "simulate", str(out), "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    got = json.loads(sim.stdout)
    assert got["correct"] is True, sim.stderr
    assert got["scheduled"]["cycles"] == res.best_cycles
    return res, text


def test_conv1d_output_script_reproduces_its_cycles(tmp_path):
    res, text = _search_and_simulate(tmp_path, ROOT / "examples" / "conv1d.py", "conv1d", budget=3)
    assert '@proc\ndef conv1d(' in text and 'p = rename(conv1d, "conv1d_searched")' in text
    assert "divide_loop(p, \"for i in _:_\", 4, [\"io\", \"ii\"]" not in text.split("# Found by")[0]  # the hand schedule is not copied


def test_matmul_and_gemv_output_scripts_reproduce_their_cycles(tmp_path):
    res, text = _search_and_simulate(tmp_path, KERNELS, "abt", budget=3)
    res, text = _search_and_simulate(tmp_path, KERNELS, "matmul_ab", budget=3)
    _search_and_simulate(tmp_path, KERNELS, "gemv", budget=2)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'exo-lsp[ray]')")
def test_same_seed_same_best_with_process_pool_and_ray():
    from exo_lsp.worker.search.backends import Pool, Ray
    from exo_lsp.worker.search.engine import search

    spec = _spec(KERNELS, "abt")
    pool = Pool(spec, 2)
    try:
        a = search(pool, budget=24, seed=3)  # past the first two rounds: bred tasks too
    finally:
        pool.close()
    import ray

    try:
        b = search(Ray(spec, 2, None), budget=24, seed=3)
    finally:
        ray.shutdown()
    assert (a.best_calls, a.best_cycles, a.evaluations) == (b.best_calls, b.best_cycles, b.evaluations)
    assert a.best_cycles is not None


@pytest.mark.parametrize("backend", ["serial", "pool", "ray"])
def test_a_stop_request_ends_the_search_at_the_next_wait_with_the_best_so_far(backend):
    """The CLI's Ctrl-C and an editor's cancel reach a backend as ``stop()`` turning true:
    the backend raises from its wait (a serial one between tasks) and the search keeps what
    it had counted, here the start proc of its first round."""
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'exo-lsp[ray]')")
    from exo_lsp.worker.search.backends import make_backend
    from exo_lsp.worker.search.engine import search

    seen = []
    workers = {"serial": 1, "pool": 2, "ray": 2}[backend]
    b = make_backend(_spec(KERNELS, "abt"), workers, "" if backend == "ray" else False, stop=lambda: bool(seen))
    try:
        res = search(b, budget=200, seed=0, on_progress=seen.append)
    finally:
        b.close()
        if backend == "ray":
            import ray

            ray.shutdown()
    assert b.name == backend
    assert (res.stopped, res.evaluations, len(seen)) == ("interrupted", 1, 1)
    assert res.best_cycles is not None and res.best_calls == ()
