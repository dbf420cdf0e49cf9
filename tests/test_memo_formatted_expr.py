"""An op given a ``FormattedExprStr`` (a text with holes filled by cursors: stdlib's
vectorize and halide helpers pass them to ``cut_loop`` and ``shift_loop``) is memoised:
it used to be "not memoisable", so it, and every step after it, ran again on every run
(x86 halide unsharp: 302 of 15031 steps reused on an identical re-run)."""

from __future__ import annotations

import pathlib

from exo_lsp.worker.tracer import Tracer

HERE = pathlib.Path(__file__).resolve().parent

TEXT = """from __future__ import annotations
from exo import proc
from exo.API_scheduling import FormattedExprStr
from exo.stdlib.scheduling import *


@proc
def shifted(n: size, x: f32[n + 2], y: f32[n + 2]):
    for i in seq(1, n + 1):
        y[i] = 2.0 * x[i]


loop = shifted.find_loop("i")
p = cut_loop(shifted, loop, FormattedExprStr("_ + 1", loop.lo()))
p = shift_loop(p, p.find_loop("i #1"), FormattedExprStr("_ - _", loop.hi(), loop.lo()))
p = simplify(p)
"""


def test_an_op_given_a_formatted_expression_is_reused_on_an_identical_rerun():
    path = str(HERE / "unsaved_memo_formatted_expr.py")  # never written to disk
    t = Tracer()
    first = t.run(path, TEXT, 1).trace
    assert first.ok and [s.op for s in first.steps] == ["cut_loop", "shift_loop", "simplify"]
    assert not [p for p in first.problems if p.code == "not-memoised"]
    again = t.run(path, TEXT, 2).trace
    assert [s.cached for s in again.steps] == [True, True, True] and again.cached_steps == 3


def test_a_different_hole_is_a_different_key():
    path = str(HERE / "unsaved_memo_formatted_expr_2.py")
    t = Tracer()
    t.run(path, TEXT, 1)
    other = TEXT.replace('FormattedExprStr("_ + 1", loop.lo())', 'FormattedExprStr("_ + 1", loop.hi())')
    again = t.run(path, other, 2).trace
    assert [s.op for s in again.steps][:1] == ["cut_loop"] and not again.steps[0].cached
