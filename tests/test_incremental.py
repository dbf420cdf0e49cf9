"""Incremental re-runs give exactly what a cold run gives, on random edit sequences.

The tracer memoizes scheduling calls and @proc definitions across runs; a stale entry
would show up here as a step, a problem, a range or a proc text that differs from a run
with empty memo tables.
"""

from __future__ import annotations

import pathlib
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exo_lsp.worker.exo import cursors
from exo_lsp.worker.tracer import Tracer
from trace_compare import normalized

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"

_incremental = Tracer()
_cold = Tracer()


def schedule_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines()) if re.match(r"p = \w+\(", line)]


@st.composite
def edit(draw, text: str):
    lines = text.splitlines()
    sched = schedule_lines(text)
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "comment", "comment_top"]))
    i = draw(st.sampled_from(sched))
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "swap":
        j = sched[min(sched.index(i) + 1, len(sched) - 1)]
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "number":
        numbers = list(re.finditer(r"\b\d+\b", lines[i]))
        if numbers:
            m = draw(st.sampled_from(numbers))
            new = draw(st.sampled_from(["1", "2", "3", "4", "8", "16"]))
            lines[i] = lines[i][: m.start()] + new + lines[i][m.end() :]
    elif kind == "comment":
        lines.insert(i, "# a note about the next step")
    else:
        lines.insert(0, "# a note at the top: every position below moves")
    return "\n".join(lines) + "\n"


def check_sequence(path: pathlib.Path, texts: list[str]) -> None:
    for text in texts:
        inc = _incremental.run(str(path), text, None)
        inc_n = normalized(_incremental, inc)
        cold = _cold.run(str(path), text, None, use_memo=False)
        assert inc_n == normalized(_cold, cold)


@st.composite
def edit_sequence(draw, path: pathlib.Path, n: int):
    text = path.read_text()
    texts = []
    for _ in range(n):
        text = draw(edit(text))
        texts.append(text)
    return texts


MATMUL = EXAMPLES / "matmul.py"
CONV1D = EXAMPLES / "conv1d.py"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_sequence(MATMUL, 3))
def test_incremental_equals_cold_matmul(texts):
    check_sequence(MATMUL, [MATMUL.read_text(), *texts])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edit_sequence(CONV1D, 2))
def test_incremental_equals_cold_conv1d(texts):
    check_sequence(CONV1D, [CONV1D.read_text(), *texts])


def test_unchanged_rerun_is_fully_cached():
    text = MATMUL.read_text()
    _incremental.run(str(MATMUL), text, None)
    again = _incremental.run(str(MATMUL), text, None).trace
    primitives = [s for s in again.steps]
    assert primitives and all(s.cached for s in primitives)
    assert again.cached_steps == len(primitives)


def test_edit_near_end_reuses_the_prefix():
    text = CONV1D.read_text()
    _incremental.run(str(CONV1D), text, None)
    edited = text.replace('p = lift_alloc(p, "y : _")\n\nconv1d_rvm', 'p = simplify(p)\n\nconv1d_rvm')
    assert edited != text
    trace = _incremental.run(str(CONV1D), edited, None).trace
    assert trace.ok
    assert len(trace.steps) == 47
    assert [s.cached for s in trace.steps] == [True] * 46 + [False]
    assert trace.steps[-1].op == "simplify"


def test_lines_inserted_above_the_algorithm_reuse_every_step_and_move_every_position():
    text = CONV1D.read_text()
    _incremental.run(str(CONV1D), text, None)
    moved = "# one\n# two\n" + text
    state = _incremental.run(str(CONV1D), moved, None)
    assert state.trace.ok and all(s.cached for s in state.trace.steps)
    cold = _cold.run(str(CONV1D), moved, None, use_memo=False)
    assert normalized(_incremental, state) == normalized(_cold, cold)
    # the views map the proc's statements to the algorithm's lines as they are now
    algo = next(p for p in state.trace.procs if p.name == "conv1d")
    assert moved.splitlines()[algo.location.range.start.line].startswith("def conv1d(")
    p = _incremental.registry.get(state.trace.steps[6].proc_out)  # tiled, still a reduction
    line = next(i for i, t in enumerate(moved.splitlines(), 1) if "out[i, j] += kernels" in t)
    assert [cursors.node_text(c) for c in cursors.stmts_from_line(p, str(CONV1D), line)] == [
        "out[ii + 4 * ioi + 16 * ioo, ji + 4 * jo] += kernels[ii + 4 * ioi + 16 * ioo, c, r] * y"
    ]
    # and back: the same procs again, at their first lines
    back = _incremental.run(str(CONV1D), text, None)
    assert all(s.cached for s in back.trace.steps)
    assert normalized(_incremental, back) == normalized(_cold, _cold.run(str(CONV1D), text, None, use_memo=False))


def test_line_moves():
    from exo_lsp.shared.positions import line_moves

    old = "a\nb\nc\nd\n"
    assert line_moves(old, old) == {}
    assert line_moves(old, "x\na\nb\nc\nd\n") == {1: 2, 2: 3, 3: 4, 4: 5}
    assert line_moves(old, "a\nc\nd\n") == {3: 2, 4: 3}  # b deleted: it goes nowhere
    assert line_moves(old, "n\na\nB\nc\nd\n") == {1: 2, 2: 3, 3: 4, 4: 5}  # b edited and moved
    assert line_moves(old, "A\nb\nc\nd\n") == {}  # edited in place: nothing moved


def test_lines_move_in_a_buffer_that_is_no_file():
    text = MATMUL.read_text()
    path = "untitled:Untitled-1"
    _incremental.run(path, text, None)
    moved = "# top\n" + text
    state = _incremental.run(path, moved, None)
    assert all(s.cached for s in state.trace.steps)
    assert normalized(_incremental, state) == normalized(_cold, _cold.run(path, moved, None, use_memo=False))


def test_a_proc_that_moved_in_a_sibling_module_is_parsed_again(tmp_path):
    kernel = "from __future__ import annotations\nfrom exo import proc\n\n\n@proc\ndef twice(x: f32[8]):\n    for i in seq(0, 8):\n        x[i] = 2.0 * x[i]\n"
    (tmp_path / "kernels.py").write_text(kernel)
    script = tmp_path / "schedule.py"
    script.write_text(
        "from __future__ import annotations\nfrom exo.stdlib.scheduling import *\nfrom kernels import twice\n\n"
        'p = divide_loop(twice, "for i in _:_", 2, ["io", "ii"], perfect=True)\n'
    )
    _incremental.run(str(script), script.read_text(), None)
    (tmp_path / "kernels.py").write_text("# moved\n" + kernel)  # the script itself is unchanged
    state = _incremental.run(str(script), script.read_text(), None)
    # `def twice` on its new line, for the proc and the one scheduled from it
    assert {p.location.range.start.line for p in state.trace.procs if p.name == "twice"} == {6}
    assert normalized(_incremental, state) == normalized(_cold, _cold.run(str(script), script.read_text(), None, use_memo=False))
