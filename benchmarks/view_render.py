"""View rendering: cold (first read of a proc) vs cached (re-read, hover, diff), as ratios.

Part 1, in process (the worker's code without IPC): for every step of conv1d, the proc
view with its source map, and the C view with its map, rendered with an empty cache and
then again from the cache.
Part 2, through the engine (server -> worker IPC): ``viewText`` of the C view of every
step, first read vs second read.

Prints medians in ms and the cold/cached ratio. Usage: python benchmarks/view_render.py
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "examples" / "conv1d.py")


def ms(f) -> float:
    t0 = time.perf_counter()
    f()
    return (time.perf_counter() - t0) * 1000


def in_process() -> None:
    from exo_lsp.worker.queries import views as vq
    from exo_lsp.worker.tracer import Tracer

    tracer = Tracer()
    state = tracer.run(SCRIPT, open(SCRIPT).read(), 1)
    steps = [s for s in state.trace.steps if s.ok and s.proc_out is not None]
    rows = {"proc view + map": ([], []), "C view + map": ([], [])}
    for s in steps:
        for label, with_c in (("proc view + map", False), ("C view + map", True)):
            tracer._view_cache = vq.ViewCache()  # cold: nothing rendered, no step labels
            try:
                cold = ms(lambda: vq.view_data(tracer, SCRIPT, s.proc_out, s.index, with_c))
            except Exception:
                continue  # no C at this step (e.g. tiles not unrolled yet)
            warm = ms(lambda: vq.view_data(tracer, SCRIPT, s.proc_out, s.index, with_c))
            rows[label][0].append(cold)
            rows[label][1].append(warm)
    print(f"in process, conv1d, {len(steps)} steps (median ms over steps)")
    for label, (cold, warm) in rows.items():
        c, w = statistics.median(cold), statistics.median(warm)
        print(f"  {label:<18} cold {c:8.2f}   cached {w:7.3f}   ratio cold/cached {c / w:8.1f}x   (n={len(cold)})")


async def through_engine() -> None:
    from exo_lsp.lsp.engine import Engine
    from exo_lsp.lsp.worker_client import Settings
    from exo_lsp.shared.contract import ViewTextParams

    engine = Engine(Settings())
    try:
        trace = await engine.run(SCRIPT, open(SCRIPT).read(), 1)
        handles = [s.proc_out for s in trace.steps if s.ok and s.proc_out is not None]
        first, second = [], []
        for h in handles:
            t0 = time.perf_counter()
            try:
                await engine.query(SCRIPT, ViewTextParams(handle=h, c=True))
            except RuntimeError:
                continue
            first.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await engine.query(SCRIPT, ViewTextParams(handle=h, c=True))
            second.append((time.perf_counter() - t0) * 1000)
        c, w = statistics.median(first), statistics.median(second)
        print(f"through the engine (IPC), C view text, n={len(first)} (median ms)")
        print(f"  first read {c:8.2f}   re-read {w:7.3f}   ratio {c / w:6.1f}x")
    finally:
        await engine.shutdown()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "server"))
    os.chdir(ROOT)
    in_process()
    asyncio.run(through_engine())
