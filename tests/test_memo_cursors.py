"""Cursors and their navigation are memoised (real engine runs of tests/corpus_style/
cursor_helpers.py, a schedule written through the script's own helpers taking cursors):
an op taking a cursor hits when the cursor's proc and path are the same, however the
cursor was obtained; lookups (find, forward, next, parent, body()[i], expand, ...) are
answered from the memo on an unchanged run, library helpers' lookups included; an edit
near the end re-runs only the steps after it; every result equals a cold run's."""

from __future__ import annotations

import pathlib

import exo.API_cursors as api_cursors
import pytest

from exo_lsp.worker.tracer import Tracer
from trace_compare import normalized

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus_style"
HELPERS = CORPUS / "cursor_helpers.py"
COPY = CORPUS / "copy_tiles.py"


@pytest.fixture
def tracer():
    return Tracer()


def _lookups(tracer: Tracer, state) -> list:
    handles: dict[int, int] = {}
    return [
        (lk.method, lk.range, tuple(lk.arguments), lk.proc_name, handles.setdefault(lk.proc, len(handles)),
         tuple(lk.targets), lk.ok, lk.error, lk.after_step)
        for lk in state.trace.lookups
    ]


def _same_as_cold(tracer: Tracer, path: pathlib.Path, text: str, state) -> None:
    cold_tracer = Tracer()
    cold = cold_tracer.run(str(path), text, None, use_memo=False)
    assert normalized(tracer, state) == normalized(cold_tracer, cold)
    assert _lookups(tracer, state) == _lookups(cold_tracer, cold)


def _count_matching(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = api_cursors.match_pattern
    monkeypatch.setattr(api_cursors, "match_pattern", lambda *a, **k: calls.append(a[1]) or original(*a, **k))
    return calls


def test_the_helper_schedule_exercises_cursor_lookups(tracer):
    state = tracer.run(str(HELPERS), HELPERS.read_text(), 1)
    assert state.trace.ok, [p.message for p in state.trace.problems]
    methods = {lk.method for lk in state.trace.lookups}
    assert {"find", "find_loop", "forward", "next", "parent", "after", "expand", "body", "__getitem__", "hi"} <= methods
    ops = [s.op for s in state.trace.steps]
    assert ops.count("fission") == 7 and {"fuse", "expand_dim", "lift_alloc", "unroll_loop"} <= set(ops)
    # the helpers' loops end on a failed op (their `except: break`)
    assert [s.op for s in state.trace.steps if not s.ok] == ["fission", "reorder_stmts", "fission", "reorder_stmts"]
    # lift_to_top(p, init): `init` is first in its block, `expand(1, 0)` has one statement
    [arg_failure] = [i for i, rt in state.runtime.items() if rt.failed_param is not None]
    assert state.trace.steps[arg_failure].op == "reorder_stmts"


def test_an_unchanged_text_reruns_no_op_and_no_lookup(tracer, monkeypatch):
    text = HELPERS.read_text()
    cold = tracer.run(str(HELPERS), text, 1)
    calls = _count_matching(monkeypatch)
    again = tracer.run(str(HELPERS), text, 2)
    assert calls == []  # not one pattern matched again
    assert all(s.cached for s in again.trace.steps) and again.trace.cached_steps == len(cold.trace.steps)
    assert tracer.ops.misses == 0 and tracer.procs.misses == 0 and tracer.lookup_table.misses == 0
    # an op whose argument failed to resolve is memoised too, with the argument it names
    assert [rt.failed_param for rt in again.runtime.values() if rt.failed_param] == ["block_cursor"]
    assert tracer.lookup_table.hits >= len(again.trace.lookups) == len(cold.trace.lookups)
    _same_as_cold(tracer, HELPERS, text, again)


def test_library_helpers_lookups_are_memoised_too(tracer, monkeypatch):
    # stdlib's replace_all tries `proc.find("... #i")` until one fails: those finds run
    # from Exo's frames, not the script's, and are answered from the memo all the same
    # (when the call is not memoised whole as a unit: tests/test_memo_units.py)
    from exo_lsp.worker import unit_memo

    monkeypatch.setattr(unit_memo.RunUnits, "begin", lambda *a: None)
    text = COPY.read_text()
    tracer.run(str(COPY), text, 1)
    calls = _count_matching(monkeypatch)
    again = tracer.run(str(COPY), text, 2)
    assert calls == [] and all(s.cached for s in again.trace.steps)
    assert tracer.lookup_table.misses == 0 and tracer.lookup_table.hits > len(again.trace.lookups)
    _same_as_cold(tracer, COPY, text, again)


def test_an_edit_near_the_end_reruns_only_the_steps_after_it(tracer):
    text = HELPERS.read_text()
    cold = tracer.run(str(HELPERS), text, 1)
    fuse_line = '    p = fuse_with_next(p, p.find_loop("i"))\n'
    assert fuse_line in text
    edited = text.replace(fuse_line, "")
    state = tracer.run(str(HELPERS), edited, 2)
    steps = state.trace.steps
    first_after = [s.op for s in cold.trace.steps].index("fuse")
    assert [s.op for s in steps[:first_after]] == [s.op for s in cold.trace.steps[:first_after]]
    assert all(s.cached for s in steps[:first_after])
    # lift_to_top's reorder, unroll_inner's unroll and simplify take a new proc
    assert [s.op for s in steps[first_after:]] == ["reorder_stmts", "unroll_loop", "simplify"]
    assert not any(s.cached for s in steps[first_after:])
    assert tracer.ops.misses == 3
    _same_as_cold(tracer, HELPERS, edited, state)


def test_a_cursor_reached_another_way_is_the_same_key(tracer):
    # the last helper call written differently: the loop it unrolls is found by a new
    # pattern instead of forwarded and navigated; same proc, same path: the op hits
    text = HELPERS.read_text()
    tracer.run(str(HELPERS), text, 1)
    old = "    p = unroll_inner(p, p.forward(taps).parent())\n"
    assert old in text
    edited = text.replace(old, '    p = unroll_inner(p, p.find_loop("ji #1"))\n')
    state = tracer.run(str(HELPERS), edited, 2)
    assert state.trace.ok and all(s.cached for s in state.trace.steps)
    # the new find_loop, and the find and the [0] Exo makes inside it
    assert tracer.ops.misses == 0 and tracer.lookup_table.misses == 3
    new = [lk for lk in state.trace.lookups if lk.method == "find_loop" and lk.arguments[0].text == '"ji #1"']
    assert len(new) == 1 and new[0].targets[0].text.startswith("for ji in seq(0, 4)")
    _same_as_cold(tracer, HELPERS, edited, state)


def test_a_cursor_into_a_different_proc_misses(tracer):
    # the same helper, the same pattern, but the cursor is taken from another proc: a
    # new key (the cursor's proc is part of it), and the result follows that proc
    text = HELPERS.read_text()
    tracer.run(str(HELPERS), text, 1)
    old = "    p = split(p, cols, 4)\n"
    edited = text.replace(old, "    p = split(p, cols, 2)\n")
    state = tracer.run(str(HELPERS), edited, 2)
    assert state.trace.ok
    assert [s.cached for s in state.trace.steps][:2] == [True, False]  # rename hits, divide_loop does not
    line = text.split("\n").index("    loop = p.forward(loop)")  # in split()
    forwarded = [lk for lk in state.trace.lookups if lk.method == "forward" and lk.line == line]
    assert len(forwarded) == 1 and forwarded[0].targets[0].text == "for j in seq(0, 8):"
    _same_as_cold(tracer, HELPERS, edited, state)


def test_a_pattern_is_keyed_by_the_python_names_it_mentions(tracer, tmp_path):
    # Exo reads a pattern's names in the caller's frame: `relu(_)` is an expression
    # pattern while `relu` is an extern there, a call statement pattern otherwise. The
    # proc is the same object on both runs (a memo hit): only the name tells them apart.
    script = tmp_path / "pattern_names.py"
    text = """from __future__ import annotations
from exo import proc
from exo.libs.externs import relu
from exo.stdlib.scheduling import *


@proc
def k(x: f32[4], y: f32[4]):
    for i in seq(0, 4):
        y[i] = relu(x[i])


found = k.find("relu(_)")
"""
    first = tracer.run(str(script), text, 1)
    assert first.trace.ok and type(first.namespace["found"]).__name__ == "ExternFunctionCursor"
    rebound = tracer.run(str(script), text.replace("found = ", "relu = 0\nfound = "), 2)
    assert tracer.procs.misses == 0  # the same proc
    assert not rebound.trace.ok and "failed to find matches" in rebound.trace.problems[0].message
    third = tracer.run(str(script), text, 3)
    assert third.namespace["found"] is first.namespace["found"]  # the first answer, from the memo
    assert tracer.lookup_table.misses == 0


def test_a_list_of_cursors_the_script_changes_is_not_the_memos(tracer, tmp_path):
    script = tmp_path / "many.py"
    text = """from __future__ import annotations
from exo import proc
from exo.stdlib.scheduling import *


@proc
def k(x: f32[4], y: f32[4]):
    for i in seq(0, 4):
        x[i] = 0.0
    for i in seq(0, 4):
        y[i] = 0.0


loops = k.find_loop("i", many=True)
first = loops.pop(0)
n_left = len(loops)
"""
    for version in (1, 2, 3):
        state = tracer.run(str(script), text, version)
        assert state.trace.ok and state.namespace["n_left"] == 1, version
    assert tracer.lookup_table.hits == 1 and tracer.lookup_table.misses == 0  # find_loop, from the memo


def test_lines_moved_above_move_the_lookups_kept_targets(tracer):
    # a line added above everything moves every proc: steps and lookups are reused, and
    # what the lookups show (their targets' origins) is on the new lines, as a cold run's
    text = HELPERS.read_text()
    tracer.run(str(HELPERS), text, 1)
    moved = "# a line added at the top\n" + text
    state = tracer.run(str(HELPERS), moved, 2)
    # (the failed ops run again: their messages name lines)
    assert state.trace.ok and all(s.cached == s.ok for s in state.trace.steps)
    assert tracer.ops.misses == 4 and tracer.lookup_table.misses < len(state.trace.lookups) // 4
    _same_as_cold(tracer, HELPERS, moved, state)


def test_an_argument_that_failed_is_reported_on_it_from_the_memo(tracer, tmp_path):
    # memoised with the argument it failed on: the error stays on that argument
    script = tmp_path / "arg_fails.py"
    text = """from __future__ import annotations
from exo import proc
from exo.stdlib.scheduling import *


@proc
def k(x: f32[4]):
    for i in seq(0, 4):
        x[i] = 0.0


c = k.find("x[_] = _")
p = reorder_stmts(k, c.expand(1, 0))
"""
    first = tracer.run(str(script), text, 1)
    again = tracer.run(str(script), text, 2)
    assert tracer.ops.misses == 0 and again.trace.steps[-1].cached
    for state in (first, again):
        [problem] = state.trace.problems
        assert "expected a block of size 2" in problem.message
        r = problem.range
        assert (r.start.line, r.start.character, r.end.line, r.end.character) == (12, 21, 12, 35)


def test_what_a_memoised_op_printed_is_printed_again(tracer, tmp_path):
    # replace prints why it failed to unify (unless quiet): a hit prints it again
    script = tmp_path / "prints.py"
    text = """from __future__ import annotations
from exo import proc
from exo.stdlib.scheduling import *


@proc
def zero4(x: [f32][4]):
    for i in seq(0, 4):
        x[i] = 0.0


@proc
def k(y: f32[4]):
    for i in seq(0, 4):
        y[i] = 1.0


try:
    p = replace(k, "for i in _:_", zero4)
except Exception:
    p = k
print("done")
"""
    first = tracer.run(str(script), text, 1)
    assert first.trace.output.startswith("Failed to unify the following:") and first.trace.output.endswith("done\n")
    again = tracer.run(str(script), text, 2)
    assert tracer.ops.misses == 0 and again.trace.steps[0].cached
    assert again.trace.output == first.trace.output
