"""Hooks into Exo that the tracer observes scripts through.

Every scheduling primitive (``AtomicSchedulingOp.__call__``) and every ``@proc``/``@instr``
is routed through the observer (``set_observer``); the cursor-returning methods a script
calls (``p.find_loop``, ``c.body()[0]``, ...) are reported to it; the SrcInfo objects the
parser makes are noted so that the tracer can move their lines after an edit.
"""

from __future__ import annotations

import ast
import sys
import textwrap
import types
from collections import ChainMap
from typing import Any, Callable, Protocol

import exo
import exo.API as _api
import exo.API_cursors as _pc
import exo.API_scheduling as _sched
from exo.core.LoopIR import FreeVars as _LoopIR_FreeVars
from exo.core.prelude import SrcInfo as _SrcInfo
from exo.frontend import pyparser as _pyparser
from exo.frontend.pyparser import Parser
from exo.frontend.pyparser import get_ast_from_python as _get_ast
from exo.rewrite import LoopIR_unification as _unification

from . import library_units

AtomicSchedulingOp = _sched.AtomicSchedulingOp
Procedure = _api.Procedure


class CallObserver(Protocol):
    """What the tracer implements to see scheduling calls and proc definitions."""

    def op_begin(self, op: AtomicSchedulingOp, raw: dict[str, Any], frame) -> Any: ...
    def op_arg_failed(self, token: Any, param: str, exc: BaseException) -> None: ...
    def op_cached(self, token: Any) -> tuple[bool, Any]: ...
    def op_resolved(self, token: Any, resolved: dict[str, Any]) -> tuple[bool, Any]: ...
    def op_end(self, token: Any, result: Any, exc: BaseException | None) -> None: ...
    def define_proc(self, f: types.FunctionType, instr, frame, build: Callable[[], Procedure]) -> Procedure: ...


_observer: CallObserver | None = None
_original_call = AtomicSchedulingOp.__call__
_original_proc = _api.proc
_original_instr = _api.instr


def set_observer(observer: CallObserver | None) -> None:
    global _observer
    _observer = observer


def _traced_call(self, *args, **kwargs):
    # Mirrors AtomicSchedulingOp.__call__ in one frame, so that the frame depths Exo's
    # pattern matching counts (to evaluate patterns in the caller's scope) stay the same.
    obs = _observer
    if obs is None:
        return _original_call(self, *args, **kwargs)
    bound = self.sig.bind(*args, **kwargs)
    bargs = bound.arguments
    if len(self.arg_procs) != len(bargs):
        for nm in self.sig.parameters:
            if nm not in bargs:
                kwargs[nm] = self.sig.parameters[nm].default
        bound = self.sig.bind(*args, **kwargs)
        bargs = bound.arguments
    token = obs.op_begin(self, dict(bargs), sys._getframe(1))
    try:
        # optional: an observer without a memo need not answer before resolution
        early = getattr(obs, "op_cached", None)
        hit, cached = early(token) if early is not None else (False, None)
        if hit:
            if isinstance(cached, BaseException):
                raise cached
            obs.op_end(token, cached, None)
            return cached
    except BaseException as exc:
        obs.op_end(token, None, exc)
        raise
    try:
        for nm, argp in zip(bargs, self.arg_procs):
            try:
                bargs[nm] = argp(bargs[nm], bargs)
            except BaseException as exc:
                obs.op_arg_failed(token, nm, exc)
                raise
        hit, cached = obs.op_resolved(token, dict(bargs))
        if hit:
            if isinstance(cached, BaseException):
                raise cached
            result = cached
        else:
            result = self.func(*bound.args, **bound.kwargs)
    except BaseException as exc:
        obs.op_end(token, None, exc)
        raise
    obs.op_end(token, result, None)
    return result


# --------------------------------------------------------------------------- proc methods
# ``p.partial_eval(...)``, ``p.add_assertion(...)`` and ``p.transpose(c)`` make new procs like
# the scheduling ops do, but are methods of Procedure, not AtomicSchedulingOps: the op hook
# does not see them, and a schedule that starts with ``p.partial_eval`` would get a new proc
# (so no memo hit downstream) on every run. Each is wrapped into a MethodOp, which looks like
# an op to the observer (a name, ``sig`` with ``proc`` first, ``arg_procs``, ``func``).

PROC_METHODS = ("partial_eval", "add_assertion", "transpose")


def _as_is(value, _all_args):
    return value


class MethodOp:
    def __init__(self, name: str, func) -> None:
        import inspect

        self.__name__ = name
        self.func = func
        self.__doc__ = func.__doc__
        sig = inspect.signature(func)
        params = list(sig.parameters.values())
        params[0] = params[0].replace(name="proc")
        self.sig = sig.replace(parameters=params)
        self.arg_procs = [_as_is] * len(params)
        self.__signature__ = self.sig

    def __call__(self, *args, **kwargs):
        return _traced_method(self, args, kwargs, sys._getframe(1))

    def __repr__(self) -> str:
        return f"<proc method {self.__name__}>"


def _traced_method(op: MethodOp, args, kwargs, frame):
    obs = _observer
    if obs is None:
        return op.func(*args, **kwargs)
    bound = op.sig.bind(*args, **kwargs)
    bound.apply_defaults()
    raw = dict(bound.arguments)
    for name, prm in op.sig.parameters.items():
        if prm.kind is prm.VAR_KEYWORD:  # memo keys take tuples, not dicts
            raw[name] = tuple(sorted(raw.get(name, {}).items()))
    token = obs.op_begin(op, raw, frame)
    try:
        hit, cached = obs.op_resolved(token, dict(raw))
        if hit:
            if isinstance(cached, BaseException):
                raise cached
            result = cached
        else:
            result = op.func(*args, **kwargs)
    except BaseException as exc:
        obs.op_end(token, None, exc)
        raise
    obs.op_end(token, result, None)
    return result


def _method_wrapper(op: MethodOp):
    import functools

    @functools.wraps(op.func)
    def method(self, *args, **kwargs):
        return _traced_method(op, (self, *args), kwargs, sys._getframe(1))

    method.__exo_lsp_op__ = op
    return method


_method_originals: dict[str, Any] = {}


def method_op(name: str) -> MethodOp | None:
    """The MethodOp of a Procedure method (for hovers and signatures), or None."""
    return getattr(getattr(Procedure, name, None), "__exo_lsp_op__", None)


def _install_method_hooks() -> None:
    if _method_originals:
        return
    for name in PROC_METHODS:
        orig = vars(Procedure)[name]
        _method_originals[name] = orig
        setattr(Procedure, name, _method_wrapper(MethodOp(name, orig)))


def _uninstall_method_hooks() -> None:
    for name, orig in _method_originals.items():
        setattr(Procedure, name, orig)
    _method_originals.clear()


def _src_locals(frame) -> ChainMap:
    return ChainMap(frame.f_locals)


def _traced_proc(f, _instr=None):
    if not isinstance(f, types.FunctionType):
        raise TypeError("@proc decorator must be applied to a function")
    frame = sys._getframe(2 if _instr else 1)

    def build() -> Procedure:
        # Exo's own decorator finds the caller with inspect.stack(), which both reads
        # every frame's source (slow) and miscounts once wrapped; pass the frame directly.
        body, getsrcinfo = _get_ast(f)
        parser = Parser(
            body,
            getsrcinfo,
            func_globals=f.__globals__,
            srclocals=_src_locals(frame),
            instr=_instr,
            as_func=True,
        )
        return Procedure(parser.result())

    obs = _observer
    if obs is None:
        return build()
    return obs.define_proc(f, _instr, frame, build)


def _traced_instr(c_instr, c_global=""):
    if not isinstance(c_instr, str):
        raise TypeError("@instr decorator must be @instr(<your instuction>)")

    def inner(f):
        if not isinstance(f, types.FunctionType):
            raise TypeError("@instr decorator must be applied to a function")
        return _traced_proc(f, _instr=(c_instr, c_global))

    return inner


class _OrderedFreeVars(_LoopIR_FreeVars):
    """Exo's unifier walks a set of Syms, which hash by address, so the order of the terms
    in the arguments `replace` builds (``16 * ioo + 4 * ioi`` or ``4 * ioi + 16 * ioo``)
    depends on where objects happen to live. Memoized runs allocate differently from cold
    ones; walk the free variables in a stable order (name, creation) instead."""

    def result(self):
        return sorted(self.fv, key=lambda s: (str(s), s._id))


_function_sources: dict[tuple, tuple[str, int, str, list[str]]] = {}


def function_source_names(f: types.FunctionType) -> tuple[str, int, str, list[str]]:
    """(file, first line, source text, names it mentions) of a function, for memo keys.
    Kept per text of its file: every run defines its procs again from the same text."""
    import inspect
    import linecache

    code = f.__code__
    where = (code.co_filename, code.co_firstlineno, f.__qualname__, "".join(linecache.getlines(code.co_filename)))
    known = _function_sources.get(where)
    if known is not None:
        return known
    src = inspect.getsource(f)
    filename = inspect.getsourcefile(f) or "<unknown>"
    _, lineno = inspect.getsourcelines(f)
    tree = ast.parse(textwrap.dedent(src))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if len(_function_sources) > 1024:
        _function_sources.clear()
    known = _function_sources[where] = (filename, lineno, src, sorted(names - _exo_bound_names(tree)))
    return known


def _exo_bound_names(tree: ast.AST) -> set[str]:
    """Names the proc binds itself (parameters, loop variables, allocations): Exo never
    looks them up in Python, so the Python values they happen to shadow (``from
    exo.stdlib.stdlib import *`` brings TypeVars named ``c``, ``r``, ``y``) must not key
    the memo, or a proc with such a loop would never be reused."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            a = node.args
            bound.update(x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs))
        elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            bound.add(node.target.id)
    return bound


# --------------------------------------------------------------------------- srcinfo


class _TrackedSrcInfo(_SrcInfo):
    """A SrcInfo the parser makes, noted so that the tracer that ran the parse can move its
    line when an edit moves that line (``move_source_lines``)."""

    def __init__(self, filename, lineno, *args, **kwargs) -> None:
        super().__init__(filename, lineno, *args, **kwargs)
        _new_srcinfos.append(self)


_new_srcinfos: list = []


def take_new_srcinfos() -> list:
    """The SrcInfo objects parsed since the last call."""
    out = list(_new_srcinfos)
    _new_srcinfos.clear()
    return out


def move_source_lines(srcinfos, moves: dict[int, int]) -> int:
    """Move each SrcInfo on an old 1-based line in `moves` to its new line (a script's procs
    and pattern fragments, and every proc made from them, share these objects). Returns
    how many moved."""
    moved = 0
    for si in list(srcinfos):
        new = moves.get(si.lineno)
        if new is None:
            continue
        if si.end_lineno is not None:
            si.end_lineno += new - si.lineno
        si.lineno = new
        moved += 1
    return moved


# --------------------------------------------------------------------------- cursor lookups
# Cursor-returning calls written in a script (``p.find_loop("c")``, ``c.expand(1, 0)``,
# ``c.body()[0]``, ``p.forward(c)``) are not scheduling ops, so the op hook does not see
# them. Each such method of ``Procedure`` and of the public cursor classes is wrapped; a
# wrapper whose caller is the script being traced (``observer.path``) reports the call
# to ``observer.lookup_done``. Exo evaluates a pattern in the frame ``call_depth`` levels
# up the stack, and a wrapper is one more frame: the ``find`` wrappers add 1 to it, so
# ``find_loop`` (which calls ``self.find``) and the argument processors keep their depth.


LOOKUP_METHODS = frozenset(
    {
        "find", "find_loop", "find_alloc_or_arg", "find_all", "forward",
        "parent", "body", "orelse", "cond", "lo", "hi", "rhs", "lhs", "arg", "idx", "args",
        "shape", "winexpr", "before", "after", "prev", "next", "as_block", "expand",
        "anchor", "__getitem__",
    }
)
_lookup_originals: list[tuple[type, str, Any]] = []


def _report_lookup(name, receiver, args, kwargs, frame, result, exc, memo=None) -> None:
    """`memo`: the lookup's memo entry, or its (key, pins) when it was just computed."""
    obs = _observer
    done = getattr(obs, "lookup_done", None)
    if done is None:
        return
    try:
        if memo is None:
            done(name, receiver, args, kwargs, frame, result, exc)
        else:
            done(name, receiver, args, kwargs, frame, result, exc, memo)
    except Exception:  # recording must never change what the script does
        pass


def _memo_of(obs):
    return getattr(obs, "lookup_memo", None) if obs is not None else None


def _lookup_wrapper(name: str, orig):
    # A lookup goes through the observer's lookup memo (``worker/lookup_memo.py``) from any
    # frame, library helpers included (replace_all's finds); only the script's own calls
    # are reported. `orig` is called from the wrapper's own frame: Exo's frame counting
    # for patterns stays as the comment above says.
    import functools

    if name == "find":

        @functools.wraps(orig)
        def find(self, pattern, many=False, call_depth=1):
            frame = sys._getframe(1)
            obs = _observer
            memo = _memo_of(obs)
            found = memo.key(name, self, (pattern,), {"many": many}, _frame_up(call_depth)) if memo else None
            report = obs is not None and frame.f_code.co_filename == getattr(obs, "path", None)
            entry = memo.get(found[0]) if found is not None else None
            if entry is not None:
                return _answer(name, self, (pattern,), {"many": many}, frame, entry, report, memo)
            try:
                result = orig(self, pattern, many, call_depth + 1)
            except BaseException as exc:
                if found is not None:
                    memo.put(*found, None, exc)
                if report:
                    _report_lookup(name, self, (pattern,), {"many": many}, frame, None, exc, found)
                raise
            if found is not None:
                memo.put(*found, result, None)
            if report:
                _report_lookup(name, self, (pattern,), {"many": many}, frame, result, None, found)
            return result

        return find

    @functools.wraps(orig)
    def method(self, *args, **kwargs):
        frame = sys._getframe(1)
        obs = _observer
        if obs is None:
            return orig(self, *args, **kwargs)
        memo = _memo_of(obs)
        found = memo.key(name, self, args, kwargs, None) if memo else None
        report = frame.f_code.co_filename == getattr(obs, "path", None)
        entry = memo.get(found[0]) if found is not None else None
        if entry is not None:
            return _answer(name, self, args, kwargs, frame, entry, report, memo)
        try:
            result = orig(self, *args, **kwargs)
        except BaseException as exc:
            if found is not None:
                memo.put(*found, None, exc)
            if report:
                _report_lookup(name, self, args, kwargs, frame, None, exc, found)
            raise
        if found is not None:
            memo.put(*found, result, None)
        if report:
            _report_lookup(name, self, args, kwargs, frame, result, None, found)
        return result

    return method


def _frame_up(depth):
    """The frame Exo evaluates a pattern's names in: `depth` above the find wrapper."""
    try:
        return sys._getframe(depth + 1)
    except (ValueError, TypeError):
        return None


def _answer(name, receiver, args, kwargs, frame, entry, report, memo):
    """A memo hit: the last run's answer (a cursor, or the error it raised)."""
    value = memo.answer(entry)
    exc = value if isinstance(value, BaseException) else None
    if report:
        _report_lookup(name, receiver, args, kwargs, frame, None if exc else value, exc, entry)
    if exc is not None:
        raise exc
    return value


def _lookup_classes() -> list[type]:
    classes = [Procedure]
    for v in vars(_pc).values():
        if isinstance(v, type) and issubclass(v, _pc.Cursor):
            classes.append(v)
    return classes


def install_lookup_hooks() -> None:
    if _lookup_originals:
        return
    for cls in _lookup_classes():
        for name, value in list(vars(cls).items()):
            if name in LOOKUP_METHODS and callable(value):
                _lookup_originals.append((cls, name, value))
                setattr(cls, name, _lookup_wrapper(name, value))


def uninstall_lookup_hooks() -> None:
    while _lookup_originals:
        cls, name, value = _lookup_originals.pop()
        setattr(cls, name, value)


# --------------------------------------------------------------------------- installing


def _reexporters() -> list:
    """Modules that hold Exo's own ``proc``/``instr`` (exo.stdlib.stdlib re-exports them,
    and ``from exo.stdlib.stdlib import *`` rebinds the script's ``proc`` to Exo's own:
    its procs would be neither traced nor memoised)."""
    out = [_api, exo]
    for mod in list(sys.modules.values()):
        d = getattr(mod, "__dict__", None)
        if d is not None and mod not in out and (d.get("proc") is _original_proc or d.get("instr") is _original_instr):
            if getattr(mod, "__name__", "").startswith("exo."):
                out.append(mod)
    return out


_patched_modules: list = []


def install_hooks() -> None:
    """Route every primitive and every ``@proc``/``@instr`` through the observer."""
    AtomicSchedulingOp.__call__ = _traced_call
    for mod in _reexporters():
        if mod not in _patched_modules:
            _patched_modules.append(mod)
        if mod.__dict__.get("proc") in (_original_proc, _traced_proc):
            mod.proc = _traced_proc
        if mod.__dict__.get("instr") in (_original_instr, _traced_instr):
            mod.instr = _traced_instr
    _unification.FreeVars = _OrderedFreeVars
    _pyparser.SrcInfo = _TrackedSrcInfo
    install_lookup_hooks()
    _install_method_hooks()
    library_units.install()


def uninstall_hooks() -> None:
    AtomicSchedulingOp.__call__ = _original_call
    _unification.FreeVars = _LoopIR_FreeVars
    _pyparser.SrcInfo = _SrcInfo
    for mod in _patched_modules or (_api, exo):
        if mod.__dict__.get("proc") is _traced_proc:
            mod.proc = _original_proc
        if mod.__dict__.get("instr") is _traced_instr:
            mod.instr = _original_instr
    _patched_modules.clear()
    uninstall_lookup_hooks()
    _uninstall_method_hooks()
    library_units.uninstall()
