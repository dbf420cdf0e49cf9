"""Hover latency over every pattern string of conv1d, from a warm trace, over a real
stdio server — against the cost of one ``str(proc)`` measured in the same run.

1. In this process: run examples/conv1d.py and time ``str(proc)`` of its final proc (Exo's
   printer + yapf: what "print the proc" costs a user today).
2. Start ``python -m exo_lsp serve``, open conv1d, wait for the run, then hover every
   pattern string (and every cursor expression) of the schedule: one first pass (the
   worker's per-proc listings not cached yet) and then ROUNDS warm passes.

Prints p50/p95 in ms and the ratios to ``str(proc)``. Usage: python benchmarks/hover_latency.py
"""

from __future__ import annotations

import ast
import asyncio
import pathlib
import statistics
import sys
import time

from lsprotocol import types as lsp

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
SCRIPT = ROOT / "examples" / "conv1d.py"
ROUNDS = 5


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def str_proc_cost(reps: int = 15) -> tuple[float, int]:
    sys.path.insert(0, str(ROOT / "examples"))
    ns: dict = {"__name__": "__bench__", "__file__": str(SCRIPT)}
    exec(compile(SCRIPT.read_text(), str(SCRIPT), "exec"), ns)
    p = ns["conv1d_rvm"]
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        text = str(p)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), len(text.splitlines())


def positions() -> list[tuple[int, int, str]]:
    """Every string argument of a call in the schedule (after the @proc), and the start
    of every call argument that is itself a method-call chain (cursor expressions)."""
    tree = ast.parse(SCRIPT.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno > 30:
            for a in node.args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str):
                    out.append((a.lineno - 1, a.col_offset + 1, repr(a.value)))
                elif isinstance(a, ast.Call) and isinstance(a.func, ast.Attribute):
                    out.append((a.end_lineno - 1, a.end_col_offset - 2, ast.unparse(a)))
    return sorted(set(out))


async def server_latencies() -> tuple[list[float], list[float], int, float]:
    from stdio_session import StdioSession

    session = StdioSession("hover-bench", SCRIPT)
    client, uri = session.client, session.uri
    t0 = time.perf_counter()
    state = await session.start()
    run_s = time.perf_counter() - t0
    assert state == "ok", state

    async def hover(line, ch):
        t = time.perf_counter()
        h = await client.text_document_hover_async(
            lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=ch))
        )
        return (time.perf_counter() - t) * 1000, h

    pos = positions()
    first, live = [], []
    for line, ch, _ in pos:
        ms, h = await hover(line, ch)
        if h is not None:
            live.append((line, ch))
            first.append(ms)
    warm = []
    for _ in range(ROUNDS):
        for line, ch in live:
            ms, h = await hover(line, ch)
            assert h is not None
            warm.append(ms)
    await session.stop()
    return first, warm, len(live), run_s


def main() -> None:
    base, lines = str_proc_cost()
    first, warm, n, run_s = asyncio.run(server_latencies())
    print(f"conv1d: {n} pattern strings and cursor expressions hovered; script run {run_s:.1f} s (cold worker)")
    print(f"baseline  str(proc) of the final proc ({lines} lines), median of 15: {base:7.2f} ms")
    for label, xs in (("first pass", first), (f"warm ({ROUNDS} rounds)", warm)):
        p50, p95 = statistics.median(xs), pct(xs, 0.95)
        print(
            f"hover {label:<16} n={len(xs):3d}  p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  max {max(xs):6.2f} ms"
            f"   p50/str(proc) {p50 / base:5.2f}x  p95/str(proc) {p95 / base:5.2f}x"
        )
    goal = pct(warm, 0.95) < 50
    print(f"goal p95 < 50 ms (warm): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
