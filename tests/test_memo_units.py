"""Library functions the script calls are memoised whole (worker/unit_memo.py): an
unchanged call re-runs none of the library's own Python, replays the steps it made, and
leaves what a cold run leaves (its result, the list it appended to, the printed output)."""

from __future__ import annotations

import pathlib

import pytest

import exo.stdlib.stdlib as exo_stdlib
from exo_lsp.worker.tracer import Tracer
from trace_compare import normalized

SCRIPT = pathlib.Path(__file__).resolve().parent / "corpus_style" / "stdlib_units.py"


@pytest.fixture
def body_calls(monkeypatch):
    """Counts runs of the body of stdlib's vectorize (it calls vectorize_predicate_tail
    through its module's globals)."""
    calls = []
    inner = exo_stdlib.vectorize_predicate_tail
    monkeypatch.setattr(exo_stdlib, "vectorize_predicate_tail", lambda *a, **k: calls.append(1) or inner(*a, **k))
    return calls


def _same_as_cold(tracer: Tracer, state) -> None:
    cold = Tracer()
    assert normalized(tracer, state) == normalized(cold, cold.run(str(SCRIPT), state.source, None, use_memo=False))


def test_an_unchanged_text_runs_no_library_glue_and_traces_as_a_cold_run(body_calls):
    t = Tracer()
    text = SCRIPT.read_text()
    first = t.run(str(SCRIPT), text, None)
    assert first.trace.ok, first.trace.problems
    assert len(body_calls) == 1
    inner = [s for s in first.trace.steps if s.parent is not None]
    assert len(inner) > 10  # vectorize made many primitive steps under its call
    again = t.run(str(SCRIPT), text, None)
    assert len(body_calls) == 1  # not run again
    assert all(s.cached for s in again.trace.steps)
    assert again.trace.output == first.trace.output == "rules after vectorize: 1\n"
    _same_as_cold(t, again)


def test_an_edit_after_the_call_replays_it_and_an_edit_to_its_input_reruns_it(body_calls):
    t = Tracer()
    text = SCRIPT.read_text()
    t.run(str(SCRIPT), text, None)
    below = text.replace("p = simplify(p)\n", "p = simplify(p)\np = simplify(p)\n")
    state = t.run(str(SCRIPT), below, None)
    assert len(body_calls) == 1
    top = [s for s in state.trace.steps if s.parent is None]
    assert [s.op for s in top if not s.cached] == ["simplify", "rename"]
    _same_as_cold(t, state)  # (a cold run: vectorize's body runs there)
    before = len(body_calls)
    wider = below.replace('"x", 8, rules)', '"x", 4, rules)')
    state = t.run(str(SCRIPT), wider, None)
    assert len(body_calls) == before + 1  # its input changed: it ran
    assert state.trace.ok and not next(s for s in state.trace.steps if s.op == "vectorize").cached
    _same_as_cold(t, state)


def test_a_call_that_changes_a_non_list_argument_or_returns_an_object_is_not_kept():
    from exo_lsp.worker import unit_memo

    assert unit_memo._plain_result((1, "a", None, [2]))
    assert not unit_memo._plain_result(object())
    assert not unit_memo._plain_result({"a": 1})


def test_a_library_call_that_raises_raises_the_same_and_is_not_kept(tmp_path):
    # the script catches the library's error: it must see that error, not one of ours
    script = tmp_path / "catches.py"
    script.write_text(
        "from exo import proc, SchedulingError\n"
        "from exo.stdlib.scheduling import *\n"
        "from exo.stdlib.higher_order import attempt\n"
        "\n"
        "@proc\n"
        "def zero(n: size, x: f32[n]):\n"
        "    for i in seq(0, n):\n"
        "        x[i] = 0.0\n"
        "\n"
        "try:\n"
        '    p = lift_if(zero, zero.find_loop("i"))\n'
        "except SchedulingError as e:\n"
        '    print("caught", type(e).__name__)\n'
    )
    t = Tracer()
    for _ in range(2):
        state = t.run(str(script), script.read_text(), None)
        assert state.trace.ok, state.trace.problems
        assert state.trace.output == "caught SchedulingError\n"
    assert not t.unit_table.entries


def test_closures_a_factory_returns_are_not_kept_for_the_worker_s_life(tmp_path):
    # `attempt(lift_alloc)` is a new closure every call, holding what it closes over: a
    # registry of wrappers keyed by function would keep each one (and its procs) forever
    from exo_lsp.worker.exo import library_units

    script = tmp_path / "factories.py"
    script.write_text(
        "from exo import proc\n"
        "from exo.stdlib.scheduling import *\n"
        "from exo.stdlib.higher_order import attempt\n"
        "\n"
        "@proc\n"
        "def zero(n: size, x: f32[n]):\n"
        "    for i in seq(0, n):\n"
        "        x[i] = 0.0\n"
        "\n"
        "p = zero\n"
        "for k in range(5):\n"
        "    p = attempt(simplify)(p)\n"
    )
    t = Tracer()
    t.run(str(script), script.read_text(), None)  # loads exo.stdlib: its functions wrapped once
    before = len(library_units._wrappers)
    edited = script.read_text().replace("range(5)", "range(7)")  # new closures, not replayed
    state = t.run(str(script), edited, None)
    assert state.trace.ok, state.trace.problems
    assert len(library_units._wrappers) == before
