"""The speed-ups to Exo (worker/exo/speedups.py) change nothing but time: traces of every
example and the outcome of every code-action candidate are the same with them off (Exo as it
comes). Also pins the internals they replace (exo-lang 1.0.0)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

from exo_lsp.worker.queries.actions import enumerator, places, validation
from exo_lsp.worker.exo import printing, speedups
from exo_lsp.worker.tracer import Tracer
from trace_compare import normalized

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py")) + sorted((ROOT / "examples" / "broken").glob("*.py"))
CONV1D = str(ROOT / "examples" / "conv1d.py")
MATMUL = str(ROOT / "examples" / "matmul.py")


@pytest.fixture
def exo_as_it_comes():
    speedups.uninstall_speedups()
    try:
        yield
    finally:
        speedups.install_speedups()


def _run(path: Path, fast: bool):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    t = Tracer()  # installs the speed-ups
    if not fast:
        speedups.uninstall_speedups()
    try:
        return normalized(t, t.run(str(path), path.read_text(), 1, use_memo=False))
    finally:
        speedups.install_speedups()


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_traces_are_the_same_without_speedups(path):
    assert _run(path, fast=True) == _run(path, fast=False)


def _outcomes(t, st, step: int, loop: str | None) -> dict:
    p = t.registry.get(st.trace.steps[step].proc_out)
    node = p.find_loop(loop) if loop else None
    scope = places.build_scope(st, step, "p")
    base = printing.proc_text_fast(p)
    out = {}
    for c in enumerator.enumerate_candidates(p, [node] if node else [], node is None, scope):
        validation.CACHE.clear()
        o = validation.validate(c, p, st.trace.steps[step].proc_out, scope, base)
        out[c.call] = (o.ok, o.error, printing.proc_text_fast(o.result) if o.result is not None else None)
    return out


PLACES = [(CONV1D, 6, "r"), (CONV1D, 6, "ioo"), (CONV1D, 6, "c"), (CONV1D, 32, None), (MATMUL, 2, "ii"), (MATMUL, 3, None)]


@pytest.mark.slow
def test_action_outcomes_are_the_same_without_speedups():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    t = Tracer()
    states = {path: t.run(path, Path(path).read_text(), 1) for path in (CONV1D, MATMUL)}
    fast = {(path, step, loop): _outcomes(t, states[path], step, loop) for path, step, loop in PLACES}
    speedups.CONTEXT_MEMO.hits = 0
    assert sum(map(len, fast.values())) > 40
    speedups.uninstall_speedups()
    try:
        slow = {(path, step, loop): _outcomes(t, states[path], step, loop) for path, step, loop in PLACES}
    finally:
        speedups.install_speedups()
    assert speedups.CONTEXT_MEMO.hits == 0  # really off
    for key in fast:
        assert fast[key] == slow[key], key
    validation.CACHE.clear()


def test_stage_mem_reuses_the_contexts_it_checks():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    t = Tracer()
    st = t.run(CONV1D, Path(CONV1D).read_text(), 1)
    p = t.registry.get(st.trace.steps[6].proc_out)
    from exo.stdlib.scheduling import stage_mem

    speedups.forget_analyses()
    for memo in (speedups.CONTEXT_MEMO, speedups.SOLVER_MEMO):
        memo.hits = memo.misses = 0
    stage_mem(p, p.find_loop("r"), "out[ii + 4 * ioi + 16 * ioo, ji + 4 * jo]", "out_tile")
    # a guard check per bound of each index, all in the context of the staged block: its
    # predicate is built once, and one solver assumes it for all of them
    assert speedups.CONTEXT_MEMO.misses > 0 and speedups.CONTEXT_MEMO.hits >= speedups.CONTEXT_MEMO.misses
    assert speedups.SOLVER_MEMO.misses >= 1 and speedups.SOLVER_MEMO.hits >= 3


def test_memo_keeps_its_objects_and_stays_bounded():
    memo = speedups._IdentityMemo(2)
    objs = [object() for _ in range(3)]
    assert memo.get_or((objs[0],), lambda: "a") == "a"
    assert memo.get_or((objs[0],), lambda: "other") == "a"
    assert memo.get_or((objs[0],), lambda: "tagged", "t") == "tagged"
    memo.get_or((objs[1],), lambda: "b")
    assert len(memo.data) == 2 and memo.hits == 1
    assert all(entry[1][0] is not None for entry in memo.data.values())
    memo.forget((objs[1],))
    assert memo.get_or((objs[1],), lambda: "again") == "again"


def test_frames_only_stack_lists_the_same_frames():
    def where():
        return speedups._frames_only_stack(), inspect.stack()

    fast, real = where()
    assert [(f.frame, f.lineno, f.function) for f in fast][1:] == [(f.frame, f.lineno, f.function) for f in real][1:]
    assert fast[0].function == real[0].function == "where"
    assert fast[0].code_context is None


def test_exo_frontend_sees_the_shim_only_while_installed(exo_as_it_comes):
    import exo.frontend.pattern_match as pm

    assert pm.inspect is inspect
    speedups.install_speedups()
    assert pm.inspect.stack is speedups._frames_only_stack
    assert pm.inspect.getframeinfo is inspect.getframeinfo


def test_solver_lookup_is_cached_but_solvers_are_fresh():
    import exo.frontend.boundscheck as bc
    import exo.rewrite.LoopIR_unification as un
    import exo.rewrite.new_analysis_core as nac

    speedups.install_speedups()
    for mod in (un, bc):
        a, b = mod._get_smt_solver(), mod._get_smt_solver()
        assert a is not b and type(a).__name__ == "Z3Solver"
    assert speedups._smt_names[None] == "z3"
    # the effect checks only push and pop theirs (exo-lang 1.0.0 runs them in z3 mode)
    assert nac.SMTSolver().Z3_MODE is True
    assert set(_attribute_uses(nac.SMTSolver, "solver")) == {"push", "pop"}
    assert type(nac._get_smt_solver()).__name__ == "_PushPopOnly"
    speedups.uninstall_speedups()
    try:
        assert nac._get_smt_solver is speedups._smt_originals["exo.rewrite.new_analysis_core"]
    finally:
        speedups.install_speedups()


def test_integer_model_values_are_read_as_pysmt_reads_them():
    import exo.rewrite.LoopIR_unification as un
    import pysmt.shortcuts as smt

    speedups.install_speedups()
    fast = un._get_smt_solver()
    x, y, b = smt.Symbol("x", smt.INT), smt.Symbol("y", smt.INT), smt.Symbol("b")
    f = smt.And(smt.Equals(smt.Plus(x, y), smt.Int(7)), smt.Equals(smt.Minus(x, y), smt.Int(5)), b)
    assert fast.is_sat(f)
    through_pysmt = {v: fast.get_value(v).constant_value() for v in (x, y)}  # the same model, pysmt's way
    assert fast.get_py_values([x, y]) == through_pysmt == {x: 6, y: 1}
    assert fast.get_py_value(y) == 1
    assert fast.get_py_values([x, b]) == {x: 6, b: True}  # mixed types: pysmt's own way


def _attribute_uses(cls, attr: str) -> list[str]:
    """Methods called on ``self.<attr>`` in `cls`'s source, but for methods that raise
    before anything else (``counter_example``: "Out of Date")."""
    import ast
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    live = [f for f in tree.body[0].body if not (isinstance(f, ast.FunctionDef) and isinstance(f.body[0], ast.Raise))]
    out = []
    for node in (n for f in live for n in ast.walk(f)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == attr
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "self"
        ):
            out.append(node.attr)
    return out


def test_ir_classes_are_checked_as_plain_types_only_while_installed(exo_as_it_comes):
    import abc

    from exo.core.LoopIR import T, LoopIR
    from exo.core.prelude import SrcInfo
    from exo.rewrite import new_eff

    here = SrcInfo("x.py", 1)
    nodes = [LoopIR.Const(1.0, T.f32, here), LoopIR.Pass(here), new_eff.LS.Empty()]
    classes = [LoopIR.expr, LoopIR.stmt, LoopIR.Const, LoopIR.Read, LoopIR.Pass, LoopIR.type, new_eff.LS.locset, int]

    def answers():
        return [isinstance(n, c) for n in nodes for c in classes] + [
            issubclass(a, b) for a in classes for b in classes
        ]

    as_it_comes = answers()
    assert type(LoopIR.Read) is abc.ABCMeta
    speedups.install_speedups()
    assert type(LoopIR.Read) is type(new_eff.LS.Empty) is speedups._PlainChecksMeta
    calls = []
    real_check = abc.ABCMeta.__instancecheck__
    abc.ABCMeta.__instancecheck__ = lambda cls, obj: calls.append(cls) or real_check(cls, obj)
    try:
        assert answers() == as_it_comes and as_it_comes.count(True) == 5 + 11
    finally:
        abc.ABCMeta.__instancecheck__ = real_check
    assert calls == []  # not one went through ABCMeta's checks
    speedups.uninstall_speedups()
    assert type(LoopIR.Read) is abc.ABCMeta and answers() == as_it_comes


def test_ir_text_is_formatted_once_per_raw_text_only_while_installed(exo_as_it_comes):
    from exo.core import LoopIR_pprint

    original = LoopIR_pprint._format_code
    speedups.install_speedups()
    assert LoopIR_pprint._format_code is speedups._memoised_format_code
    raw = "x   +  (y*2)"
    formatted = LoopIR_pprint._format_code(raw)
    assert formatted == original(raw) == "x + (y * 2)"
    assert speedups.FORMAT_MEMO.get(raw) == formatted
    speedups.uninstall_speedups()
    assert LoopIR_pprint._format_code is original and not speedups.FORMAT_MEMO


def test_ir_nodes_built_with_inline_checks_are_the_same_and_fail_the_same(exo_as_it_comes):
    from exo.core.LoopIR import UAST, T, LoopIR
    from exo.core.prelude import SrcInfo, Sym
    from exo.rewrite import new_eff

    here = SrcInfo("x.py", 1)
    i = Sym("i")
    zero = LoopIR.Const(0, T.index, here)
    one = UAST.Const(1, here)
    body = [LoopIR.Pass(here)]
    good = [
        lambda: LoopIR.For(i, zero, zero, body, LoopIR.Seq(), here),
        lambda: LoopIR.Const(1.5, T.f32, here),  # an `object` field
        lambda: LoopIR.Assign(i, T.f32, [zero], zero, here),
        lambda: UAST.Interval(one, None, here),  # optional fields
        lambda: UAST.Interval(None, one, here),
        lambda: new_eff.LS.Empty(),
    ]
    bad = [
        lambda: LoopIR.For(i, 3, zero, body, LoopIR.Seq(), here),  # not a node
        lambda: LoopIR.For(i, None, zero, body, LoopIR.Seq(), here),  # None in a required field
        lambda: LoopIR.For(i, zero, zero, [3], LoopIR.Seq(), here),  # a list of the wrong items
        lambda: LoopIR.For(i, zero, zero, [None], LoopIR.Seq(), here),
        lambda: LoopIR.For(i, zero, zero, tuple(body), LoopIR.Seq(), here),  # not a list
        lambda: LoopIR.Const(None, T.f32, here),  # None where the type is `object`
        lambda: UAST.Interval(zero, None, here),  # a LoopIR node where a UAST one belongs
    ]

    def outcomes():
        built = [(str(f()), repr(f())) for f in good]
        failed = []
        for f in bad:
            with pytest.raises(Exception) as e:
                f()
            failed.append((type(e.value), str(e.value)))
        return built, failed

    as_it_comes = outcomes()
    original = vars(LoopIR.For)["__init__"]
    speedups.install_speedups()
    assert vars(LoopIR.For)["__init__"] is not original  # the inline checks are on
    assert outcomes() == as_it_comes
    node = good[0]()
    assert node.body == body and node.body is not body  # the list is the node's own, as before
    speedups.uninstall_speedups()
    assert vars(LoopIR.For)["__init__"] is original
