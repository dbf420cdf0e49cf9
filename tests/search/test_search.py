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
    _search_and_simulate(tmp_path, KERNELS, "gemv", budget=2)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'exo-lsp[ray]')")
def test_same_seed_same_best_with_process_pool_and_ray():
    from exo_lsp.worker.search.backends import Pool, Ray
    from exo_lsp.worker.search.engine import search

    spec = _spec(KERNELS, "abt")
    pool = Pool(spec, 2)
    try:
        a = search(pool, budget=4, seed=3)
    finally:
        pool.close()
    import ray

    try:
        b = search(Ray(spec, 2, None), budget=4, seed=3)
    finally:
        ray.shutdown()
    assert (a.best_calls, a.best_cycles, a.evaluations) == (b.best_calls, b.best_cycles, b.evaluations)
    assert a.best_cycles is not None
