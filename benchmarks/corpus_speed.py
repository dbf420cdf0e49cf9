"""Real-style schedules through the real worker: cold run vs plain python, edits near the
end vs cold, the first streamed step of a long run, and the default time limit.

Scripts: tests/corpus_style/*.py (a schedule in a function, partial_eval, stdlib helpers,
cursor forwarding, a memory class of the script, the script's own helpers taking cursors) and benchmarks/corpus_style/long_schedule.py
(about 40 s by repetition). Every ratio is against a baseline measured in the same run:
  cold/plain     the engine's cold run (empty memo, warm worker) over `python script.py`
  edit/cold      a comment line added near the end, over the cold run
  same/cold      the identical text again, over the cold run
  first step     seconds from sending the run to the first streamed step (long script)
  complete       the long script's trace is complete under the default Settings
Run: .venv/bin/python benchmarks/corpus_speed.py [--only NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import subprocess
import sys
import time

from exo_lsp.lsp.engine import Engine
from exo_lsp.lsp.worker_client import Settings

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "tests" / "corpus_style").glob("*.py")) + [ROOT / "benchmarks" / "corpus_style" / "long_schedule.py"]


def plain(path: pathlib.Path) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(path)], cwd=path.parent, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def near_end(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    return "\n".join(lines[:-1] + ["# an edit near the end", lines[-1]]) + "\n"


async def measure(path: pathlib.Path) -> dict:
    text = path.read_text()
    engine = Engine(Settings())  # the defaults, time limit included
    await engine.ensure_started()
    try:
        first: list[float] = []
        t0 = time.perf_counter()

        def progress(msg) -> None:
            if msg.trace is not None and msg.trace.steps and not first:
                first.append(time.perf_counter() - t0)

        cold = await engine.run(str(path), text, 1, on_progress=progress, use_memo=False)
        cold_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        edit = await engine.run(str(path), near_end(text), 2)
        edit_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        same = await engine.run(str(path), near_end(text), 3)
        same_s = time.perf_counter() - t2
    finally:
        await engine.shutdown()
    return {
        "cold_s": cold_s, "edit_s": edit_s, "same_s": same_s, "first_step_s": first[0] if first else None,
        "complete": cold.ok and not cold.partial, "steps": len(cold.steps),
        "rerun": sum(1 for s in edit.steps if not s.cached), "same_rerun": sum(1 for s in same.steps if not s.cached),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    print(f"{'script':28} {'plain s':>8} {'cold s':>7} {'cold/plain':>10} {'edit/cold':>9} {'same/cold':>9} "
          f"{'first step s':>12} {'complete':>8} {'steps':>6} {'re-run':>6}")
    for path in SCRIPTS:
        if args.only and args.only not in path.name:
            continue
        p = plain(path)
        r = asyncio.run(measure(path))
        first = f"{r['first_step_s']:.2f}" if r["first_step_s"] is not None else "-"
        print(f"{path.name:28} {p:8.2f} {r['cold_s']:7.2f} {r['cold_s'] / p:10.2f} {r['edit_s'] / r['cold_s']:9.3f} "
              f"{r['same_s'] / r['cold_s']:9.3f} {first:>12} {str(r['complete']):>8} {r['steps']:6d} "
              f"{r['rerun']}/{r['same_rerun']:>4}")


if __name__ == "__main__":
    main()
