"""Code actions in the worker: candidates by node kind, validation by applying, the proc
view's line map, windows for stage_mem, budgets and the cache."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
import pytest

from exo_lsp.shared.contract import ActionsParams, Place, PreviewParams
from exo_lsp.worker.queries.actions import candidate, enumerator, handlers, places, validation, windows
from exo_lsp.worker.queries.actions.nodes import Namer
from exo_lsp.worker.exo import cursors, printing
from exo_lsp.worker.tracer import Tracer

ROOT = Path(__file__).resolve().parents[1]
CONV1D = str(ROOT / "examples" / "conv1d.py")
MATMUL = str(ROOT / "examples" / "matmul.py")


@pytest.fixture(scope="module")
def runs():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    t = Tracer()
    states = {path: t.run(path, Path(path).read_text(), 1) for path in (CONV1D, MATMUL)}
    assert all(s.trace.ok for s in states.values())
    return t, states


def proc_after(runs, path: str, step: int):
    t, states = runs
    return t.registry.get(states[path].trace.steps[step].proc_out)


def all_vars(runs, path: str) -> dict:
    _, states = runs
    return {str(s.index): "p" for s in states[path].trace.steps if s.parent is None}


def place_of(node) -> dict:
    return {"kind": "paths", "paths": [list(map(list, cursors.node_path(node)))]}


def listed(runs, path: str, step: int, node=None, budget=None) -> handlers.ActionList:
    t, _ = runs
    params = {"step": step, "vars": all_vars(runs, path), "budget_ms": budget,
              "place": place_of(node) if node is not None else {"kind": "proc"}}
    return handlers.list_actions(t, path, msgspec.convert(params, ActionsParams))


# conv1d step 6 is the `simplify` after the tiling; step 32 the last set_memory.


def test_view_line_map_follows_yapf_wrapping(runs):
    # a view_line place is resolved with the views' line map (view_queries.stmt_at_line)
    p = proc_after(runs, CONV1D, 6)
    lines = str(p).splitlines()
    t, _ = runs

    def at(i):
        *_, nodes, whole = places.resolve_place(t, CONV1D, ActionsParams(step=6, place=Place(kind="view_line", line=i)))
        assert whole == (not nodes) and len(nodes) <= 1
        return cursors.node_text(nodes[0]) if nodes else None

    got = {i: at(i) for i in range(len(lines))}
    reduce = "out[ii + 4 * ioi + 16 * ioo, ji + 4 * jo] += kernels[ii + 4 * ioi + 16 * ioo, c, r] * y"
    assert got == {
        0: None,
        1: None,
        2: "for ioo in seq(0, 1):",
        3: "for jo in seq(0, 4):",
        4: "for ioi in seq(0, 4):",
        5: "for ii in seq(0, 4):",
        6: "for ji in seq(0, 4):",
        7: "out[ii + 4 * ioi + 16 * ioo, ji + 4 * jo] = 0",
        8: "for c in seq(0, 4):",
        9: "for r in seq(0, 4):",
        10: "y : i32 @DRAM",
        11: "if ji + r + 4 * jo < 16:",
        12: "y = data[c, ji + r + 4 * jo]",
        13: "if ji + r + 4 * jo < 16:",  # else:
        14: "y = 0",
        15: reduce,  # one statement wrapped over three lines by yapf
        16: reduce,
        17: reduce,
    }


def test_stage_windows_span_inner_loops_and_keep_outer_ones(runs):
    p = proc_after(runs, CONV1D, 6)
    r = p.find_loop("r")
    assert windows.stage_windows([r], windows._inner_ranges([r])) == {
        "out": "out[ii + 4 * ioi + 16 * ioo, ji + 4 * jo]",
        "data": "data[c, ji + 4 * jo:ji + 4 * jo + 4]",
        "kernels": "kernels[ii + 4 * ioi + 16 * ioo, c, 0:4]",
    }
    ioi = p.find_loop("ioi")
    assert windows.stage_windows([ioi], windows._inner_ranges([ioi]))["kernels"] == "kernels[16 * ioo:16 * ioo + 16, 0:4, 0:4]"


def test_patterns_get_a_selector_only_when_needed(runs):
    p = proc_after(runs, CONV1D, 32)
    names = Namer(p)
    loops = p.find("for ii in _:_", many=True)
    assert [names.stmt(c) for c in loops] == ["for ii in _:_ #0", "for ii in _:_ #1", "for ii in _:_ #2"]
    assert names.stmt(p.find_loop("c")) == "for c in _:_"
    assert names.stmt(p.find("acc : _")) == "acc : _"
    assert names.fresh("io", "c", "c") == ["io", "c1", "c2"]


def test_reorder_is_offered_only_for_perfect_nests(runs):
    p = proc_after(runs, MATMUL, 2)  # io, jo, ii, ji { C = 0; k { += } }
    scope = places.build_scope(runs[1][MATMUL], 2, "p")
    ji = p.find_loop("ji")
    calls = [c.call for c in enumerator.enumerate_candidates(p, [ji], False, scope)]
    assert not [c for c in calls if c.startswith('reorder_loops(p, "ji k')]  # C[i, j] = 0.0 is in between
    assert 'reorder_loops(p, "ii ji")' in calls  # ii's whole body is ji
    assert [c for c in calls if c.startswith("divide_loop") and "perfect=True" in c] == [
        'divide_loop(p, "for ji in _:_", 2, ["jio", "jii"], perfect=True)'
    ]


def test_failing_transforms_are_rejected_by_applying_them(runs):
    t, states = runs
    p = proc_after(runs, CONV1D, 0)
    handle = states[CONV1D].trace.steps[0].proc_out
    scope = places.build_scope(states[CONV1D], 0, "p")
    base = printing.proc_text_fast(p)
    bad = candidate.Candidate("divide", "", 'divide_loop(p, "for i in _:_", 5, ["io", "ii"], perfect=True)')
    out = validation.validate(bad, p, handle, scope, base)
    assert not out.ok and "cannot perfectly divide '16' by 5" in out.error
    noop = candidate.Candidate("simplify", "", "simplify(p)")
    assert validation.validate(noop, p, handle, scope, base).error == "changes nothing"
    good = candidate.Candidate("divide", "", 'divide_loop(p, "for i in _:_", 4, ["io", "ii"], perfect=True)')
    assert validation.validate(good, p, handle, scope, base).ok


def test_what_another_candidate_decides_is_not_applied_again(runs):
    validation.CACHE.clear()
    t, states = runs
    p = proc_after(runs, CONV1D, 6)
    handle = states[CONV1D].trace.steps[6].proc_out
    scope = places.build_scope(states[CONV1D], 6, "p")
    base = printing.proc_text_fast(p)
    calls = [a.call for a in listed(runs, CONV1D, 6, p.find_loop("r")).actions]
    # lift_scope of a loop out of a loop is the reorder (Exo runs the same rewrite): one action
    assert 'reorder_loops(p, "c r")' in calls and not [c for c in calls if c.startswith("lift_scope")]
    lifted = validation.validate(candidate.Candidate("lift_scope", "", 'lift_scope(p, "for r in _:_")'), p, handle, scope, base)
    reordered = validation.CACHE.get((handle, "p", 'reorder_loops(p, "c r")', ()))
    assert lifted.ok and printing.proc_text_fast(lifted.result) == printing.proc_text_fast(reordered.result)
    # fission out of seven loops starts with the fission out of one, which fails here
    once, seven = 'fission(p, p.find("if _:_").after())', 'fission(p, p.find("if _:_").after(), n_lifts=7)'
    assert not validation.CACHE.get((handle, "p", once, ())).ok
    assert validation.CACHE.get((handle, "p", seven, ())) is None  # decided without applying it
    applied = validation.validate(candidate.Candidate("fission", "", seven), p, handle, scope, base)
    assert not applied.ok and "Cannot fission" in applied.error


def test_rvm_replacements_and_memory_fixes(runs):
    before_set_memory = listed(runs, CONV1D, 28)
    assert [a.call for a in before_set_memory.actions if a.group in ("replace", "memory_fix")] == [
        'set_memory(p, "acc : _", RVM_TILE)',
        'set_memory(p, "data_tile : _", RVM_TILE)',
        'set_memory(p, "kernel_tile : _", RVM_TILE)',
    ]
    after = listed(runs, CONV1D, 32)
    assert [a.call for a in after.actions if a.group == "replace"] == [
        'replace(p, "for ii in _:_ #0", rvm_mzero)',
        'replace(p, "for i0 in _:_ #0", rvm_mld)',
        'replace(p, "for i0 in _:_ #1", rvm_mld)',
        'replace(p, "for ii in _:_ #1", rvm_mmasa)',
        'replace(p, "for ii in _:_ #2", rvm_mst)',
    ]
    assert not [a for a in after.actions if a.group == "memory_fix"]


def test_budget_leaves_the_rest_pending_and_the_cache_answers_later(runs):
    validation.CACHE.clear()
    validation.RESULTS.clear()
    p = proc_after(runs, CONV1D, 6)
    r = p.find_loop("r")
    first = listed(runs, CONV1D, 6, r, budget=1)
    # nothing validated in 1 ms: every candidate is offered unchecked (validated when chosen)
    assert first.validated == 0 and first.pending == first.candidates > 0
    assert first.actions and not [a for a in first.actions if a.checked]
    full = listed(runs, CONV1D, 6, r)
    assert full.pending == 0 and full.validated == full.candidates
    again = listed(runs, CONV1D, 6, r, budget=1)
    assert again.pending == 0
    assert [a.call for a in again.actions] == [a.call for a in full.actions]
    assert all(a.ms == b.ms for a, b in zip(again.actions, full.actions))  # same outcomes, from the cache
    groups = [a.group for a in full.actions]
    assert groups.index("divide") < groups.index("unroll") < groups.index("divide_tail")


def test_preview_is_the_printed_proc_before_and_after(runs):
    t, states = runs
    full = listed(runs, CONV1D, 6, proc_after(runs, CONV1D, 6).find_loop("r"))
    [unroll] = [a for a in full.actions if a.group == "unroll"]
    handle = states[CONV1D].trace.steps[6].proc_out
    pv = handlers.q_preview(t, CONV1D, PreviewParams(handle=handle, var="p", call=unroll.call, step=6))
    p = proc_after(runs, CONV1D, 6)
    assert pv.before == str(p)
    from exo.stdlib.scheduling import unroll_loop

    assert pv.after == str(unroll_loop(p, "for r in _:_"))
    assert pv.diff.startswith("--- conv1d_rvm (before)\n+++ conv1d_rvm (after unroll_loop)\n")
    assert "-                            for r in seq(0, 4):\n" in pv.diff
