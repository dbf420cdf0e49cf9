"""Schedule search quality: best-so-far cycles against evaluations for beam search with
rollouts (ours), greedy (best immediate cycles) and random search, with the same action
space and budget, over several seeds; cycles as ratios to the hand schedule's
(examples/conv1d.py). Starts: the unscheduled proc and the hand schedule's steps at the
given fractions. Also evaluations/s against the seed notebooks' naive way (replay every
step from scratch, generate C, build and simulate every candidate, no caches), and two
kernels not in examples/ (tests/search/kernels.py: A·Bᵀ and gemv).

    .venv/bin/python benchmarks/search_quality.py [--budget 500] [--seeds 5] [--workers 2]
        [--starts 0,0.25,0.5,0.75] [--strategies beam,greedy,random] [--time 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONV1D = ROOT / "examples" / "conv1d.py"
KERNELS = ROOT / "tests" / "search" / "kernels.py"


def hand_cycles() -> tuple[int, int, int]:
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search.session import Session, Spec

    s = Session(Spec(str(CONV1D), CONV1D.read_text(), "conv1d", None))
    steps = s.state.trace.steps
    last = s.tracer.registry.get(steps[-1].proc_out)
    r = compile_and_simulate(last, s.algorithm)
    return r.scheduled.cycles, r.baseline.cycles, len(steps)


def at(history, n):
    """Best cycles after n evaluations (None: nothing correct yet)."""
    best = None
    for e, c in history:
        if e > n:
            break
        best = c
    return best


def run(spec, strategy, budget, seed, workers, time_limit):
    from exo_lsp.worker.search.backends import make_backend
    from exo_lsp.worker.search.engine import search

    be = make_backend(spec, workers)
    try:
        return search(be, strategy=strategy, budget=budget, seed=seed, time_limit=time_limit)
    finally:
        be.close()


def naive_rate(spec, schedules) -> tuple[float, float]:
    """(ours, naive) evaluations/s on the same schedules, one process each."""
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search import rollout
    from exo_lsp.worker.search.session import Session, proc_hash

    fresh = Session(spec)
    t0 = time.perf_counter()
    for calls in schedules:  # naive: every step from the start proc, C, build, simulate
        p = fresh.start
        try:
            for c in calls:
                p = fresh.apply_call(p, c)
            p.c_code_str()
            compile_and_simulate(p, fresh.algorithm)
        except Exception:
            pass
    naive = len(schedules) / (time.perf_counter() - t0)
    rollout._SESSIONS.clear()
    rollout._EVALS.clear()
    s = rollout.session_for(spec)
    t0 = time.perf_counter()
    for calls in schedules:  # ours: prefix memo, structural hash, cached evaluations
        try:
            p = s.replay(tuple(calls))
        except Exception:
            continue
        rollout.evaluate(spec, p, proc_hash(p))
    ours = len(schedules) / (time.perf_counter() - t0)
    return ours, naive


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--starts", default="0,0.25,0.5,0.75")
    ap.add_argument("--strategies", default="beam,greedy,random")
    ap.add_argument("--time", type=float, default=300.0, help="seconds per search")
    ap.add_argument("--others-budget", type=int, default=30)
    args = ap.parse_args(argv)
    sys.setrecursionlimit(10000)
    from exo_lsp.worker.search.session import Spec

    hand, scalar, nsteps = hand_cycles()
    print(f"conv1d: algorithm {scalar} cycles, hand schedule {hand} cycles ({scalar / hand:.2f}x); "
          f"ratios below are best cycles / hand cycles (lower is better, 1.00 = hand)")
    marks = [n for n in (10, 25, 50, 100, 200, 500) if n <= args.budget]
    text = CONV1D.read_text()
    all_schedules = []
    for frac in [float(x) for x in args.starts.split(",")]:
        step = None if frac == 0 else max(1, round(frac * nsteps)) - 1
        spec = Spec(str(CONV1D), text, "conv1d", step)
        print(f"\nstart: {'unscheduled' if step is None else f'after step {step} ({frac:.0%})'}")
        print(f"{'strategy':8} " + " ".join(f"{'@' + str(m):>18}" for m in marks) + f" {'evals/s':>8} {'≥3.6x at':>9}")
        for strat in args.strategies.split(","):
            runs = []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                r = run(spec, strat, args.budget, seed, args.workers, args.time)
                runs.append((r, time.perf_counter() - t0))
                if strat == "beam" and step is None:
                    all_schedules.append(r.best_calls)
            cells = []
            for m in marks:
                vals = [at(r.history, m) for r, _ in runs]
                ok = [v / hand for v in vals if v is not None]
                if not ok:
                    cells.append(f"{'-':>18}")
                    continue
                med = statistics.median([v / hand if v else float("inf") for v in vals])
                cells.append(f"{med:6.2f} [{min(ok):.2f}-{max(ok):.2f}]".rjust(18))
            rate = statistics.median(r.evaluations / max(1e-9, t) for r, t in runs)
            tiled = [next((e for e, c in r.history if c is not None and scalar / c >= 3.6), None) for r, _ in runs]
            tiled_s = "/".join("-" if t is None else str(t) for t in tiled)
            print(f"{strat:8} " + " ".join(cells) + f" {rate:8.2f} {tiled_s:>9}")
            sys.stdout.flush()
    if all_schedules:
        spec = Spec(str(CONV1D), text, "conv1d", None)
        ours, naive = naive_rate(spec, all_schedules * 2)  # the repeat is what a search does: revisits
        print(f"\nevaluations/s on the same {2 * len(all_schedules)} schedules, one process: exo-lsp {ours:.2f}, "
              f"naive (replay + C + build + simulate each) {naive:.2f}: {ours / naive:.1f}x")
    ktext = KERNELS.read_text()
    for name in ("abt", "gemv"):
        spec = Spec(str(KERNELS), ktext, name, None)
        r = run(spec, "beam", args.others_budget, 0, args.workers, args.time)
        print(f"{name}: best {r.best_cycles} cycles, {r.best_speedup}x over its algorithm in {r.evaluations} "
              f"evaluations, {r.seconds:.0f} s; actions: {r.best_labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
