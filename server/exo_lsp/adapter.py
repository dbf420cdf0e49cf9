"""The one module that touches Exo internals. Pinned to exo-lang 1.0.0.

Everything here leans on names that are not Exo's public API: the shared entry point of
scheduling primitives (``AtomicSchedulingOp.__call__``), the ``@proc`` parser, internal
cursors and their paths, ``srcinfo``, the LoopIR printer and StaticMemory's class state.
``tests/test_adapter.py`` pins each of them, so an Exo upgrade fails there first.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
import types
from collections import ChainMap
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import exo
import exo.API as _api
import exo.API_cursors as _pc
import exo.API_scheduling as _sched
from exo.core import internal_cursors as _ic
from exo.core import LoopIR_pprint as _pprint
from exo.core.LoopIR import LoopIR
from exo.core.memory import Memory, StaticMemory
from exo.frontend.pyparser import Parser
from exo.frontend.pyparser import get_ast_from_python as _get_ast

EXO_VERSION = "1.0.0"

AtomicSchedulingOp = _sched.AtomicSchedulingOp
Procedure = _api.Procedure
Cursor = _pc.Cursor
SchedulingError = exo.SchedulingError

_UNKNOWN_DIRECTIVE = "<<<unknown directive>>>"


def check_version() -> None:
    import importlib.metadata

    found = importlib.metadata.version("exo-lang")
    if found != EXO_VERSION:
        raise RuntimeError(f"exo-lsp needs exo-lang=={EXO_VERSION}; found {found}")


# --------------------------------------------------------------------------- hooks


class CallObserver(Protocol):
    """What the tracer implements to see scheduling calls and proc definitions."""

    def op_begin(self, op: AtomicSchedulingOp, raw: dict[str, Any], frame) -> Any: ...
    def op_arg_failed(self, token: Any, param: str, exc: BaseException) -> None: ...
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


def install_hooks() -> None:
    """Route every primitive and every ``@proc``/``@instr`` through the observer."""
    AtomicSchedulingOp.__call__ = _traced_call
    for mod in (_api, exo):
        mod.proc = _traced_proc
        mod.instr = _traced_instr


def uninstall_hooks() -> None:
    AtomicSchedulingOp.__call__ = _original_call
    for mod in (_api, exo):
        mod.proc = _original_proc
        mod.instr = _original_instr


def op_name(op: AtomicSchedulingOp) -> str:
    return getattr(op, "__name__", None) or op.func.__name__


def accepts_cursor(op: AtomicSchedulingOp, param: str) -> bool:
    for nm, argp in zip(op.sig.parameters, op.arg_procs):
        if nm == param:
            return isinstance(argp, _sched.CursorArgumentProcessor)
    return False


def function_source_names(f: types.FunctionType) -> tuple[str, int, str, list[str]]:
    """(file, first line, source text, names it mentions) of a function, for memo keys."""
    import inspect

    src = inspect.getsource(f)
    filename = inspect.getsourcefile(f) or "<unknown>"
    _, lineno = inspect.getsourcelines(f)
    names = sorted({n.id for n in ast.walk(ast.parse(textwrap.dedent(src))) if isinstance(n, ast.Name)})
    return filename, lineno, src, names


# --------------------------------------------------------------------------- state


def reset_exo_state() -> None:
    """StaticMemory keeps its free list at class level; a failed codegen leaves it dirty."""
    seen = set()
    todo = list(StaticMemory.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        reset = cls.__dict__.get("reset_allocations")
        if reset is not None:
            try:
                getattr(cls, "reset_allocations")()
                continue
            except Exception:
                pass
        size = len(getattr(cls, "is_chunk_allocated", []) or [])
        if size:
            cls.is_chunk_allocated = [False] * size


def is_memory_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Memory) and obj is not Memory


def is_procedure(obj: Any) -> bool:
    return isinstance(obj, Procedure)


def proc_name(p: Procedure) -> str:
    return str(p.name())


def instr_template(p: Procedure) -> str | None:
    instr = p._loopir_proc.instr
    return None if instr is None else instr.c_instr


def proc_srcinfo(p: Procedure):
    return p._loopir_proc.srcinfo


# --------------------------------------------------------------------------- cursors


@dataclass(frozen=True)
class NodeInfo:
    kind: str
    path: list[list[str | int]]
    text: str
    count: int
    srcinfo: Any  # exo SrcInfo or None
    header_only: bool  # loops and ifs: highlight the header line, not the body


_KIND = [
    (_pc.ForCursor, "loop"),
    (_pc.IfCursor, "if"),
    (_pc.AssignCursor, "assign"),
    (_pc.ReduceCursor, "reduce"),
    (_pc.AllocCursor, "alloc"),
    (_pc.CallCursor, "call"),
    (_pc.PassCursor, "pass"),
    (_pc.WindowStmtCursor, "window"),
    (_pc.AssignConfigCursor, "config"),
    (_pc.BlockCursor, "block"),
    (_pc.GapCursor, "gap"),
    (_pc.ArgCursor, "arg"),
    (_pc.ExprCursor, "expr"),
]


def cursor_kind(c: Cursor) -> str:
    for cls, kind in _KIND:
        if isinstance(c, cls):
            return kind
    return type(c).__name__


def _path_of(impl) -> list[list[str | int]]:
    if isinstance(impl, _ic.Node):
        return [[a, -1 if i is None else i] for a, i in impl._path]
    if isinstance(impl, _ic.Block):
        base = _path_of(impl._anchor)
        return base + [[impl._attr, impl._range.start, impl._range.stop]]
    if isinstance(impl, _ic.Gap):
        return _path_of(impl._anchor) + [["gap", impl._type.name.lower()]]
    return []


def cursor_key(c: Cursor) -> tuple:
    """Identity of a cursor for memo keys: its class, its proc and its path."""
    return (type(c).__name__, id(c._proc), repr(_path_of(c._impl)))


def _one_line(stmt) -> str:
    lines = _pprint._print_stmt(stmt, _pprint.PrintEnv(), "")
    return lines[0].strip() if lines else ""


def describe_cursor(c: Cursor) -> NodeInfo:
    kind = cursor_kind(c)
    impl = c._impl
    path = _path_of(impl)
    if isinstance(c, _pc.BlockCursor):
        stmts = list(impl.resolve_all())
        first = _one_line(stmts[0]) if stmts else ""
        text = first if len(stmts) == 1 else f"{first} … ({len(stmts)} stmts)"
        si = _union_srcinfo([s.srcinfo for s in stmts])
        return NodeInfo(kind, path, text, len(stmts), si, len(stmts) == 1 and _is_compound(stmts[0]))
    if isinstance(c, _pc.GapCursor):
        anchor = impl.anchor()._node
        where = "before" if impl._type.name.lower() == "before" else "after"
        return NodeInfo(kind, path, f"gap {where}: {_one_line(anchor)}", 0, anchor.srcinfo, True)
    node = impl._node
    if isinstance(node, LoopIR.stmt):
        return NodeInfo(kind, path, _one_line(node), 1, node.srcinfo, _is_compound(node))
    if isinstance(c, _pc.ArgCursor):
        return NodeInfo(kind, path, _pprint._print_fnarg(node, _pprint.PrintEnv()), 1, node.srcinfo, False)
    if isinstance(node, LoopIR.expr):
        return NodeInfo(kind, path, _pprint._print_expr(node, _pprint.PrintEnv()), 1, node.srcinfo, False)
    return NodeInfo(kind, path, type(node).__name__, 1, getattr(node, "srcinfo", None), False)


def _is_compound(stmt) -> bool:
    return isinstance(stmt, (LoopIR.For, LoopIR.If))


def _union_srcinfo(infos):
    infos = [i for i in infos if i is not None]
    if not infos:
        return None
    first, last = infos[0], infos[-1]
    return type(first)(
        filename=first.filename,
        lineno=first.lineno,
        col_offset=first.col_offset,
        end_lineno=last.end_lineno,
        end_col_offset=last.end_col_offset,
    )


def flatten_cursors(value: Any) -> list[Cursor]:
    if isinstance(value, Cursor) and not isinstance(value, _pc.InvalidCursor):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            out.extend(flatten_cursors(v))
        return out
    return []


# --------------------------------------------------------------------------- printing


def proc_text_fast(p: Procedure) -> str:
    """Exo's printer without the yapf pass: same content, cheap, for comparing procs."""
    return "\n".join(_pprint._print_proc(p._loopir_proc, _pprint.PrintEnv(), ""))


# --------------------------------------------------------------------------- structure


@dataclass
class ProcOutline:
    loops: list[str]
    allocs: list[str]
    args: list[str]
    assigned: list[str]  # buffers written by = or +=
    calls: list[str]


def outline(p: Procedure) -> ProcOutline:
    o = ProcOutline([], [], [], [], [])
    lp = p._loopir_proc
    o.args = [str(a.name) for a in lp.args]

    def add(lst, name):
        if name not in lst:
            lst.append(name)

    def walk(stmts):
        for s in stmts:
            if isinstance(s, LoopIR.For):
                add(o.loops, str(s.iter))
                walk(s.body)
            elif isinstance(s, LoopIR.If):
                walk(s.body)
                walk(s.orelse)
            elif isinstance(s, LoopIR.Alloc):
                add(o.allocs, str(s.name))
            elif isinstance(s, (LoopIR.Assign, LoopIR.Reduce)):
                add(o.assigned, str(s.name))
            elif isinstance(s, LoopIR.Call):
                add(o.calls, s.f.name)

    walk(lp.body)
    return o


_SRC_LOC = re.compile(r"(?P<file>[^\s:]+\.py):(?P<line>\d+):(?P<col>\d+)")


def clean_message(message: str, op: str | None) -> str:
    """Exo composes ops and loses their names; put the real one back."""
    text = message.strip()
    if op:
        text = text.replace(_UNKNOWN_DIRECTIVE, op)
    elif text.startswith(_UNKNOWN_DIRECTIVE + ": "):
        text = text[len(_UNKNOWN_DIRECTIVE) + 2 :]
    return text


def locations_in_message(message: str) -> list[tuple[str, int, int]]:
    """``file.py:line:col`` mentions in an Exo message (line 1-based, col in bytes)."""
    return [(m["file"], int(m["line"]), int(m["col"])) for m in _SRC_LOC.finditer(message)]


def is_pattern_miss(exc: BaseException) -> bool:
    return isinstance(exc, SchedulingError) and "failed to find matches" in str(exc)


def count_matches(p: Procedure, pattern: str) -> int:
    """How many nodes `pattern` matches in `p` once its ``#N`` selector is dropped."""
    base = re.sub(r"#\s*\d+\s*$", "", pattern).strip()
    if re.fullmatch(r"[A-Za-z_]\w*", base):
        base = f"for {base} in _: _"
    try:
        return len(p.find(base, many=True))
    except Exception:
        return 0


def pattern_kind(pattern: str) -> tuple[str, str | None]:
    """What a pattern string looks for, and the name it names: ('loop', 'q'), ..."""
    base = re.sub(r"#\s*\d+\s*$", "", pattern).strip()
    if m := re.fullmatch(r"for\s+([A-Za-z_]\w*)\s+in\b.*", base, re.S):
        return "loop", m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)", base):
        return "loop", m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)\s*:.*", base, re.S):
        return "alloc", m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)\s*(\[.*\])?\s*(\+)?=.*", base, re.S):
        return ("reduce" if m[3] else "assign"), m[1]
    if m := re.fullmatch(r"([A-Za-z_]\w*)\s*\(.*\)", base, re.S):
        return "call", m[1]
    if base.startswith("if"):
        return "if", None
    return "other", None
