"""``exo-lsp search SCRIPT --proc NAME``: suggest a schedule by searching validated
transforms with the RVM simulator as the cost model (worker/search/).

The search runs the user's script in this process and in its worker processes (the user
asked for it on their own file; the language server never does this)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
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
    sp.add_argument("--strategy", choices=["evolve", "beam", "greedy", "random"], default="evolve")
    sp.add_argument("--out", help="write the schedule script here (default: print it)")
    sp.add_argument("--json", action="store_true", help="print the result as one JSON object")


class _Bar:
    """Progress on stderr with rich: a live bar (evaluations of the budget, best-so-far
    cycles, evaluations/s) on a terminal; elsewhere (a pipe, a log) a plain line when the
    best improves and at most every few seconds otherwise."""

    EVERY_S = 3.0

    def __init__(self, budget: int, stream=None, **console) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.budget = budget
        self.console = Console(file=stream or sys.stderr, highlight=False, **console)
        self.live = self.console.is_terminal
        self.last = 0.0
        self.best: int | None = None
        self.progress = None
        if self.live:
            self.progress = Progress(
                TextColumn("search"), BarColumn(bar_width=24), MofNCompleteColumn(), TextColumn("evaluations"),
                TextColumn("{task.fields[best]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                console=self.console, transient=False)
            self.task = self.progress.add_task("search", total=budget, best="best: none yet", rate="")
            self.progress.start()

    @staticmethod
    def _best(p) -> str:
        if p.best_cycles is None:
            return "best: none yet"
        return f"best: {p.best_cycles:,} cycles ({p.best_speedup:.2f}x)"

    def __call__(self, p) -> None:
        rate = f"{p.evaluations / max(1e-9, p.seconds):.2f} evaluations/s"
        if self.progress is not None:
            self.progress.update(self.task, completed=p.evaluations, best=self._best(p), rate=rate)
            return
        now = time.monotonic()
        improved = p.best_cycles is not None and p.best_cycles != self.best
        if not improved and now - self.last < self.EVERY_S and p.evaluations < self.budget:
            return
        self.last, self.best = now, p.best_cycles
        self.console.print(f"search {p.evaluations}/{self.budget} evaluations, {self._best(p)}, {rate}", soft_wrap=True)

    def end(self) -> None:
        if self.progress is not None:
            self.progress.stop()


class _CtrlC:
    """The first Ctrl-C asks the search to stop and keep its best: the handler only sets a
    flag, which the backend polls while it waits (backends._Stoppable says why it must not
    raise where it lands). Forked pool workers inherit this handler until they ignore
    SIGINT, so one hit early only sets their own copy of the flag. The second Ctrl-C ends
    the command at once, as SIGINT does by default."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.old = None

    def __enter__(self) -> "_CtrlC":
        self.old = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _on_sigint(self, signum, frame) -> None:
        self.event.set()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    def __call__(self) -> bool:
        return self.event.is_set()

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self.old)


def summary(res) -> str:
    """The last line the command prints."""
    cycles = "none" if res.best_cycles is None else str(res.best_cycles)
    speedup = "-" if res.best_speedup is None else f"{res.best_speedup:.2f}"
    return f"best: {cycles} cycles, {speedup}x over the algorithm, {res.evaluations} evaluations, {res.seconds:.1f} s"


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
    except KeyboardInterrupt:
        print("exo-lsp search: interrupted before the search began", file=sys.stderr)
        return 130
    except Exception as e:
        print(f"exo-lsp search: {e}", file=sys.stderr)
        return 2
    with _CtrlC() as ctrl_c:
        backend = make_backend(spec, args.workers, args.ray if args.ray is not None else False, stop=ctrl_c)
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
    if res.stopped == "interrupted":
        print("exo-lsp search: interrupted; the best schedule found so far follows", file=sys.stderr)
    last = summary(res)
    if args.json:
        print(json.dumps({
            "cycles": res.best_cycles, "speedup": res.best_speedup, "evaluations": res.evaluations,
            "seconds": round(res.seconds, 2), "stopped": res.stopped, "calls": list(res.best_calls),
            "actions": res.best_labels, "history": res.history, "script": None if args.out else text,
        }))
        print(last, file=sys.stderr)
    else:
        if not args.out:
            sys.stdout.write(text)
        print(last)
    return 0 if res.best_cycles is not None else 1
