"""What tracing costs per step on a schedule of mostly failed steps (stdlib's vectorize
trying an instruction list, as in Exo's halide unsharp: 15031 steps, 14036 failed), and
what the partial traces streamed during the run weigh. Baselines from the same run:
  plain s      `python script.py` (wall; CPU s of the child in brackets)
  engine s     the script through the real worker (the defaults, an empty memo), with the
               partial traces streamed and merged as the server does
  per step ms  (engine - plain) / steps: the tracer's own cost per step (negative when the
               speed-ups to Exo's checks win more than the tracing costs)
  frames MB    bytes of the partial-trace frames sent (steps new since the previous frame)
               vs what sending every step so far in each frame would weigh
Run: .venv/bin/python benchmarks/tracing_overhead.py [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

from exo_lsp.lsp.engine import Engine
from exo_lsp.lsp.worker_client import Settings

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "corpus_style" / "many_failed_steps.py"


def plain(path: pathlib.Path) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(path)], cwd=path.parent, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


async def engine_run(path: pathlib.Path) -> tuple[float, int, int, int]:
    engine = Engine(Settings())
    await engine.ensure_started()
    try:
        frames = []
        t0 = time.perf_counter()
        trace = await engine.run(str(path), path.read_text(), 1, use_memo=False,
                                 on_progress=lambda m: m.trace is not None and frames.append(m))
        wall = time.perf_counter() - t0
    finally:
        await engine.shutdown()
    assert trace.ok and not trace.partial
    return wall, len(trace.steps), sum(1 for s in trace.steps if not s.ok), len(frames)


def frame_weights(path: pathlib.Path) -> tuple[int, int, int]:
    """In process: (frames, bytes sent, bytes if every frame carried every step so far)."""
    from exo_lsp.shared import framing as ipc
    from exo_lsp.worker.progress import RunReporter
    from exo_lsp.worker.tracer import Tracer

    class Counting:
        sent = whole = frames = 0

        def send(self, msg) -> None:
            if msg.trace is not None:
                self.frames += 1
                self.sent += len(ipc.frame(msg))
                run = tracer.current
                self.whole += len(ipc.frame(ipc.Progress(msg.id, msg.line, run.partial_state().trace)))

        def take_queries(self) -> list:
            return []

    text = path.read_text()
    tracer, out = Tracer(), Counting()
    reporter = RunReporter(out, tracer, ipc.RunScript(1, str(path), text, 1, False, "utf-16", 0), lambda q: None)
    tracer.run(str(path), text, 1, use_memo=False, on_progress=reporter.step_done, on_inner_step=reporter.inner_step_done)
    return out.frames, out.sent, out.whole


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sys.setrecursionlimit(10000)
    plains, engines = [], []
    for _ in range(args.repeat):  # alternating, medians
        plains.append(plain(SCRIPT))
        engines.append(asyncio.run(engine_run(SCRIPT)))
    p_wall = statistics.median(w for w, _ in plains)
    p_cpu = statistics.median(c for _, c in plains)
    e_wall = statistics.median(e[0] for e in engines)
    _, steps, failed, streamed = engines[0]
    frames, sent, whole = frame_weights(SCRIPT)
    print(f"{'script':22} {'steps':>5} {'failed':>6} {'plain s':>14} {'engine s':>8} {'engine/plain':>12} "
          f"{'per step ms':>11} {'frames':>6} {'frames MB':>9} {'whole MB':>8}")
    print(f"{SCRIPT.name:22} {steps:5d} {failed:6d} {p_wall:6.2f} ({p_cpu:5.2f}) {e_wall:8.2f} {e_wall / p_wall:12.2f} "
          f"{(e_wall - p_wall) / steps * 1000:11.2f} {frames:6d} {sent / 1e6:9.2f} {whole / 1e6:8.2f}")
    print(f"(the engine streamed {streamed} partial traces)")


if __name__ == "__main__":
    main()
