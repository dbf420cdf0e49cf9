"""Speed-ups of Exo's checks.

Every scheduling op a script or a code action runs pays for Exo's checks. Some costs in
them do not depend on the input and are cut here, each leaving results unchanged
(tests/test_exo_speedups.py compares traces and action outcomes with them off):

* SMT solver lookup: Exo builds a pysmt Factory for every check just to pick the solver's
  name, re-trying the import of every backend pysmt knows (~40 ms a check). Looked up
  once per module and logic; a fresh solver is still handed out each time, one that reads
  integer model values from z3 directly (unification reads hundreds). The effect checks
  query z3 themselves and only push and pop their pysmt solver: they get a stand-in.
* Context extraction: a check about statements S of proc P builds P's control predicate
  and pre-environment at S from scratch, and stage_mem's guard checks ask for the same
  (P, S) up to eight times an op (``Check_ExprEqvInContext`` builds it twice per call).
  The results are pure functions of the immutable LoopIR nodes: memoised by identity,
  keeping the nodes alive so the identities stay theirs. The fresh names they bind
  (copies of loop iterators and variables) are bound inside the formula, so reusing one
  formula twice in a query means the same as two renamed copies. For the same reason the
  solver that assumes a context is kept for the next equivalence check in it.
* ``inspect.stack()``: pattern matching and fragment parsing take the caller's frame
  from it, and it reads the source of every frame on the stack (a deep one inside the
  worker). The shim lists frames without reading sources; Exo only uses their frames,
  and takes file and line from ``inspect.getframeinfo`` of the one it picks.
* ``isinstance`` on IR nodes: plain type checks instead of ABCMeta's (see below).
* Building IR nodes: each field's type checked inline, not through two validator calls
  (``fast_init.py``).
"""

from __future__ import annotations

import abc
import sys
import types
from typing import Any, Callable

import exo

from ...shared.lru import LRU
from .fast_init import install_fused_init, uninstall_fused_init

SchedulingError = exo.SchedulingError


_SMT_SOLVER_USERS = {
    "exo.rewrite.new_analysis_core": "LIA",
    "exo.rewrite.LoopIR_unification": None,
    "exo.frontend.boundscheck": None,
}
_smt_names: dict[str | None, str] = {}
_smt_originals: dict[str, Any] = {}


class _PushPopOnly:
    """What Exo's effect-check solver does with its pysmt solver in z3 mode (the only mode it
    runs in): push and pop it, never ask it anything; its queries go to z3 directly."""

    def push(self) -> None:
        pass

    def pop(self) -> None:
        pass


def _solver_getter(logic_name: str | None):
    if logic_name == "LIA":  # exo.rewrite.new_analysis_core's SMTSolver
        return _PushPopOnly

    def get_solver():
        import pysmt.factory
        import pysmt.shortcuts
        from pysmt import logics

        name = _smt_names.get(logic_name)
        if name is None:
            factory = pysmt.factory.Factory(pysmt.shortcuts.get_env())
            found = factory.all_solvers(logic=getattr(logics, logic_name)) if logic_name else factory.all_solvers()
            if len(found) == 0:
                raise OSError("Could not find any SMT solvers")
            name = _smt_names[logic_name] = next(iter(found))
        return _with_direct_int_values(pysmt.shortcuts.Solver(name=name))

    return get_solver


def _with_direct_int_values(solver):
    """Integer model values read straight from z3's model: pysmt converts every value back
    into a pysmt term first (a DAG walk per value), which is most of what ``replace``'s
    unification costs. Other types keep pysmt's way."""
    if not hasattr(solver, "z3") or not hasattr(solver, "converter"):
        return solver
    through_pysmt = solver.get_py_value

    def is_int_symbol(x) -> bool:
        return x.is_symbol() and x.symbol_type().is_int_type()

    def get_py_values(items):
        model, convert = solver.z3.model(), solver.converter.convert
        return {
            x: model.eval(convert(x), model_completion=True).as_long() if is_int_symbol(x) else through_pysmt(x)
            for x in items
        }

    solver.get_py_values = get_py_values
    solver.get_py_value = lambda x: get_py_values([x])[x]
    return solver


def install_solver_cache() -> None:
    import importlib

    for modname, logic in _SMT_SOLVER_USERS.items():
        mod = importlib.import_module(modname)
        if modname not in _smt_originals:
            _smt_originals[modname] = mod._get_smt_solver
        mod._get_smt_solver = _solver_getter(logic)


def uninstall_solver_cache() -> None:
    import importlib

    for modname, orig in _smt_originals.items():
        importlib.import_module(modname)._get_smt_solver = orig


class _IdentityMemo:
    """Values by the identities of the objects they were computed from; bounded, and each
    entry keeps its objects alive (a freed object's id could be reused)."""

    def __init__(self, size: int) -> None:
        self.data = LRU(size)  # (tag, *ids) -> (value, objects)
        self.hits = 0
        self.misses = 0

    def get_or(self, objs: tuple, compute: Callable[[], Any], tag: str = "") -> Any:
        key = (tag, *map(id, objs))
        got = self.data.get(key)
        if got is not None:
            self.hits += 1
            return got[0]
        self.misses += 1
        value = compute()
        self.data.put(key, (value, objs))
        return value

    def forget(self, objs: tuple, tag: str = "") -> None:
        self.data.pop((tag, *map(id, objs)), None)

    def clear(self) -> None:
        self.data.clear()


CONTEXT_MEMO = _IdentityMemo(2048)
SOLVER_MEMO = _IdentityMemo(32)  # z3 solvers hold their assertions: keep few
_context_originals: dict[str, Any] = {}


def _memoised_context(name: str, original):
    def method(self):
        return CONTEXT_MEMO.get_or((self.proc, *self.stmts), lambda: original(self), name)

    method.__name__ = name
    return method


def _memoised_loop_preenv(original):
    def loop_preenv(self, s):
        return CONTEXT_MEMO.get_or((s,), lambda: original(self, s), "loop_preenv")

    return loop_preenv


def _expr_eqv_in_context(proc, expr0, stmts0, expr1, stmts1=None):
    """Exo's ``Check_ExprEqvInContext``, with the solver that assumes the context kept for
    the next check in the same context (stage_mem's guards ask up to eight in a row).
    A check pushes and pops its own frame, so the kept solver is back where it was."""
    from exo.rewrite import new_eff as ne

    assert len(stmts0) > 0
    stmts1 = stmts1 or stmts0

    def primed():
        c0, c1 = ne.ContextExtraction(proc, stmts0), ne.ContextExtraction(proc, stmts1)
        g0, g1 = c0.get_pre_globenv(), c1.get_pre_globenv()
        slv = ne.SMTSolver(verbose=False)
        slv.push()
        slv.assume(ne.AMay(ne.AAnd(c0.get_control_predicate(), c1.get_control_predicate())))
        return slv, g0, g1

    context = (proc, *stmts0, None, *stmts1)
    slv, g0, g1 = SOLVER_MEMO.get_or(context, primed)
    try:
        same = slv.verify(ne.AEq(g0(ne.lift_e(expr0)), g1(ne.lift_e(expr1))))
    except BaseException:
        SOLVER_MEMO.forget(context)  # it may have stopped with its frame pushed
        raise
    if not same:
        raise SchedulingError(f"Expressions are not equivalent:\n{expr0}\nvs.\n{expr1}")


def install_context_memo() -> None:
    from exo.rewrite import LoopIR_scheduling as ls
    from exo.rewrite.new_eff import ContextExtraction as CE

    if _context_originals:
        return
    for name in ("get_control_predicate", "get_pre_globenv", "loop_preenv"):
        _context_originals[name] = CE.__dict__[name]
    _context_originals["Check_ExprEqvInContext"] = ls.Check_ExprEqvInContext
    CE.get_control_predicate = _memoised_context("get_control_predicate", _context_originals["get_control_predicate"])
    CE.get_pre_globenv = _memoised_context("get_pre_globenv", _context_originals["get_pre_globenv"])
    CE.loop_preenv = _memoised_loop_preenv(_context_originals["loop_preenv"])
    ls.Check_ExprEqvInContext = _expr_eqv_in_context


def uninstall_context_memo() -> None:
    from exo.rewrite import LoopIR_scheduling as ls
    from exo.rewrite.new_eff import ContextExtraction as CE

    for name, orig in _context_originals.items():
        setattr(ls if name == "Check_ExprEqvInContext" else CE, name, orig)
    _context_originals.clear()
    forget_analyses()


def forget_analyses() -> None:
    """Drop what the memos keep alive (a new run makes new procs)."""
    CONTEXT_MEMO.clear()
    SOLVER_MEMO.clear()


def _frames_only_stack(context: int = 1) -> list:
    """``inspect.stack()`` without reading the source of each frame (``code_context`` is None)."""
    import inspect

    out = []
    f = sys._getframe(1)
    while f is not None:
        out.append(inspect.FrameInfo(f, f.f_code.co_filename, f.f_lineno, f.f_code.co_name, None, None))
        f = f.f_back
    return out


class _FramesOnlyInspect(types.ModuleType):
    """``inspect`` as Exo's frontend sees it: the same but for ``stack()``."""

    def __init__(self) -> None:
        import inspect

        super().__init__("inspect")
        self.__dict__.update(vars(inspect))
        self.stack = _frames_only_stack


_STACK_USERS = ("exo.frontend.pattern_match", "exo.frontend.parse_fragment", "exo.frontend.pyparser", "exo.rewrite.new_eff")
_FAST_INSPECT = _FramesOnlyInspect()


def install_stack_shim() -> None:
    import importlib

    for modname in _STACK_USERS:
        importlib.import_module(modname).inspect = _FAST_INSPECT


def uninstall_stack_shim() -> None:
    import importlib
    import inspect

    for modname in _STACK_USERS:
        importlib.import_module(modname).inspect = inspect


# --------------------------------------------------------------------------- printing
# Real schedules print their procs (``print(p)``): Exo formats each through yapf, about
# 0.4 s for a proc of x86 or aarch64 sgemm, paid again on every run although a memoised
# step returns the very same proc. LoopIR is immutable, so the text of a LoopIR proc object
# never changes: kept by identity (the entry holds the object, so the id stays its own).

STR_MEMO = LRU(256)
_original_proc_str: Callable | None = None


def _memoised_proc_str(self) -> str:
    lp = self._loopir_proc
    hit = STR_MEMO.get(id(lp))
    if hit is not None and hit[0] is lp:
        return hit[1]
    text = _original_proc_str(self)
    STR_MEMO.put(id(lp), (lp, text))
    return text


# Every ``str()`` of a LoopIR node (an expression, a statement) also goes through yapf, and
# the simplifier keys its known facts by the text of expressions (``is_known_constant``:
# ``str(e)`` for every expression it visits, 3.5 s of x86 sgemm's cold run). yapf's output
# is a function of its input text alone: the formatted text is kept by the raw one.

FORMAT_MEMO = LRU(8192)
_original_format_code: Callable | None = None


def _memoised_format_code(code: str) -> str:
    hit = FORMAT_MEMO.get(code)
    if hit is None:
        hit = _original_format_code(code)
        FORMAT_MEMO.put(code, hit)
    return hit


def install_str_memo() -> None:
    global _original_proc_str, _original_format_code
    from exo.API import Procedure
    from exo.core import LoopIR_pprint

    if _original_proc_str is None:
        _original_proc_str = Procedure.__str__
        Procedure.__str__ = _memoised_proc_str
    if _original_format_code is None:
        _original_format_code = LoopIR_pprint._format_code
        LoopIR_pprint._format_code = _memoised_format_code


def uninstall_str_memo() -> None:
    global _original_proc_str, _original_format_code
    from exo.API import Procedure
    from exo.core import LoopIR_pprint

    if _original_proc_str is not None:
        Procedure.__str__ = _original_proc_str
        _original_proc_str = None
    if _original_format_code is not None:
        LoopIR_pprint._format_code = _original_format_code
        _original_format_code = None
    STR_MEMO.clear()
    FORMAT_MEMO.clear()


# --------------------------------------------------------------------------- isinstance
# LoopIR's node classes (and the effect analyses' ones) are asdl_adt ADTs, which derive
# from ABC: every isinstance or issubclass that is not an exact class match (Exo's
# if/elif chains over node kinds, asdl's validation of every field of every new node)
# goes through ABCMeta's checks of virtual subclasses and their caches: 26 million calls
# in gemmini matmul's run; the plain checks take about 7 % off it. No one registers
# virtual subclasses of these classes nor hooks their subclass checks, so the plain type
# checks give the same answers.


class _PlainChecksMeta(abc.ABCMeta):
    __instancecheck__ = type.__instancecheck__
    __subclasscheck__ = type.__subclasscheck__


_plain_checks: list[type] = []


def _adt_classes() -> list[type]:
    from asdl_adt.adt import _AsdlAdtBase

    out, todo = [], [_AsdlAdtBase]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out:
                out.append(sub)
                todo.append(sub)
    return out


def _plain_checks_suffice(cls: type) -> bool:
    registry = abc._get_dump(cls)[0]
    hooked = any("__subclasshook__" in vars(c) for c in cls.__mro__ if c is not object)
    return type(cls) is abc.ABCMeta and not registry and not hooked


def install_plain_isinstance() -> None:
    if _plain_checks:
        return
    for cls in _adt_classes():
        if _plain_checks_suffice(cls):
            cls.__class__ = _PlainChecksMeta
            _plain_checks.append(cls)


def uninstall_plain_isinstance() -> None:
    while _plain_checks:
        _plain_checks.pop().__class__ = abc.ABCMeta


def install_speedups() -> None:
    install_solver_cache()
    install_context_memo()
    install_stack_shim()
    install_str_memo()
    install_plain_isinstance()
    install_fused_init(_adt_classes())


def uninstall_speedups() -> None:
    """Exo as it comes (benchmarks' baselines, equivalence tests)."""
    uninstall_solver_cache()
    uninstall_context_memo()
    uninstall_stack_shim()
    uninstall_str_memo()
    uninstall_plain_isinstance()
    uninstall_fused_init()
