"""Completion latency on conv1d over a real stdio server, warm — against the cost of one
``str(proc)`` measured in the same run (as benchmarks/hover_latency.py does for hovers).

1. In this process: run examples/conv1d.py and time ``str(proc)`` of its final proc.
2. Start ``python -m exo_lsp serve``, open conv1d, wait for the run, then ask for completion
   (a) just inside every string argument of the schedule's calls (patterns, windows, names:
   the proc before that step), and (b) on a line being typed at the end of the script, which
   does not parse (``p = divide_loop(p, "for `` and ``c = p.find_loop("c").``): completed
   against the last good run. One first pass (the worker's per-proc statement tables not
   built yet), then ROUNDS warm passes.

Prints p50/p95 in ms and the ratios to ``str(proc)``. Usage: python benchmarks/completion_latency.py
"""

from __future__ import annotations

import ast
import asyncio
import pathlib
import statistics
import sys
import time

from lsprotocol import types as lsp

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hover_latency import SCRIPT, pct, str_proc_cost  # noqa: E402

ROUNDS = 5
TYPED = ['p = divide_loop(p, "for ', 'c = p.find_loop("c").', 'p = reorder_loops(p, "']


def string_positions(text: str) -> list[tuple[int, int]]:
    """Just after the opening quote of every string argument of a call in the schedule."""
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and node.lineno > 30:
            for a in node.args:
                if isinstance(a, ast.Constant) and isinstance(a.value, str):
                    out.append((a.lineno - 1, a.col_offset + 1))
    return sorted(set(out))


async def server_latencies():
    from stdio_session import StdioSession

    session = StdioSession("completion-bench", SCRIPT)
    client, uri = session.client, session.uri
    text = SCRIPT.read_text()
    assert await session.start(text) == "ok"

    async def complete(line, ch):
        t = time.perf_counter()
        got = await client.text_document_completion_async(
            lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=ch))
        )
        return (time.perf_counter() - t) * 1000, (len(got.items) if got else 0)

    async def passes(points):
        first, warm, items = [], [], 0
        for line, ch in points:
            ms, n = await complete(line, ch)
            first.append(ms)
            items += n
        for _ in range(ROUNDS):
            for line, ch in points:
                warm.append((await complete(line, ch))[0])
        return first, warm, items

    in_strings = await passes(string_positions(text))
    # the lines being typed at the end (one edit: the run fails to parse and keeps nothing)
    typed_text = text.rstrip("\n") + "\n" + "\n".join(TYPED)
    await session.change(typed_text, 2)
    n0 = len(text.rstrip("\n").splitlines())
    typed = await passes([(n0 + k, len(t)) for k, t in enumerate(TYPED)])
    await session.stop()
    return in_strings, typed


def main() -> None:
    base, lines = str_proc_cost()
    (s_first, s_warm, s_items), (t_first, t_warm, t_items) = asyncio.run(server_latencies())
    print(f"baseline  str(proc) of the final proc ({lines} lines), median of 15: {base:7.2f} ms")
    rows = [
        (f"in strings, first ({s_items} items)", s_first),
        (f"in strings, warm x{ROUNDS}", s_warm),
        (f"typed line, first ({t_items} items)", t_first),
        (f"typed line, warm x{ROUNDS}", t_warm),
    ]
    for label, xs in rows:
        p50, p95 = statistics.median(xs), pct(xs, 0.95)
        print(f"completion {label:<30} n={len(xs):3d}  p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  max {max(xs):6.2f} ms"
              f"   p50/str(proc) {p50 / base:5.2f}x  p95/str(proc) {p95 / base:5.2f}x")
    warm = s_warm + t_warm
    print(f"goal p95 < 50 ms (warm, all): {pct(warm, 0.95):.2f} ms, {'met' if pct(warm, 0.95) < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
