"""Engine speed on the conv1d example, through the real worker process.

Prints medians of several repetitions, each ratio against a baseline from the same run:
  (a) cold run (empty memo) vs incremental run after a one-line change near the end
  (b) incremental run after a line is added at the top: every position below moves (the
      memoised procs move their source positions along instead of running again)
  (c) worker start-up (spawn + imports until ready)
Run: .venv/bin/python benchmarks/engine_incremental.py [--reps N]
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import statistics
import time

from exo_lsp.lsp.engine import Engine
from exo_lsp.lsp.worker_client import Settings, WorkerClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "conv1d.py"
END = "\nconv1d_rvm = p\n"


def near_end(text: str, k: int) -> str:
    # a new last step every time, so that the memo cannot have seen it before
    return text.replace(END, f'\np = divide_loop(p, "for r in _:_", 2, ["ro{k}", "ri{k}"], perfect=True)\n{END}')


def near_top(text: str, k: int) -> str:
    # a comment above the algorithm moves every source location below it
    return f"# edit {k}\n" + text


async def timed(engine: Engine, text: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    trace = await engine.run(str(SCRIPT), text, None)
    ms = (time.perf_counter() - t0) * 1000
    assert trace is not None and trace.ok, trace and trace.problems
    return ms, trace.cached_steps


async def main(reps: int) -> None:
    text = SCRIPT.read_text()
    engine = Engine(Settings())
    await engine.ensure_started()
    await timed(engine, text)  # warm the imports in the worker

    cold, inc_end, inc_top, cached_end = [], [], [], []
    for k in range(reps):
        t0 = time.perf_counter()
        await engine.run(str(SCRIPT), text, None, use_memo=False)
        cold.append((time.perf_counter() - t0) * 1000)
        await timed(engine, text)  # memo holds the original script
        ms, cached = await timed(engine, near_end(text, k))
        inc_end.append(ms)
        cached_end.append(cached)
        await timed(engine, text)
        ms, _ = await timed(engine, near_top(text, k))
        inc_top.append(ms)

    starts = []
    for _ in range(reps):
        w = WorkerClient(Settings())
        t0 = time.perf_counter()
        await w.start()
        starts.append((time.perf_counter() - t0) * 1000)
        await w.shutdown()
    await engine.shutdown()

    med = statistics.median
    c = med(cold)
    print(f"conv1d.py: {reps} repetitions, medians")
    print(f"  cold run (empty memo)            {c:8.1f} ms   1.00")
    print(f"  (a) one-line change near the end {med(inc_end):8.1f} ms   {med(inc_end) / c:.3f} of cold   ({int(med(cached_end))} steps reused)")
    print(f"  (b) change near the top          {med(inc_top):8.1f} ms   {med(inc_top) / c:.3f} of cold")
    print(f"  (c) worker start-up              {med(starts):8.1f} ms   {med(starts) / c:.3f} of cold")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    asyncio.run(main(ap.parse_args().reps))
