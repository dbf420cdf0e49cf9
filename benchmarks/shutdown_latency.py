"""How long `shutdown` takes to be answered by a server that has run a script (its worker,
a spare and Exo loaded), against a request round trip measured in the same run
(`exo/steps` of the script, answered from the trace). Eglot gives a server 1.5 s;
the goal is under 200 ms. Usage: python benchmarks/shutdown_latency.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from stdio_session import StdioSession  # noqa: E402


async def once() -> tuple[float, float]:
    s = StdioSession("shutdown-bench", ROOT / "examples" / "conv1d.py")
    assert await s.start() == "ok"
    trips = []
    for _ in range(5):
        t0 = time.perf_counter()
        await s.client.protocol.send_request_async("exo/steps", {"uri": s.uri})
        trips.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    await s.client.shutdown_async(None)
    shutdown = (time.perf_counter() - t0) * 1000
    s.client.exit(None)
    await s.client.stop()
    return statistics.median(trips), shutdown


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = [asyncio.run(once()) for _ in range(args.repeat)]
    trip = statistics.median(r[0] for r in rows)
    down = statistics.median(r[1] for r in rows)
    print(f"request round trip (exo/steps), median: {trip:7.1f} ms")
    print(f"shutdown answered, median of {args.repeat}: {down:7.1f} ms   ratio to a round trip {down / trip:5.1f}x")
    print(f"goal < 200 ms: {'met' if down < 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
