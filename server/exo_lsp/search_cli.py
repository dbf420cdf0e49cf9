"""``exo-lsp search SCRIPT --proc NAME``: suggest a schedule by searching validated
transforms with the RVM simulator as the cost model (worker/search/).

The search runs the user's script in this process and in its worker processes (the user
asked for it on their own file; the language server never does this)."""

from __future__ import annotations

import json
import os
import sys
import time


def add_parser(sub) -> None:
    sp = sub.add_parser("search", help="search for a schedule of a proc, scored by the RVM simulator")
    sp.add_argument("file")
    sp.add_argument("--proc", help="proc name (default: the first @proc of the script)")
    sp.add_argument("--step", type=int, help="start after this trace step (default: the proc as defined)")
    sp.add_argument("--budget", type=int, default=200, help="distinct procs to simulate (default 200)")
    sp.add_argument("--time", type=float, help="stop after this many seconds (then not reproducible)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--workers", type=int, default=0, help="worker processes (default: all cores; 1: none)")
    sp.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                    help="evaluate on Ray: a local Ray, or join the cluster at ADDRESS")
    sp.add_argument("--strategy", choices=["beam", "greedy", "random"], default="beam")
    sp.add_argument("--out", help="write the schedule script here (default: print it)")
    sp.add_argument("--json", action="store_true", help="print the result as one JSON object")


class _Bar:
    """One progress line on stderr, redrawn in place when stderr is a terminal."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, p) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < 5 and p.evaluations < self.budget:
            return
        self.last = now
        frac = min(1.0, p.evaluations / max(1, self.budget))
        bar = "#" * int(frac * 24) + "-" * (24 - int(frac * 24))
        best = f"{p.best_cycles:,} cycles ({p.best_speedup:.2f}x)" if p.best_cycles else "none yet"
        rate = p.evaluations / max(1e-9, p.seconds)
        line = f"[{bar}] {p.evaluations}/{self.budget} evals  best {best}  {rate:.2f} eval/s"
        sys.stderr.write(("\r" + line) if self.tty else line + "\n")
        sys.stderr.flush()

    def end(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def run(args) -> int:
    from .worker.search.backends import make_backend
    from .worker.search.engine import search
    from .worker.search.rollout import session_for
    from .worker.search.script import render
    from .worker.search.session import Spec

    path = os.path.abspath(args.file)
    with open(path, encoding="utf-8") as fh:
        spec = Spec(path, fh.read(), args.proc, args.step)
    try:
        session = session_for(spec)
    except Exception as e:
        print(f"exo-lsp search: {e}", file=sys.stderr)
        return 2
    backend = make_backend(spec, args.workers, args.ray if args.ray is not None else False)
    bar = _Bar(args.budget)
    try:
        res = search(backend, strategy=args.strategy, budget=args.budget, seed=args.seed,
                     time_limit=args.time, on_progress=bar)
    finally:
        bar.end()
        backend.close()
    text = render(session, res.best_calls, cycles=res.best_cycles, speedup=res.best_speedup,
                  evaluations=res.evaluations, seed=args.seed)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    summary = (f"best: {res.best_cycles} cycles, {res.best_speedup}x over the algorithm, "
               f"{res.evaluations} evaluations, {res.seconds:.1f} s")
    if args.json:
        print(json.dumps({
            "cycles": res.best_cycles, "speedup": res.best_speedup, "evaluations": res.evaluations,
            "seconds": round(res.seconds, 2), "stopped": res.stopped, "calls": list(res.best_calls),
            "actions": res.best_labels, "history": res.history, "script": None if args.out else text,
        }))
        print(summary, file=sys.stderr)
    else:
        if not args.out:
            sys.stdout.write(text)
        print(summary)
    return 0 if res.best_cycles is not None else 1
