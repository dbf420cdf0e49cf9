"""Pins the Exo internals the engine leans on (exo-lang 1.0.0): if an upgrade moves any of
them, these fail before the features do."""

from __future__ import annotations

import textwrap

import pytest

import exo
import exo.API_scheduling as sched
from exo import proc
from exo.stdlib.scheduling import divide_loop, simplify

from exo_lsp.worker.exo import EXO_VERSION, check_version, cursors, hooks, ops, patterns, printing, procs
from exo_lsp.rvm import RVM_TILE


@pytest.fixture
def scale():
    @proc
    def scale(n: size, x: f32[n], y: f32[n]):
        assert n % 4 == 0
        for i in seq(0, n):
            y[i] = 2.0 * x[i]

    return scale


def test_version_is_pinned():
    check_version()
    assert EXO_VERSION == "1.0.0"


def test_atomic_op_shape_the_hook_mirrors():
    op = sched.divide_loop
    assert isinstance(op, ops.AtomicSchedulingOp)
    assert list(op.sig.parameters)[:3] == ["proc", "loop_cursor", "div_const"]
    assert len(op.arg_procs) == len(op.sig.parameters)
    assert ops.accepts_cursor(op, "loop_cursor")
    assert not ops.accepts_cursor(op, "div_const")
    assert ops.op_name(op) == "divide_loop"


class Recorder:
    def __init__(self):
        self.events = []

    def op_begin(self, op, raw, frame):
        self.events.append(("begin", ops.op_name(op), frame.f_code.co_name))
        return len(self.events)

    def op_arg_failed(self, token, param, exc):
        self.events.append(("arg_failed", param, type(exc).__name__))

    def op_resolved(self, token, resolved):
        self.events.append(("resolved", sorted(k for k, v in resolved.items() if isinstance(v, cursors.Cursor))))
        return False, None

    def op_end(self, token, result, exc):
        self.events.append(("end", exc is None))

    def define_proc(self, f, instr, frame, build):
        self.events.append(("define", f.__name__, frame.f_code.co_name))
        return build()


def test_hooks_see_calls_arguments_and_definitions(scale):
    rec = Recorder()
    hooks.install_hooks()
    hooks.set_observer(rec)
    try:

        def user_code():
            @exo.proc
            def tiny(x: f32[4]):
                for i in seq(0, 4):
                    x[i] = 0.0

            p = divide_loop(scale, "for i in _:_", 4, ["io", "ii"], perfect=True)
            with pytest.raises(exo.SchedulingError):
                divide_loop(p, "for q in _:_", 2, ["a", "b"])
            return tiny

        tiny = user_code()
    finally:
        hooks.set_observer(None)
        hooks.uninstall_hooks()
    assert procs.is_procedure(tiny)
    assert rec.events == [
        ("define", "tiny", "user_code"),
        ("begin", "divide_loop", "user_code"),
        ("resolved", ["loop_cursor"]),
        ("end", True),
        ("begin", "divide_loop", "user_code"),
        ("arg_failed", "loop_cursor", "SchedulingError"),
        ("end", False),
    ]


def test_patterns_still_see_the_callers_frame_through_the_hook(scale):
    # Exo evaluates patterns in the caller's frame by counting stack depth.
    hooks.install_hooks()
    hooks.set_observer(Recorder())
    try:
        factor = 4
        p = divide_loop(scale, "for i in _:_", factor, ["io", "ii"], perfect=True)
    finally:
        hooks.set_observer(None)
        hooks.uninstall_hooks()
    assert "for io in seq(0, n / 4):" in str(p)


def test_describe_cursors(scale):
    loop = scale.find_loop("i")
    info = cursors.describe_cursor(loop)
    assert (info.kind, info.text, info.count, info.header_only) == ("loop", "for i in seq(0, n):", 1, True)
    assert info.path == [["body", 0]]
    assert info.srcinfo.filename.endswith("test_exo_engine.py")
    assign = scale.find("y[_] = _")
    a = cursors.describe_cursor(assign)
    assert (a.kind, a.text) == ("assign", "y[i] = 2.0 * x[i]")
    assert a.path == [["body", 0], ["body", 0]]
    block = cursors.describe_cursor(loop.as_block())
    assert (block.kind, block.count) == ("block", 1)
    gap = cursors.describe_cursor(assign.after())
    assert (gap.kind, gap.text) == ("gap", "gap after: y[i] = 2.0 * x[i]")
    assert cursors.cursor_key(loop) == cursors.cursor_key(scale.find_loop("i"))
    assert cursors.cursor_key(loop) != cursors.cursor_key(assign)


def test_fast_text_equals_exo_print_without_formatting(scale):
    fast = printing.proc_text_fast(scale)
    assert fast.splitlines()[0] == "def scale(n : size, x : f32[n] @DRAM, y : f32[n] @DRAM):"
    assert printing.proc_text_fast(simplify(scale)) == fast


def test_outline_and_pattern_kinds(scale):
    p = divide_loop(scale, "for i in _:_", 4, ["io", "ii"], perfect=True)
    o = procs.outline(p)
    assert (o.loops, o.allocs, o.args, o.assigned, o.calls) == (["io", "ii"], [], ["n", "x", "y"], ["y"], [])
    assert patterns.pattern_kind("for q in _:_ #2") == ("loop", "q")
    assert patterns.pattern_kind("ioi") == ("loop", "ioi")
    assert patterns.pattern_kind("acc : _") == ("alloc", "acc")
    assert patterns.pattern_kind("y = data[_]") == ("assign", "y")
    assert patterns.pattern_kind("out[_] += _") == ("reduce", "out")
    assert patterns.count_matches(p, "for ii in _:_ #3") == 1
    assert patterns.count_matches(p, "io") == 1


def test_messages_get_the_real_op_name():
    msg = "<<<unknown directive>>>: cannot perfectly divide '16' by 5"
    assert patterns.clean_message(msg, "divide_loop") == "divide_loop: cannot perfectly divide '16' by 5"
    assert patterns.clean_message(msg, None) == "cannot perfectly divide '16' by 5"
    long = "cannot unify a <class 'abc.LoopIR.For'> statement (@/x/y/isa.py:106:8) with a <class 'abc.LoopIR.Assign'> statement"
    assert patterns.clean_message(long, "replace") == "cannot unify a For statement (isa.py:106:8) with a Assign statement"
    assert patterns.locations_in_message("bad (@/a/b.py:12:8) with (@/c.py:3:4)") == [("/a/b.py", 12, 8), ("/c.py", 3, 4)]


def test_reset_frees_static_memory_state():
    RVM_TILE.find_free_chunk()
    RVM_TILE.mark(0)
    RVM_TILE.mark(3)
    procs.reset_exo_state()
    assert RVM_TILE.is_chunk_allocated == [False] * 8


def test_unifier_free_variables_come_in_a_stable_order():
    from exo.rewrite import LoopIR_unification

    hooks.install_hooks()
    try:
        assert LoopIR_unification.FreeVars is hooks._OrderedFreeVars
    finally:
        hooks.uninstall_hooks()
    assert LoopIR_unification.FreeVars is hooks._LoopIR_FreeVars


def test_function_source_names_for_memo_keys():
    def f(x):
        return helper(x) + CONST

    filename, lineno, src, names = hooks.function_source_names(f)
    assert filename.endswith("test_exo_engine.py")
    assert textwrap.dedent(src).startswith("def f(x):")
    assert {"helper", "CONST"} <= set(names)
    assert "x" not in names  # a parameter: the proc binds it, Python's value of `x` is no input


def test_the_parser_notes_its_srcinfos_so_their_lines_can_move():
    from exo.core.prelude import SrcInfo

    hooks.install_hooks()
    try:
        hooks.take_new_srcinfos()

        @exo.proc
        def twice(x: f32[8]):
            for i in seq(0, 8):
                x[i] = 2.0 * x[i]

        p = divide_loop(twice, "for i in _:_", 2, ["io", "ii"], perfect=True)
        noted = hooks.take_new_srcinfos()
    finally:
        hooks.uninstall_hooks()
    assert all(isinstance(si, SrcInfo) for si in noted)
    header = procs.proc_srcinfo(p).lineno
    assert {si.lineno for si in noted if si.filename == __file__} == {header, header + 1, header + 2}
    loop = p.find_loop("io")._impl._node.srcinfo
    # the moved proc and the one made from it share the parser's objects: both move
    assert hooks.move_source_lines(noted, {header: header + 10, loop.lineno: loop.lineno + 10}) >= 2
    assert procs.proc_srcinfo(p).lineno == header + 10 and procs.proc_srcinfo(twice).lineno == header + 10
    assert p.find_loop("io")._impl._node.srcinfo.lineno == loop.lineno == header + 11
    assert hooks.take_new_srcinfos() == []
