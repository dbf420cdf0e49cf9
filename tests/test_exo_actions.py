"""Pins the node helpers for code actions (worker/exo/cursors.py) to exo-lang 1.0.0: node
paths and cursors rebuilt from them, statements an algorithm line became, source spans."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from exo_lsp.worker.exo import cursors
from exo_lsp.worker.tracer import Tracer

ROOT = Path(__file__).resolve().parents[1]
CONV1D = str(ROOT / "examples" / "conv1d.py")


@pytest.fixture(scope="module")
def state():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    t = Tracer()
    st = t.run(CONV1D, Path(CONV1D).read_text(), 1)
    assert st.trace.ok
    return t, st


def _line(text: str) -> int:
    return next(i for i, line in enumerate(Path(CONV1D).read_text().splitlines(), 1) if text in line)


def test_paths_round_trip_for_every_statement(state):
    t, st = state
    p = t.registry.get(st.trace.steps[32].proc_out)
    seen = 0
    todo = list(p.body())
    while todo:
        c = todo.pop()
        path = cursors.node_path(c)
        back = cursors.cursor_at_path(p, [list(x) for x in path])
        assert cursors.node_path(back) == path
        assert cursors.node_text(back) == cursors.node_text(c)
        seen += 1
        if isinstance(c, cursors._pc.ForCursor):
            todo.extend(c.body())
    assert seen > 20
    assert cursors.node_path(p.find_loop("c")) == (("body", 0), ("body", 0), ("body", 2))


def test_cursor_classes_by_name(state):
    t, st = state
    p = t.registry.get(st.trace.steps[6].proc_out)
    loop, e = p.find_loop("c"), p.find("kernels[_] * y")
    assert cursors.cursor_is(loop, "ForCursor") and cursors.cursor_is(loop, "StmtCursor")
    assert not cursors.cursor_is(loop, "IfCursor", "ExprCursor")
    assert cursors.cursor_is(e, "IfCursor", "BinaryOpCursor") and cursors.cursor_is(e, "ExprCursor")
    assert cursors.cursor_is(p.body()[0].parent(), "InvalidCursor")  # a top-level statement has no parent


def test_statements_an_algorithm_line_became(state):
    t, st = state
    p = t.registry.get(st.trace.steps[2].proc_out)  # after dividing i and j
    got = [cursors.node_text(c) for c in cursors.stmts_from_line(p, CONV1D, _line("for i in seq(0, 16):"))]
    assert got == ["for io in seq(0, 4):", "for ii in seq(0, 4):"]
    assert cursors.stmts_from_line(p, CONV1D + ".other", _line("for i in seq(0, 16):")) == []
    assert cursors.source_lines(st.proc_objects["conv1d"]) == (
        CONV1D, _line("def conv1d("), _line("out[i, j] += kernels[i, c, r] * y")
    )


def test_expression_text(state):
    t, st = state
    p = t.registry.get(st.trace.steps[6].proc_out)
    e = p.find("kernels[_] * y")
    assert cursors.node_text(e) == "kernels[ii + 4 * ioi + 16 * ioo, c, r] * y"
