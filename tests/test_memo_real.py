"""Every proc-producing call of a real-style schedule is memoised (tests/corpus_style/):
Procedure methods (partial_eval, add_assertion), @procs made inside functions, ops that
call other ops, classes the script defines; an unchanged text re-runs nothing and an edit
re-runs only the steps after it, with results equal to a cold run."""

from __future__ import annotations

import pathlib

from exo_lsp.worker.tracer import Tracer
from trace_compare import normalized

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus_style"
GEMV = CORPUS / "gemv_in_function.py"
COPY = CORPUS / "copy_tiles.py"

_inc = Tracer()
_cold = Tracer()


def _run(path: pathlib.Path, text: str):
    return _inc.run(str(path), text, None)


def _same_as_cold(path: pathlib.Path, state) -> None:
    cold = _cold.run(str(path), state.trace and _inc.texts[str(path)], None, use_memo=False)
    assert normalized(_inc, state) == normalized(_cold, cold)


def test_proc_methods_are_steps_and_an_unchanged_text_reruns_nothing():
    text = GEMV.read_text()
    first = _run(GEMV, text).trace
    assert first.ok, first.problems
    ops = [s.op for s in first.steps]
    assert "partial_eval" in ops and "add_assertion" in ops
    again = _run(GEMV, text)
    assert again.trace.ok and all(s.cached for s in again.trace.steps)
    assert _inc.procs.misses == 0 and _inc.ops.misses == 0
    _same_as_cold(GEMV, again)


def test_an_edit_near_the_end_reruns_only_the_steps_after_it():
    text = GEMV.read_text()
    _run(GEMV, text)
    edited = text.replace("    p = simplify(p)\n    return p", "    p = simplify(p)\n    p = simplify(p)\n    return p")
    assert edited != text
    state = _run(GEMV, edited)
    steps = state.trace.steps
    assert state.trace.ok and [s.op for s in steps][-2:] == ["simplify", "simplify"]
    assert all(s.cached for s in steps[:-1]) and not steps[-1].cached
    _same_as_cold(GEMV, state)


def test_a_proc_made_in_a_function_is_keyed_by_what_it_closes_over():
    text = COPY.read_text()
    _run(COPY, text)
    again = _run(COPY, text)
    # the loop variables `r`, `c` shadow TypeVars of the star imports: no reason to miss
    assert _inc.procs.misses == 0 and all(s.cached for s in again.trace.steps)
    narrower = _run(COPY, text.replace("make_copy(16)", "make_copy(8)"))
    assert _inc.procs.misses == 1 and not any(s.cached for s in narrower.trace.steps if s.parent is None)
    _same_as_cold(COPY, narrower)
    back = _run(COPY, text)
    assert all(s.cached for s in back.trace.steps)


def test_ops_inside_ops_are_replayed_from_the_memo():
    text = COPY.read_text()
    cold_steps = _run(COPY, text).trace.steps
    state = _run(COPY, text)
    inner = [s for s in state.trace.steps if s.op == "replace"]
    assert inner and all(s.cached and s.parent is not None for s in inner)
    assert len(state.trace.steps) == len(cold_steps)
    _same_as_cold(COPY, state)


def test_a_class_the_script_defines_is_keyed_by_its_source():
    text = COPY.read_text()
    _run(COPY, text)
    state = _run(COPY, text)
    assert next(s for s in state.trace.steps if s.op == "set_memory").cached
    edited = text.replace('"""A scratchpad', '"""Another scratchpad')
    state = _run(COPY, edited)
    top = [s for s in state.trace.steps if s.parent is None]
    assert [s.op for s in top if not s.cached] == ["set_memory", "simplify"]
    _same_as_cold(COPY, state)


def test_a_hit_does_not_resolve_its_patterns_again(monkeypatch):
    # the key is made of the raw arguments: a hit skips pattern matching (most of a fully
    # memoised run), and what the patterns selected comes from the entry
    import exo.API_cursors as api_cursors

    text = GEMV.read_text()
    _run(GEMV, text)
    calls = []
    original = api_cursors.match_pattern
    monkeypatch.setattr(api_cursors, "match_pattern", lambda *a, **k: calls.append(a[1]) or original(*a, **k))
    state = _run(GEMV, text)
    assert all(s.cached for s in state.trace.steps)
    # the script's own p.find_loop calls are memoised lookups (tests/test_memo_cursors.py)
    assert calls == []
    divide = next(s for s in state.trace.steps if s.op == "divide_loop")
    assert divide.targets and state.runtime[divide.index].resolved
    _same_as_cold(GEMV, state)
