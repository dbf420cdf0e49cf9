"""Code actions: time to enumerate and validate every candidate at a place, against the
naive approach of the transform-search notebooks, measured in the same run.

Places: the proc of examples/conv1d.py after its first ``simplify`` (step 6), at the
innermost loop nest (``for r``) and at the outermost loop (``for ioo``); then the whole proc
before the RVM replacements (step 32), where the instruction replacements are searched.

The candidate universe at a place is what a notebook-style search tries there: every
transform by node kind (the exo-lsp enumeration) plus the blind ones the notebooks also
tried (reorder the node with every other loop, divide by every factor with perfect=True,
unroll every loop, every instruction on every loop). Both approaches answer the same
universe:

* naive: apply each candidate (pattern strings, as written), then generate C for the
  result (the notebooks keyed procs by their C), failures included, with Exo as it comes;
* exo-lsp: structural filters answer what cannot apply (or what another candidate's
  failure decides); the rest is applied once and compared with the raw printer, with the
  speed-ups to Exo's checks in worker/exo/speedups.py (solver lookup once, contexts
  memoised, no source reading for stack frames); cold (empty caches and memos) and warm
  (a repeated request).
  "same-set" compares exo-lsp cold with apply + C on exactly the candidates exo-lsp
  applies (both with the speed-ups): what skipping C and the quiet replace pre-checks
  alone are worth.

It also checks that every candidate the filters rejected really fails when applied.
Prints medians over --repeat runs.

    .venv/bin/python benchmarks/actions_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "conv1d.py"


def naive_universe(p, node, scope, ours: list[str]) -> list[str]:
    """Notebook-style blind candidates for `node` (a loop) plus the ones exo-lsp enumerated."""
    from exo_lsp.worker.exo import cursors
    from exo_lsp.worker.queries.actions.nodes import _walk

    v = scope.var
    loops = [s for s in _walk(p.body()) if cursors._pc.ForCursor.__instancecheck__(s)]
    names = sorted({s.name() for s in loops})
    out = list(ours)
    if node is not None:
        x = node.name()
        for y in names:
            if y != x:
                out.append(f'reorder_loops({v}, "{x} {y}")')
                out.append(f'reorder_loops({v}, "{y} {x}")')
        hi = node.hi()
        n = hi.value() if isinstance(hi, cursors._pc.LiteralCursor) else 16
        for f in range(2, n):
            out.append(f'divide_loop({v}, "for {x} in _:_", {f}, ["{x}o", "{x}i"], perfect=True)')
    here = sorted({s.name() for s in _walk([node]) if cursors._pc.ForCursor.__instancecheck__(s)}) if node else names
    for y in here:
        out.append(f'unroll_loop({v}, "for {y} in _:_")')
    for iname, _ in scope.instrs:
        for y in here:
            out.append(f'replace({v}, "for {y} in _:_", {iname})')
    seen, uniq = set(), []
    for c in out:
        if c not in seen:
            seen.add(c)
            uniq.append(c)
    return uniq


def naive(p, scope, calls: list[str]) -> tuple[float, dict[str, bool]]:
    from exo_lsp.worker.exo import printing, procs
    from exo_lsp.worker.queries.actions.validation import _evaluate

    ok: dict[str, bool] = {}
    base = printing.proc_text_fast(p)
    t0 = time.perf_counter()
    for call in calls:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                r = _evaluate(call, p, scope)
            ok[call] = printing.proc_text_fast(r) != base
        except Exception:
            r = p
            ok[call] = False
        try:
            r.c_code_str()
        except Exception:
            pass
        finally:
            procs.reset_exo_state()
    return time.perf_counter() - t0, ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sys.setrecursionlimit(10000)

    from exo_lsp.worker.queries.actions import enumerator, handlers, validation
    from exo_lsp.worker.queries.actions.places import build_scope
    from exo_lsp.worker.exo import cursors, speedups
    from exo_lsp.worker.tracer import Tracer

    aq_budget = 700.0
    tracer = Tracer()
    import msgspec

    from exo_lsp.shared.contract import ActionsParams, Place

    path = str(SCRIPT)
    state = tracer.run(path, SCRIPT.read_text(), 1)
    assert state.trace.ok
    vars_ = {str(s.index): "p" for s in state.trace.steps if s.parent is None}

    def place(step: int, loop: str | None):
        p = tracer.registry.get(state.trace.steps[step].proc_out)
        node = p.find_loop(loop) if loop else None
        place = Place(kind="paths", paths=[list(map(list, cursors.node_path(node)))]) if node else Place()
        return p, node, ActionsParams(step=step, vars=vars_, place=place)

    def cold_start() -> None:
        # nothing validated or memoised by the last repetition
        validation.CACHE.clear()
        validation.RESULTS.clear()
        speedups.forget_analyses()

    places = [("innermost nest (for r, step 6)", 6, "r"), ("outer nest (for ioo, step 6)", 6, "ioo"), ("whole proc before replace (step 32)", 32, None)]
    print(f"{'place':38} {'univ':>5} {'cands':>5} {'offer':>5} {'naive s':>8} {'cold s':>7} {'warm ms':>8} {'cold x':>7} {'warm x':>8} {'same-set x':>10}")
    for label, step, loop in places:
        p, node, params = place(step, loop)
        scope = build_scope(state, step, "p")
        rows = []
        for _ in range(args.repeat):
            cold_start()
            t0 = time.perf_counter()
            res = handlers.list_actions(tracer, path, params)
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            handlers.list_actions(tracer, path, params)
            warm = time.perf_counter() - t0
            ours = [c.call for c in enumerator.enumerate_candidates(p, [node] if node else [], node is None, scope)]
            universe = naive_universe(p, node, scope, ours)
            speedups.uninstall_speedups()  # the notebooks ran Exo as it comes
            try:
                t_naive, ok = naive(p, scope, universe)
            finally:
                speedups.install_speedups()
            # the same candidate set both ways: apply only vs apply + C
            speedups.forget_analyses()
            t_same, _ = naive(p, scope, ours)
            cold_start()
            t0 = time.perf_counter()
            first = handlers.list_actions(tracer, path, msgspec.structs.replace(params, budget_ms=aq_budget))
            t_first = time.perf_counter() - t0
            rows.append((len(universe), res.candidates, len(res.actions), t_naive, cold, warm, t_same, t_first, len(first.actions), first.pending))
            offered = {a.call for a in res.actions}
            # (a blind replace picks the first match and ignores memories: compared in the tests instead)
            wrongly_rejected = [
                c for c in universe
                if ok.get(c) and c not in offered and c not in ours and not c.startswith("replace") and "unroll_loop" not in c
            ]
            missed = [c for c in ours if ok.get(c) and c not in offered and not c.startswith(("replace", "set_memory"))]
        u, cands, offer, t_naive, cold, warm, t_same, t_first, n_first, n_pending = (statistics.median(col) for col in zip(*rows))
        print(
            f"{label:38} {u:5.0f} {cands:5.0f} {offer:5.0f} {t_naive:8.2f} {cold:7.2f} {warm * 1000:8.1f} "
            f"{t_naive / cold:6.1f}x {t_naive / warm:7.0f}x {t_same / cold:9.1f}x"
        )
        print(f"{'':38} rate: naive {u / t_naive:6.1f} cand/s, exo-lsp cold {u / cold:6.1f} cand/s, warm {u / warm:8.0f} cand/s")
        print(f"{'':38} first answer with the editor's {aq_budget:.0f} ms budget: {t_first * 1000:.0f} ms, "
              f"{n_first:.0f} actions offered, {n_pending:.0f} candidates left to the background")
        if wrongly_rejected:
            print(f"{'':38} !! filtered out but valid: {wrongly_rejected}")
        if missed:
            print(f"{'':38} !! validated differently: {missed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
