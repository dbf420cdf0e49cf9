"""Pins what hovers and lookups use (worker/exo: hooks, listings, patterns, ops) to exo-lang
1.0.0: cursor-lookup hooks (and the call depth Exo's pattern matching counts), listings with
statement spans, selections and snippets, pattern matches, op signatures and docs, what a
step created."""

from __future__ import annotations

import sys

import pytest

from exo import proc
from exo.frontend import pattern_match
from exo.stdlib.scheduling import divide_loop, fission, stage_mem

from exo_lsp.worker.exo import cursors, hooks, listings, ops, patterns, procs


@proc
def two_loops(x: f32[8], y: f32[8]):
    for i in seq(0, 8):
        y[i] = x[i]
    for i in seq(0, 8):
        if i < 4:
            y[i] += 1.0


class Recorder:
    path = __file__

    def __init__(self):
        self.calls = []

    def lookup_done(self, method, receiver, args, kwargs, frame, result, exc):
        self.calls.append((method, args, frame.f_lineno, result, exc))


@pytest.fixture
def recorder():
    mine = not hooks._lookup_originals
    hooks.install_lookup_hooks()
    rec = Recorder()
    old = hooks._observer
    hooks.set_observer(rec)
    try:
        yield rec
    finally:
        hooks.set_observer(old)
        if mine:
            hooks.uninstall_lookup_hooks()


def test_lookups_made_from_the_script_are_reported(recorder):
    line = sys._getframe().f_lineno + 1
    c = two_loops.find_loop("i #1").body()[0]
    assert [(m, a, ln) for m, a, ln, _, _ in recorder.calls] == [
        ("find_loop", ("i #1",), line),  # its inner self.find(...) comes from API.py: not reported
        ("body", (), line),
        ("__getitem__", (0,), line),
    ]
    assert recorder.calls[-1][3] is c
    assert cursors.describe_cursor(c).text == "if i < 4:"


def test_a_failed_lookup_is_reported_and_still_raises(recorder):
    with pytest.raises(patterns.SchedulingError):
        two_loops.find("for q in _:_")
    [(method, args, _, result, exc)] = recorder.calls
    assert method == "find" and args == ("for q in _:_",) and result is None
    assert "failed to find matches" in str(exc)


def test_find_wrappers_keep_exos_call_depth(recorder, monkeypatch):
    seen = []
    real = pattern_match.pyparser.pattern

    def spy(s, filename=None, lineno=None, srclocals=None, srcglobals=None):
        seen.append((s, filename, lineno))
        return real(s, filename=filename, lineno=lineno, srclocals=srclocals, srcglobals=srcglobals)

    monkeypatch.setattr(pattern_match.pyparser, "pattern", spy)
    line = sys._getframe().f_lineno + 1
    two_loops.find("for i in _:_ #1")
    two_loops.find_loop("i")  # Exo evaluates find_loop's pattern in find_loop's own frame
    assert seen[0] == ("for i in _:_ ", __file__, line)
    assert seen[1][1].endswith("exo/API.py")


def test_without_an_observer_nothing_is_recorded():
    hooks.install_lookup_hooks()
    old = hooks._observer
    hooks.set_observer(None)
    try:
        assert cursors.describe_cursor(two_loops.find_loop("i").body()[0]).text == "y[i] = x[i]"
    finally:
        hooks.set_observer(old)


def test_listing_spans_and_selections():
    lst = listings.proc_listing(two_loops)
    assert lst.lines == [
        "def two_loops(x : f32[8] @DRAM, y : f32[8] @DRAM):",
        "    for i in seq(0, 8):",
        "        y[i] = x[i]",
        "    for i in seq(0, 8):",
        "        if i < 4:",
        "            y[i] += 1.0",
    ]
    assert lst.spans[(("body", 1),)] == (3, 5)
    assert lst.spans[(("body", 1), ("body", 0), ("body", 0))] == (5, 5)

    loop = two_loops.find_loop("i #1")
    sel = listings.locate(lst, loop)
    assert sel.marks == [(3, "selected")] and sel.headers == []
    assert listings.snippet(lst, sel).splitlines()[3] == "    for i in seq(0, 8):  # ◀ selected"

    gap = two_loops.find("y[i] = x[i]").after()
    text = listings.snippet(lst, listings.locate(lst, gap)).splitlines()
    assert text[2:4] == ["        y[i] = x[i]", "        # ◀ gap"]

    expr = two_loops.find("y[i] += _").rhs()
    sel = listings.locate(lst, expr)
    assert sel.marks == [(5, "selected: 1.0")]

    block = two_loops.body()
    sel = listings.locate(lst, block)
    assert [m[0] for m in sel.marks] == [1, 3]


def test_snippet_elides_far_lines():
    @proc
    def long(x: f32[8]):
        for i in seq(0, 8):
            x[i] = 1.0
            x[i] = 2.0
            x[i] = 3.0
            x[i] = 4.0
            x[i] = 5.0
            x[i] = 6.0
            x[i] = 7.0

    lst = listings.proc_listing(long)
    text = listings.snippet(lst, listings.locate(lst, long.find("x[i] = 6.0")), context=1)
    assert text.splitlines() == [
        "def long(x : f32[8] @DRAM):",
        "    for i in seq(0, 8):",
        "        ...",
        "        x[i] = 5.0",
        "        x[i] = 6.0  # ◀ selected",
        "        x[i] = 7.0",
    ]


def test_patterns_selectors_shorthands_and_matches():
    assert patterns.split_selector("for i in _:_ #1") == ("for i in _:_ ", 1)
    assert patterns.split_selector("y : _") == ("y : _", None)
    assert patterns.expand_shorthand("i #1", "loop") == "for i in _: _ #1"
    assert patterns.expand_shorthand("y", "alloc") == "y : _"
    assert patterns.expand_shorthand("ii jo", "loop") == "ii jo"
    assert len(patterns.pattern_matches(two_loops, "for i in _:_ #1")) == 2
    assert len(patterns.pattern_matches(two_loops, "y[_] = _")) == 1
    assert len(patterns.pattern_matches(two_loops, "y[_] += _")) == 1


def test_op_signature_and_doc():
    assert ops.op_signature(divide_loop) == (
        "divide_loop(proc, loop_cursor, div_const, new_iters, tail='guard', perfect=False)"
    )
    assert ops.op_doc(divide_loop).startswith("Divide a loop into an outer and inner loop, where the inner loop")
    assert "args:" not in ops.op_doc(divide_loop)
    assert ops.scheduling_op("fission") is fission
    assert ops.scheduling_op("not_an_op") is None


def test_created_nodes():
    p1 = divide_loop(two_loops, "for i in _:_", 4, ["io", "ii"], perfect=True)
    got = [(c.kind, c.text, c.line) for c in ops.created_nodes(two_loops, p1)]
    assert got == [("loop", "for io in seq(0, 2):", 1), ("loop", "for ii in seq(0, 4):", 2)]

    @proc
    def copy(x: f32[4, 4], y: f32[4, 4]):
        for i in seq(0, 4):
            for j in seq(0, 4):
                y[i, j] = x[i, j] * 2.0

    p2 = stage_mem(copy, copy.find_loop("i"), "x[0:4, 0:4]", "xt")
    got = [(c.kind, c.text) for c in ops.created_nodes(copy, p2)]
    assert got == [("alloc", "xt : f32[4 - 0, 4 - 0] @DRAM"), ("load", "for i0 in seq(0, 4 - 0):")]


def test_proc_names():
    @proc
    def sized(n: size, x: f32[n]):
        for i in seq(0, n):
            t: f32
            t = x[i]

    assert procs.proc_names(sized) == {"loops": ["i"], "buffers": ["x", "t"], "sizes": ["n"], "procs": []}
