"""Schedule search quality: best-so-far cycles against evaluations for evolution over
complete schedules (ours; beam search with rollouts on request), greedy (best immediate
cycles) and random search, with the same action space and budget, over several seeds; cycles as ratios to the hand schedule's
(examples/conv1d.py). Starts: the unscheduled proc and the hand schedule's steps at the
given fractions. Also evaluations/s against the seed notebooks' naive way (replay every
step from scratch, generate C, build and simulate every candidate, no caches), and two
kernels not in examples/ (tests/search/kernels.py: A·Bᵀ and gemv).

    .venv/bin/python benchmarks/search_quality.py [--budget 500] [--prefix-budget 200] [--seeds 5]
        [--workers 2] [--starts 0,0.25,0.5,0.75] [--strategies evolve,greedy,random] [--time 300]
        [--ray-budget 48]

One process pool per start serves every strategy and seed: its workers keep their
evaluation cache and prefix memo (a proc simulated by one search is not simulated again by
the next), while every search still counts each distinct proc it reaches as an evaluation.
So evaluations/s of later searches benefit from earlier ones; budgets and best-so-far are
unaffected. Also: the best schedules' cycles under the gcc reference profile (when
riscv64-unknown-elf-gcc is installed), and Ray with 2 local workers against 1.
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


def run(spec, strategy, budget, seed, workers, time_limit, backend=None):
    from exo_lsp.worker.search.backends import make_backend
    from exo_lsp.worker.search.engine import search

    be = backend or make_backend(spec, workers)
    try:
        return search(be, strategy=strategy, budget=budget, seed=seed, time_limit=time_limit)
    finally:
        if backend is None:
            be.close()


def gcc_cycles(spec, calls) -> int | None:
    """The schedule's cycles under the gcc reference profile (None: not bit-exact)."""
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.worker.search.rollout import session_for

    s = session_for(spec)
    r = compile_and_simulate(s.replay(tuple(calls)), s.algorithm, compiler="gcc")
    return r.scheduled.cycles if r.ok and r.correct and r.scheduled else None


def ray_rate(spec, budget: int, seed: int) -> list[tuple[int, float, object]]:
    """(workers, evaluations/s, result) for a local Ray with 1 and 2 workers, fresh each.
    Ray's start and every worker's first Session (Exo imported, the script run) are paid
    before the clock starts: a search on a cluster pays them once, not per evaluation."""
    import ray

    from exo_lsp.worker.search.backends import Ray
    from exo_lsp.worker.search.engine import search
    from exo_lsp.worker.search.rollout import Task

    out = []
    for workers in (1, 2):
        try:
            backend = Ray(spec, workers, None)
            # one empty task per chunk: every worker builds its Session, nothing is simulated
            # that the measured search will ask for (the start proc, cached, aside)
            backend.run([Task((), 0, 0) for _ in range(4 * workers)])
            r = search(backend, budget=budget, seed=seed)
        finally:
            ray.shutdown()
        out.append((workers, r.evaluations / max(1e-9, r.seconds), r))
    return out


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
    ap.add_argument("--strategies", default="evolve,greedy,random", help="the first is ours (also: beam)")
    ap.add_argument("--time", type=float, default=300.0, help="seconds per search")
    ap.add_argument("--prefix-budget", type=int, default=200)
    ap.add_argument("--prefix-time", type=float, default=None, help="seconds per search from a prefix (default --time)")
    ap.add_argument("--prefix-seeds", type=int, default=None, help="seeds from a prefix (default --seeds)")
    ap.add_argument("--others-budget", type=int, default=30)
    ap.add_argument("--others-time", type=float, default=None)
    ap.add_argument("--ray-budget", type=int, default=48, help="0: skip the Ray comparison")
    ap.add_argument("--naive", type=int, default=8, help="schedules timed the naive way (0: skip)")
    args = ap.parse_args(argv)
    import shutil
    sys.setrecursionlimit(10000)
    from exo_lsp.worker.search.session import Spec

    hand, scalar, nsteps = hand_cycles()
    print(f"conv1d: algorithm {scalar} cycles, hand schedule {hand} cycles ({scalar / hand:.2f}x); "
          f"ratios below are best cycles / hand cycles (lower is better, 1.00 = hand)")
    text = CONV1D.read_text()
    all_schedules = []
    bests = {}
    mine = args.strategies.split(",")[0]
    for frac in [float(x) for x in args.starts.split(",")]:
        step = None if frac == 0 else max(1, round(frac * nsteps)) - 1
        budget = args.budget if step is None else args.prefix_budget
        seeds = args.seeds if step is None else (args.prefix_seeds or args.seeds)
        tlimit = args.time if step is None else (args.prefix_time or args.time)
        marks = [n for n in (10, 25, 50, 100, 200, 500) if n <= budget]
        spec = Spec(str(CONV1D), text, "conv1d", step)
        from exo_lsp.worker.search.backends import make_backend
        from exo_lsp.worker.search.rollout import session_for

        session_for(spec)
        final = None
        if step is not None:
            # the hand schedule's final cycles are the target from a prefix too
            final = hand
        print(f"\nstart: {'unscheduled' if step is None else f'after step {step} of {nsteps} ({frac:.0%})'}; "
              f"budget {budget} evaluations or {tlimit:.0f} s per search, {seeds} seeds; "
              f"cells: median [min-max] of best/hand at n evaluations ('-': a search stopped before n)")
        print(f"{'strategy':8} " + " ".join(f"{'@' + str(m):>18}" for m in marks)
              + f" {'final':>18} {'evals':>6} {'s':>5} {'evals/s':>8} {'>=3.6x at':>10}")
        backend = make_backend(spec, args.workers)
        try:
            for strat in args.strategies.split(","):
                runs = []
                for seed in range(seeds):
                    t0 = time.perf_counter()
                    r = run(spec, strat, budget, seed, args.workers, tlimit, backend)
                    runs.append((r, time.perf_counter() - t0))
                    prev = bests.get((strat, step))
                    if r.best_cycles is not None and (prev is None or r.best_cycles < prev[0]):
                        bests[(strat, step)] = (r.best_cycles, r.best_calls, spec)
                    if strat == mine and step is None:
                        all_schedules.append(r.best_calls)
                cells = []
                for m in [*marks, None]:
                    if m is not None and any(r.evaluations < m for r, _ in runs):
                        cells.append(f"{'-':>18}")  # some search stopped (time) before m evaluations
                        continue
                    vals = [at(r.history, m if m is not None else 10**9) for r, _ in runs]
                    ok = [v / hand for v in vals if v is not None]
                    if not ok:
                        cells.append(f"{'-':>18}")
                        continue
                    med = statistics.median([v / hand if v else float("inf") for v in vals])
                    cells.append(f"{med:6.2f} [{min(ok):.2f}-{max(ok):.2f}]".rjust(18))
                evals = statistics.median(r.evaluations for r, _ in runs)
                secs = statistics.median(t for _, t in runs)
                rate = statistics.median(r.evaluations / max(1e-9, t) for r, t in runs)
                tiled = [next((e for e, c in r.history if c is not None and scalar / c >= 3.6), None) for r, _ in runs]
                tiled_s = "/".join("-" if t is None else str(t) for t in tiled)
                print(f"{strat:8} " + " ".join(cells) + f" {evals:6.0f} {secs:5.0f} {rate:8.2f} {tiled_s:>10}")
                sys.stdout.flush()
        finally:
            backend.close()
    if shutil.which("riscv64-unknown-elf-gcc"):
        print("\nbest schedules under the gcc reference profile (zig is the default):")
        for (strat, step), (cyc, calls, spec) in sorted(bests.items(), key=lambda kv: (kv[0][1] or -1, kv[0][0])):
            g = gcc_cycles(spec, calls)
            print(f"  {strat:7} from {'unscheduled' if step is None else f'step {step}'}: zig {cyc} cycles, gcc {g} cycles")
        from exo_lsp.rvm.evaluate import compile_and_simulate
        from exo_lsp.worker.search.session import Session

        s = Session(Spec(str(CONV1D), text, "conv1d", None))
        hp = s.tracer.registry.get(s.state.trace.steps[-1].proc_out)
        hg = compile_and_simulate(hp, s.algorithm, compiler="gcc")
        print(f"  hand schedule: zig {hand} cycles, gcc {hg.scheduled.cycles} cycles (algorithm {hg.baseline.cycles})")
    if all_schedules and args.naive:
        spec = Spec(str(CONV1D), text, "conv1d", None)
        sample = all_schedules[: max(1, args.naive // 2)] * 2  # the repeat is what a search does: revisits
        ours, naive = naive_rate(spec, sample)
        print(f"\nevaluations/s on the same {len(sample)} schedules, one process: exo-lsp {ours:.2f}, "
              f"naive (replay + C + build + simulate each) {naive:.2f}: {ours / naive:.1f}x")
    ktext = KERNELS.read_text()
    print()
    for name in ("matmul_ab", "abt", "gemv") if args.others_budget else ():
        spec = Spec(str(KERNELS), ktext, name, None)
        r = run(spec, mine, args.others_budget, 0, args.workers, args.others_time or args.time)
        sp = f"{r.best_speedup:.2f}x" if r.best_speedup else "-"
        print(f"{name}: best {r.best_cycles} cycles, {sp} over its algorithm in {r.evaluations} "
              f"evaluations, {r.seconds:.0f} s; actions: {r.best_labels}")
    if args.ray_budget:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("\nray: not installed (pip install 'exo-lsp[ray]')")
        else:
            spec = Spec(str(KERNELS), ktext, "matmul_ab", None)
            rates = ray_rate(spec, args.ray_budget, 0)
            pool_r = run(spec, mine, args.ray_budget, 0, 2, None)
            (w1, r1, a), (w2, r2, b) = rates
            same = (b.best_calls, b.best_cycles) == (pool_r.best_calls, pool_r.best_cycles) == (a.best_calls, a.best_cycles)
            print(f"\nray (matmul_ab, seed 0, {args.ray_budget} evaluations): 1 worker {r1:.2f} evals/s, "
                  f"2 workers {r2:.2f} evals/s: {r2 / r1:.2f}x; best {b.best_cycles} cycles; "
                  f"same best schedule as the local pool: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
