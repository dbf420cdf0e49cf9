"""What the speed-ups to Exo's checks (worker/exo/speedups.py) are worth, in process: a
cold trace of each example (empty memo tables) with Exo as it comes vs with the speed-ups,
alternating, medians.
The traces are the same either way (tests/test_exo_speedups.py).

    .venv/bin/python benchmarks/exo_speedups.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["conv1d.py", "conv1d_variants.py", "matmul.py"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sys.setrecursionlimit(10000)

    from exo_lsp.worker.exo import speedups
    from exo_lsp.worker.tracer import Tracer

    tracer = Tracer()
    print(f"{'script':22} {'steps':>5} {'as it comes':>12} {'speed-ups':>10} {'ratio':>6}")
    for name in EXAMPLES:
        path = ROOT / "examples" / name
        text = path.read_text()
        times: dict[bool, list[float]] = {False: [], True: []}
        steps = 0
        for _ in range(args.repeat):
            for fast in (False, True):
                if fast:
                    speedups.install_speedups()
                else:
                    speedups.uninstall_speedups()
                t0 = time.perf_counter()
                state = tracer.run(str(path), text, 1, use_memo=False)
                times[fast].append(time.perf_counter() - t0)
                steps = len(state.trace.steps)
        speedups.install_speedups()
        slow, fast = statistics.median(times[False]), statistics.median(times[True])
        print(f"{name:22} {steps:5d} {slow * 1000:9.0f} ms {fast * 1000:7.0f} ms {slow / fast:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
