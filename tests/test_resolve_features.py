"""The server-side half of resolve, on hand-made traces: what is under a position, op
name ranges, pattern-string tokens (UTF-16), token encoding, related items, lens titles."""

from __future__ import annotations

from exo_lsp.lsp.features import resolve as r
from exo_lsp.shared.trace import Argument, Location, Lookup, Position, Range, Step, Target, Trace


def R(l1, c1, l2, c2):
    return Range(Position(l1, c1), Position(l2, c2))


def step(index, op, rng, args, targets, ok=True, parent=None):
    return Step(index=index, parent=parent, op=op, range=rng, line=rng.start.line, arguments=args,
                proc_name="p", proc_in=1, proc_out=2, targets=targets, ok=ok, error=None,
                changed=True, cached=False, ms=1.0)


LOOP_I = Location("/a.py", R(3, 4, 3, 24))
LOOP_C = Location("/a.py", R(5, 8, 5, 27))
LINES = [
    "",
    "p = divide_loop(p, \"for i in _:_\", 4, ['io', 'ii'])",
    "p = fission(p, p.find_loop(\"c\").after())",
    "x = sched.reorder_loops(p, 'io c')",
]


def trace() -> Trace:
    s0 = step(0, "divide_loop", R(1, 4, 1, 51), [
        Argument("proc", R(1, 16, 1, 17), "p", "proc"),
        Argument("loop_cursor", R(1, 19, 1, 33), '"for i in _:_"', "pattern"),
    ], [Target("loop_cursor", "loop", [], "for i in seq(0, 16):", origin=LOOP_I)])
    s1 = step(1, "fission", R(2, 4, 2, 40), [
        Argument("gap_cursor", R(2, 15, 2, 39), 'p.find_loop("c").after()', "cursor"),
    ], [Target("gap_cursor", "gap", [], "gap after: for c in seq(0, 4):", origin=LOOP_C)])
    s2 = step(2, "reorder_loops", R(3, 4, 3, 34), [Argument("nested_loops", R(3, 27, 3, 33), "'io c'", "pattern")], [], ok=False)
    lk0 = Lookup(0, "find_loop", R(2, 15, 2, 31), 2, [Argument("pattern", R(2, 27, 2, 30), '"c"', "pattern")], "p", 2,
                 [Target("result", "loop", [], "for c in seq(0, 4):", origin=LOOP_C)], True, None, 1)
    lk1 = Lookup(1, "after", R(2, 15, 2, 39), 2, [], "p", 2,
                 [Target("result", "gap", [], "gap after: for c in seq(0, 4):", origin=LOOP_C)], True, None, 1)
    return Trace("/s.py", 1, True, [s0, s1, s2], [], [], [], "", 1.0, lookups=[lk0, lk1])


def test_op_name_range():
    t = trace()
    assert r.op_name_range(t.steps[0], LINES[1]) == R(1, 4, 1, 15)
    assert r.op_name_range(t.steps[2], LINES[3]) == R(3, 10, 3, 23)  # sched.reorder_loops
    s = step(0, "fission", R(0, 4, 0, 10), [], [])
    assert r.op_name_range(s, "p = (é, fission(p))") is None  # the call does not start with it


def test_hit_at_picks_the_innermost_thing():
    t = trace()
    h = r.hit_at(t, LINES, Position(1, 22))
    assert (h.what, h.step, h.argument, h.range) == ("argument", 0, "loop_cursor", R(1, 19, 1, 33))
    assert r.hit_at(t, LINES, Position(1, 6)).what == "op"
    assert r.hit_at(t, LINES, Position(1, 35)) is None  # the 4
    h = r.hit_at(t, LINES, Position(2, 28))  # "c" inside find_loop
    assert (h.what, h.lookup, h.range) == ("lookup", 0, R(2, 27, 2, 30))
    h = r.hit_at(t, LINES, Position(2, 20))  # find_loop
    assert (h.what, h.lookup) == ("lookup", 0)
    h = r.hit_at(t, LINES, Position(2, 35))  # .after(): the step's argument has the same range
    assert (h.what, h.step, h.argument) == ("argument", 1, "gap_cursor")


def test_related_keeps_outermost_items_with_the_same_origin():
    t = trace()
    got = r.related(t, LINES, {r.origin_key(LOOP_C)})
    assert [h.range for h in got] == [R(2, 15, 2, 39)]  # the .after() chain, once
    got = r.related(t, LINES, {r.origin_key(LOOP_I)})
    assert [h.range for h in got] == [R(1, 19, 1, 33)]


def test_pattern_tokens_utf16_and_kinds():
    names = {"loops": ["ioi", "c"], "buffers": ["acc"], "sizes": ["n"], "procs": ["rvm_mld"]}
    line = 'p = ("é😀", remove_loop(p, "for ioi in _:_ #1"))'
    start = 27  # UTF-16 column of the opening quote (the emoji is two code units)
    toks = r.pattern_tokens(line, R(0, start, 0, start + 19), names, "loop")
    kinds = [(c, n, r.TOKEN_TYPES[t], m) for _, c, n, t, m in toks]
    assert kinds == [
        (28, 3, "keyword", 0), (32, 3, "parameter", 0), (36, 2, "keyword", 0), (39, 1, "macro", 0),
        (40, 1, "operator", 0), (41, 1, "macro", 0), (43, 2, "decorator", 0),
    ]
    toks = r.pattern_tokens('f("acc[4 * ioi] += n")', R(0, 2, 0, 21), names, None)
    assert [(c, n, r.TOKEN_TYPES[t], m) for _, c, n, t, m in toks] == [
        (3, 3, "variable", 0), (7, 1, "number", 0), (9, 1, "operator", 0), (11, 3, "parameter", 0),
        (16, 2, "operator", 0), (19, 1, "variable", 1),
    ]
    assert r.pattern_tokens('f(f"x{a}")', R(0, 2, 0, 9), names, None) == []  # f-strings are not patterns
    assert r.pattern_tokens('g("y")', R(0, 2, 0, 5), names, "alloc")[0][4] == 2  # declaration


def test_encode_tokens_is_relative_and_sorted():
    data = r.encode_tokens([(3, 10, 2, 1, 0), (1, 4, 3, 0, 0), (3, 2, 1, 6, 0)])
    assert data == [1, 4, 3, 0, 0, 2, 2, 1, 6, 0, 0, 8, 2, 1, 0]


def test_lens_titles_and_algorithm_lenses():
    t = trace()
    lenses = r.algorithm_lenses([t], "/a.py")
    assert [(rng.start.line, [s.index for s in steps]) for rng, _, steps in lenses] == [(3, [0]), (5, [1])]
    assert r.lens_title([t.steps[0]]) == "scheduled by line 2: divide_loop"
    assert r.lens_title(t.steps[:2]) == "scheduled by 2 steps, lines 2, 3: divide_loop, fission"


def test_first_line_of_a_multi_line_origin(tmp_path):
    f = tmp_path / "alg.py"
    f.write_text("x\n    out[i] = 0  # 😀\n    for c in seq(0, 4):\n        pass\n")
    loc = Location(str(f), R(1, 4, 3, 12))
    assert r.first_line(loc).range == R(1, 4, 1, 20)  # the emoji counts two UTF-16 units
    one = Location(str(f), R(2, 4, 2, 23))
    assert r.first_line(one) is one


def test_inlay_hints_skip_what_the_trace_has_not_got_yet():
    # Mid-run the worker answers about steps and lookups newer than the last partial trace the
    # server holds: those wait for the next trace (an IndexError answered the request before).
    from exo_lsp.shared.contract import InlayResult

    got = InlayResult(steps={0: "→ io, ii", 7: "→ later"}, lookups={1: "→ gap", 9: "→ later"}, produced={7: "x"})
    hints = r.inlay_hints(trace(), got, R(0, 0, 10, 0))
    assert [(h.position.line, h.position.character, h.label) for h in hints] == [(1, 51, "→ io, ii")]
    # the lookup chain's end (index 1) lies inside step 1's range: the step's own hint says it
    assert r.inlay_hints(trace(), got, R(2, 0, 2, 60)) == []
