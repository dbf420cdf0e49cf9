"""The one module that touches Exo internals. Pinned to exo-lang 1.0.0.

Everything here leans on names that are not Exo's public API: the shared entry point of
scheduling primitives (``AtomicSchedulingOp.__call__``), the ``@proc`` parser, internal
cursors and their paths, ``srcinfo``, the LoopIR printer and StaticMemory's class state,
and for the speed-ups the effect checks' context extraction, the SMT solver factories and
the frontend's use of ``inspect``. ``tests/test_adapter_*.py`` pin each of them, so an Exo
upgrade fails there first.
"""

from __future__ import annotations

import ast
import os
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
from exo.core.prelude import SrcInfo as _SrcInfo
from exo.frontend import pyparser as _pyparser
from exo.frontend.pyparser import Parser
from exo.frontend.pyparser import get_ast_from_python as _get_ast
from exo.core.LoopIR import FreeVars as _LoopIR_FreeVars
from exo.rewrite import LoopIR_unification as _unification

from ...shared.lru import LRU

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


class _OrderedFreeVars(_LoopIR_FreeVars):
    """Exo's unifier walks a set of Syms, which hash by address, so the order of the terms
    in the arguments `replace` builds (``16 * ioo + 4 * ioi`` or ``4 * ioi + 16 * ioo``)
    depends on where objects happen to live. Memoized runs allocate differently from cold
    ones; walk the free variables in a stable order (name, creation) instead."""

    def result(self):
        return sorted(self.fv, key=lambda s: (str(s), s._id))


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


def install_hooks() -> None:
    """Route every primitive and every ``@proc``/``@instr`` through the observer."""
    AtomicSchedulingOp.__call__ = _traced_call
    for mod in (_api, exo):
        mod.proc = _traced_proc
        mod.instr = _traced_instr
    _unification.FreeVars = _OrderedFreeVars
    _pyparser.SrcInfo = _TrackedSrcInfo
    install_lookup_hooks()


def uninstall_hooks() -> None:
    AtomicSchedulingOp.__call__ = _original_call
    _unification.FreeVars = _LoopIR_FreeVars
    _pyparser.SrcInfo = _SrcInfo
    for mod in (_api, exo):
        mod.proc = _original_proc
        mod.instr = _original_instr
    uninstall_lookup_hooks()


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


_SRC_LOC = re.compile(r"(?P<file>[^\s:()@]+\.py):(?P<line>\d+):(?P<col>\d+)")


def clean_message(message: str, op: str | None) -> str:
    """Exo composes ops and loses their names; put the real one back."""
    text = message.strip()
    if op:
        text = text.replace(_UNKNOWN_DIRECTIVE, op)
    elif text.startswith(_UNKNOWN_DIRECTIVE + ": "):
        text = text[len(_UNKNOWN_DIRECTIVE) + 2 :]
    # "<class 'abc.LoopIR.For'> statement (@/long/path/isa.py:106:8)" -> "For statement (isa.py:106:8)";
    # the full locations stay available to locations_in_message on the original message.
    text = re.sub(r"<class '[\w.]*?\.(\w+)'>", r"\1", text)
    text = re.sub(r"\(@[^\s()]*?([^/\s()]+\.py:\d+:\d+)\)", r"(\1)", text)
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


# --------------------------------------------------------------------------- signatures
# What compile & simulate (rvm/harness.py) needs to know about a proc's arguments to
# declare and fill them: kind, element type, shape and memory, as plain values. Shapes
# are size expressions: an int, a size argument's name, or a SizeOp of two of them; any
# other expression is a SizeOpaque. Both keep Exo's printing of the expression for messages.


@dataclass(frozen=True)
class SizeOp:
    op: str  # Exo's binary operator: "+", "-", "*", "/" or "%" in a shape
    lhs: "SizeExpr"
    rhs: "SizeExpr"
    text: str  # as Exo prints it, e.g. "(n + 8) / 4"


@dataclass(frozen=True)
class SizeOpaque:
    text: str  # an expression that is neither a constant, a name nor a binary operation


SizeExpr = int | str | SizeOp | SizeOpaque


@dataclass(frozen=True)
class FnArgInfo:
    name: str
    #: "size"; "scalar" or "tensor" (numeric); "other" (index, bool, stride, ...)
    kind: str
    type_text: str  # the type as Exo prints it: "size", "i8", "f32[n + 1, 4]", "[i32][4]"
    elem_type: str | None  # scalars and tensors: "i32", "i8", "f32", ...
    shape: list[SizeExpr]  # tensors; [] otherwise
    window: bool  # a window argument ``[T][...]``
    mem: str | None  # the memory class's name; None when Exo records none


@dataclass(frozen=True)
class ProcSignature:
    name: str
    args: list[FnArgInfo]


def _size_expr(e) -> SizeExpr:
    if isinstance(e, LoopIR.Const):
        return int(e.val)
    if isinstance(e, LoopIR.Read) and not e.idx:
        return str(e.name)
    if isinstance(e, LoopIR.BinOp):
        return SizeOp(str(e.op), _size_expr(e.lhs), _size_expr(e.rhs), str(e))
    return SizeOpaque(str(e))


def proc_signature(p: Procedure) -> ProcSignature:
    """The name and arguments of `p` (an ``exo.Procedure``, or its LoopIR proc)."""
    from exo.core.LoopIR import T

    lp = getattr(p, "_loopir_proc", p)
    args = []
    for fa in lp.args:
        ty = fa.type
        if ty == T.size:
            kind = "size"
        elif ty in (T.index, T.bool, T.stride) or not ty.is_numeric():
            kind = "other"
        else:
            kind = "scalar" if ty.is_real_scalar() else "tensor"
        numeric = kind in ("scalar", "tensor")
        args.append(
            FnArgInfo(
                name=str(fa.name),
                kind=kind,
                type_text=str(ty),
                elem_type=str(ty.basetype()) if numeric else None,
                shape=[_size_expr(e) for e in ty.shape()] if kind == "tensor" else [],
                window=numeric and ty.is_win(),
                mem=fa.mem.name() if fa.mem is not None else None,
            )
        )
    return ProcSignature(str(lp.name), args)


def proc_label(p: Any) -> str:
    """The name of a proc for a report; "?" when `p` is not one."""
    try:
        return str(p.name())
    except Exception:
        return str(getattr(getattr(p, "_loopir_proc", None), "name", "?"))


# --------------------------------------------------------------------------- views: line maps
# The proc view is ``str(proc)`` (Exo's printer, then yapf); the C view is
# ``proc.c_code_str()``. Neither says where a statement went, so:
#  * printed proc: Exo's printer writes one raw line per simple statement and a header
#    (plus ``else:``) per compound one; walking the tree in print order numbers the raw
#    lines. yapf only re-wraps and re-spaces them, so raw and formatted lines are aligned
#    by their non-blank characters.
#  * C: ``Compiler.comp_s`` is wrapped while generating, recording the output lines each
#    statement emitted. The backend's analyses rebuild the proc and insert ``Free``
#    statements, so the compiled tree is mapped back to the proc's tree by skipping frees
#    (a free's lines belong to the allocation it frees).
# Paths are internal-cursor paths, as tuples: (("body", 0), ("body", 2), ("orelse", 0)).

StmtPath = tuple  # tuple[tuple[str, int], ...]; () is the proc header

_STMT_KIND = {
    "For": "loop",
    "If": "if",
    "Assign": "assign",
    "Reduce": "reduce",
    "Alloc": "alloc",
    "Free": "free",
    "Call": "call",
    "Pass": "pass",
    "WindowStmt": "window",
    "WriteConfig": "config",
}


@dataclass
class PrintedStmt:
    path: StmtPath
    kind: str  # proc (the header: signature, @instr comment, asserts) or a statement kind
    raw: tuple[int, int]  # its own raw lines [start, end): header only for loops and ifs
    raw_extent: tuple[int, int]  # with its body
    raw_else: int | None  # the ``else:`` raw line of an if
    text: str  # first own raw line, stripped
    srcinfo: Any


@dataclass
class ProcPrint:
    raw: list[str]  # Exo's printer output before yapf
    stmts: list[PrintedStmt]  # print order; the header first


def print_proc_map(p: Procedure) -> ProcPrint:
    """Exo's own raw print of `p`, with the raw lines of each statement."""
    lp = p._loopir_proc
    raw = _pprint._print_proc(lp, _pprint.PrintEnv(), "")
    n_head = 1 + (len(lp.instr.c_instr.split("\n")) if lp.instr else 0) + len(lp.preds)
    stmts = [PrintedStmt((), "proc", (0, n_head), (0, len(raw)), None, raw[0].strip(), lp.srcinfo)]

    def walk(block, attr: str, prefix: tuple, line: int) -> int:
        for i, s in enumerate(block):
            path = prefix + ((attr, i),)
            entry = PrintedStmt(path, _STMT_KIND.get(type(s).__name__, type(s).__name__.lower()),
                                (line, line + 1), (line, line + 1), None, raw[line].strip(), s.srcinfo)
            stmts.append(entry)
            line += 1
            if isinstance(s, LoopIR.For):
                line = walk(s.body, "body", path, line)
            elif isinstance(s, LoopIR.If):
                line = walk(s.body, "body", path, line)
                if s.orelse:
                    entry.raw_else = line
                    line = walk(s.orelse, "orelse", path, line + 1)
            entry.raw_extent = (entry.raw[0], line)
        return line

    end = walk(lp.body, "body", (), n_head)
    if end != len(raw):
        raise AssertionError(f"proc printer layout changed: {end} lines counted, {len(raw)} printed")
    return ProcPrint(raw, stmts)


def _squeeze(s: str) -> str:
    return "".join(s.split())


def align_lines(raw: list[str], formatted: list[str]) -> list[tuple[int, int]] | None:
    """For each raw line, the formatted lines [start, end) it became; None if they differ
    by more than line breaks and blanks."""
    out: list[tuple[int, int]] = []
    j = 0
    for r in raw:
        want = _squeeze(r)
        while j < len(formatted) and not formatted[j].strip() and want:
            j += 1
        start, got = j, ""
        while len(got) < len(want) and j < len(formatted):
            got += _squeeze(formatted[j])
            j += 1
        if got != want:
            return None
        out.append((start, max(j, start + 1) if not want else j))
    return out


def proc_text(p: Procedure) -> str:
    """The proc exactly as Exo prints it."""
    return str(p)


def _stmt_nodes(lp) -> dict[StmtPath, Any]:
    out: dict[StmtPath, Any] = {}

    def walk(block, attr, prefix):
        for i, s in enumerate(block):
            path = prefix + ((attr, i),)
            out[path] = s
            if isinstance(s, LoopIR.For):
                walk(s.body, "body", path)
            elif isinstance(s, LoopIR.If):
                walk(s.body, "body", path)
                walk(s.orelse, "orelse", path)

    walk(lp.body, "body", ())
    return out


def stmt_paths(p: Procedure) -> list[StmtPath]:
    """Every statement of `p`, in print order."""
    return list(_stmt_nodes(p._loopir_proc))


def c_code_map(p: Procedure) -> tuple[str, dict[StmtPath, list[tuple[int, int]]]]:
    """``p.c_code_str()`` and, per statement path of `p`, the 0-based C line ranges
    [start, end) it produced (its whole body for loops and ifs; frees add ranges to their
    allocation). The path () holds the function's comment, signature and assumptions."""
    from exo.backend import LoopIR_compiler as _cc

    records: list[tuple[Any, Any, int, int]] = []
    compilers: list[Any] = []
    orig_comp_s = _cc.Compiler.comp_s
    orig_init = _cc.Compiler.__init__

    def comp_s(self, s):
        start = len(self._lines)
        orig_comp_s(self, s)
        records.append((self, s, start, len(self._lines)))

    def init(self, proc, *args, **kwargs):
        compilers.append(self)
        orig_init(self, proc, *args, **kwargs)

    _cc.Compiler.comp_s = comp_s
    _cc.Compiler.__init__ = init
    try:
        text = p.c_code_str()
    finally:
        _cc.Compiler.comp_s = orig_comp_s
        _cc.Compiler.__init__ = orig_init

    name = str(p.name())
    comp = next((c for c in compilers if str(c.proc.name) == name and hasattr(c, "proc_def")), None)
    if comp is None:
        return text, {}
    # line of each emitted element (an instr template may span several lines)
    body = "\n".join(comp._lines)
    head = comp.proc_def[: len(comp.proc_def) - len(body) - len("\n}\n")]
    at = text.find(comp.proc_def)
    if at < 0:
        return text, {}
    first = text.count("\n", 0, at) + head.count("\n")
    elem_line = [first]
    for e in comp._lines:
        elem_line.append(elem_line[-1] + e.count("\n") + 1)

    # compiled statement -> path in p: same trees once frees are skipped
    by_id: dict[int, StmtPath] = {}
    frees: dict[int, StmtPath] = {}

    def match(cblock, oblock, attr, prefix, allocs):
        allocs = dict(allocs)
        it = iter(enumerate(oblock))
        for cs in cblock:
            if isinstance(cs, LoopIR.Free):
                if cs.name in allocs:
                    frees[id(cs)] = allocs[cs.name]
                continue
            i, os_ = next(it, (None, None))
            if os_ is None or type(os_) is not type(cs):
                return
            path = prefix + ((attr, i),)
            by_id[id(cs)] = path
            if isinstance(cs, LoopIR.Alloc):
                allocs[cs.name] = path
            if isinstance(cs, LoopIR.For):
                match(cs.body, os_.body, "body", path, allocs)
            elif isinstance(cs, LoopIR.If):
                match(cs.body, os_.body, "body", path, allocs)
                match(cs.orelse, os_.orelse, "orelse", path, allocs)

    match(comp.proc.body, p._loopir_proc.body, "body", (), {})
    out: dict[StmtPath, list[tuple[int, int]]] = {}
    for c, s, a, b in records:
        if c is not comp or a == b:
            continue
        path = by_id.get(id(s))
        if path is None:
            path = frees.get(id(s))
        if path is None:
            continue
        out.setdefault(path, []).append((elem_line[a], elem_line[b]))
    first_stmt = min((elem_line[a] for c, _, a, b in records if c is comp and b > a), default=elem_line[-1])
    sig_start = text.count("\n", 0, at)
    out[()] = [(sig_start, first_stmt), (elem_line[-1], elem_line[-1] + 1)]  # ... and the closing brace
    for v in out.values():
        v.sort()
    return text, out


def forward_stmt_paths(p_from: Procedure, p_to: Procedure) -> dict[StmtPath, StmtPath] | None:
    """Where each statement of `p_from` is in `p_to` (scheduling keeps a provenance chain);
    statements an op deleted are missing. None when `p_to` does not descend from `p_from`."""
    fwds = []
    q = p_to
    while q is not None and q is not p_from:
        fwds.append(q._forward)
        q = q._provenance_eq_Procedure
    if q is None:
        return None
    lp = p_from._loopir_proc
    out: dict[StmtPath, StmtPath] = {}
    for path in _stmt_nodes(lp):
        ir = _ic.Node(lp, [tuple(x) for x in path])
        try:
            for fn in reversed(fwds):
                ir = fn(ir)
        except Exception:  # InvalidCursorError: the op deleted it
            continue
        if isinstance(ir, _ic.Node):
            out[path] = tuple((a, -1 if i is None else i) for a, i in ir._path)
    return out


# --------------------------------------------------------------------------- resolve: cursor lookups
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


def _report_lookup(name, receiver, args, kwargs, frame, result, exc) -> None:
    obs = _observer
    done = getattr(obs, "lookup_done", None)
    if done is None:
        return
    try:
        done(name, receiver, args, kwargs, frame, result, exc)
    except Exception:  # recording must never change what the script does
        pass


def _lookup_wrapper(name: str, orig):
    import functools

    if name == "find":

        @functools.wraps(orig)
        def find(self, pattern, many=False, call_depth=1):
            frame = sys._getframe(1)
            if _observer is None or frame.f_code.co_filename != getattr(_observer, "path", None):
                return orig(self, pattern, many, call_depth + 1)
            try:
                result = orig(self, pattern, many, call_depth + 1)
            except BaseException as exc:
                _report_lookup(name, self, (pattern,), {"many": many}, frame, None, exc)
                raise
            _report_lookup(name, self, (pattern,), {"many": many}, frame, result, None)
            return result

        return find

    @functools.wraps(orig)
    def method(self, *args, **kwargs):
        frame = sys._getframe(1)
        if _observer is None or frame.f_code.co_filename != getattr(_observer, "path", None):
            return orig(self, *args, **kwargs)
        try:
            result = orig(self, *args, **kwargs)
        except BaseException as exc:
            _report_lookup(name, self, args, kwargs, frame, None, exc)
            raise
        _report_lookup(name, self, args, kwargs, frame, result, None)
        return result

    return method


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


def cursor_proc(c) -> Procedure | None:
    """The proc a cursor (or a proc) points into."""
    if isinstance(c, Procedure):
        return c
    if isinstance(c, Cursor):
        return c._proc
    return None


def is_cursor_value(value: Any) -> bool:
    return bool(flatten_cursors(value))


# --------------------------------------------------------------------------- resolve: listings
# A proc printed the way Exo prints it (Exo's statement and expression printers, one
# name environment), four-space indented and without yapf, recording which lines each
# statement occupies, keyed by its internal-cursor path.


@dataclass
class ProcListing:
    lines: list[str]
    spans: dict[tuple, tuple[int, int]]  # statement path -> (first line, last line), 0-based
    nodes: dict[tuple, Any]  # statement path -> LoopIR stmt


_INDENT = "    "


def proc_listing(p: Procedure) -> ProcListing:
    lp = p._loopir_proc
    env = _pprint.PrintEnv()
    args = [_pprint._print_fnarg(a, env) for a in lp.args]
    lines = [f"def {lp.name}({', '.join(args)}):"]
    spans: dict[tuple, tuple[int, int]] = {}
    nodes: dict[tuple, Any] = {}
    if lp.instr:
        for i, text in enumerate(lp.instr.c_instr.split("\n")):
            lines.append(f"{_INDENT}# {'@instr ' if i == 0 else '       '}{text}")
    for pred in lp.preds:
        lines.append(f"{_INDENT}assert {_pprint._print_expr(pred, env)}")

    def block(stmts, env, path, attr, indent):
        for i, s in enumerate(stmts):
            sp = path + ((attr, i),)
            start = len(lines)
            if isinstance(s, LoopIR.For):
                lo = _pprint._print_expr(s.lo, env)
                hi = _pprint._print_expr(s.hi, env)
                body_env = env.push()
                mode = "par" if isinstance(s.loop_mode, LoopIR.Par) else "seq"
                lines.append(f"{indent}for {body_env.get_name(s.iter)} in {mode}({lo}, {hi}):")
                block(s.body, body_env, sp, "body", indent + _INDENT)
            elif isinstance(s, LoopIR.If):
                lines.append(f"{indent}if {_pprint._print_expr(s.cond, env)}:")
                block(s.body, env.push(), sp, "body", indent + _INDENT)
                if s.orelse:
                    lines.append(f"{indent}else:")
                    block(s.orelse, env.push(), sp, "orelse", indent + _INDENT)
            else:
                lines.extend(_pprint._print_stmt(s, env, indent))
            spans[sp] = (start, len(lines) - 1)
            nodes[sp] = s

    block(lp.body, env, (), "body", _INDENT)
    return ProcListing(lines, spans, nodes)


def _tuple_path(path) -> tuple:
    return tuple((a, i) for a, i in path)


@dataclass
class Selection:
    """Where a cursor sits in a listing."""

    marks: list[tuple[int, str]]  # (line, label) to mark
    gap: tuple[int, str] | None  # (insert before this line, indentation) for gap cursors
    first: int
    last: int  # lines the selection covers (for a compound statement: its whole body)
    headers: list[int]  # header lines of the statements around it


def _ancestors(listing: ProcListing, path: tuple) -> list[int]:
    out = []
    for k in range(1, len(path)):
        span = listing.spans.get(path[:k])
        if span is not None:
            out.append(span[0])
    return out


def _indent_of(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def locate(listing: ProcListing, c: Cursor) -> Selection | None:
    impl = c._impl
    if isinstance(impl, _ic.Gap):
        path = _tuple_path(impl._anchor._path)
        span = listing.spans.get(path)
        if span is None:
            return None
        before = impl._type.name.lower() == "before"
        at = span[0] if before else span[1] + 1
        indent = _indent_of(listing.lines[span[0]])
        return Selection([], (at, indent), span[0], span[1], _ancestors(listing, path))
    if isinstance(impl, _ic.Block):
        base = _tuple_path(impl._anchor._path)
        paths = [base + ((impl._attr, i),) for i in impl._range]
        spans = [listing.spans[p] for p in paths if p in listing.spans]
        if not spans:
            return None
        marks = [(s[0], "selected") for s in spans]
        return Selection(marks, None, spans[0][0], spans[-1][1], _ancestors(listing, paths[0]))
    if isinstance(impl, _ic.Node):
        path = _tuple_path(impl._path)
        if not path:  # the proc itself, or an argument
            return Selection([(0, "selected")], None, 0, 0, [])
        if path[0][0] == "args":
            return Selection([(0, f"argument {c.name()}")], None, 0, 0, [])
        k = len(path)
        while k > 0 and path[:k] not in listing.spans:
            k -= 1
        if k == 0:
            return None
        span = listing.spans[path[:k]]
        if k == len(path):
            return Selection([(span[0], "selected")], None, span[0], span[1], _ancestors(listing, path))
        expr = _pprint._print_expr(impl._node, _pprint.PrintEnv()) if isinstance(impl._node, LoopIR.expr) else ""
        label = f"selected: {expr}" if expr else "selected"
        return Selection([(span[0], label)], None, span[0], span[0], _ancestors(listing, path[:k]))
    return None


MARK = "# ◀"


def snippet(listing: ProcListing, sel: Selection, context: int = 2, body_lines: int = 3, max_lines: int = 30) -> str:
    """The listing around a selection, with marked lines and ``...`` for what is left out."""
    n = len(listing.lines)
    keep = {0, *sel.headers}
    last = min(sel.last, sel.first + body_lines) if sel.gap is None else sel.last
    lo = max(0, sel.first - context)
    hi = min(n - 1, last + context)
    if sel.gap is not None:
        lo = max(0, min(lo, sel.gap[0] - context))
        hi = min(n - 1, max(hi, sel.gap[0] + context - 1))
    keep.update(range(lo, hi + 1))
    for line, _ in sel.marks:
        keep.add(line)
    marks = {}
    for line, label in sel.marks:
        marks.setdefault(line, label)
    out: list[str] = []
    prev = -1
    for i in sorted(k for k in keep if 0 <= k < n):
        if i > prev + 1:
            out.append(f"{_indent_of(listing.lines[i])}...")
        if sel.gap is not None and i == sel.gap[0]:
            out.append(f"{sel.gap[1]}{MARK} gap")
        text = listing.lines[i]
        out.append(f"{text}  {MARK} {marks[i]}" if i in marks else text)
        prev = i
    if sel.gap is not None and sel.gap[0] >= n:
        out.append(f"{sel.gap[1]}{MARK} gap")
    if prev < n - 1:
        out.append(f"{_INDENT}...")
    if len(out) > max_lines:
        out = out[: max_lines - 1] + [f"{_INDENT}..."]
    return "\n".join(out)


# --------------------------------------------------------------------------- resolve: patterns


def split_selector(pattern: str) -> tuple[str, int | None]:
    """``"for i in _:_ #1"`` -> (``"for i in _:_"``, 1), as Exo's matcher splits it."""
    m = re.search(r"^([^#]+)#(\d+)\s*$", pattern)
    if m:
        return m[1], int(m[2])
    return pattern, None


def expand_shorthand(pattern: str, kind: str) -> str:
    """Exo's shorthand for loops (``"i"``, ``"i #1"``) and allocations (``"x"``)."""
    m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(#\s*\d+)?\s*", pattern)
    if not m:
        return pattern
    sel = f" #{m[2][1:].strip()}" if m[2] else ""
    if kind == "loop":
        return f"for {m[1]} in _: _{sel}"
    if kind == "alloc":
        return f"{m[1]} : _{sel}"
    return pattern


def pattern_matches(p: Procedure, pattern: str, namespace: dict | None = None) -> list:
    """Every match of a pattern (its ``#N`` dropped) in `p`, in Exo's order, as cursors."""
    from exo.frontend import pyparser
    from exo.frontend.pattern_match import PatternMatch

    base, _ = split_selector(pattern)
    ns = namespace or {}
    p_ast = pyparser.pattern(base, filename="<pattern>", lineno=0, srclocals=ChainMap({}), srcglobals=ChainMap(ns))
    found = PatternMatch().find(p._root(), p_ast, match_no=None)
    return [_pc.lift_cursor(c, p) for c in found]


# --------------------------------------------------------------------------- resolve: ops


def op_signature(f) -> str:
    """``divide_loop(proc, loop_cursor, div_const, new_iters, tail='guard', perfect=False)``."""
    import inspect

    if isinstance(f, AtomicSchedulingOp):
        sig, name = f.sig, op_name(f)
    else:
        sig, name = inspect.signature(f), f.__name__
    params = []
    for prm in sig.parameters.values():
        text = prm.name
        if prm.kind is prm.VAR_POSITIONAL:
            text = "*" + text
        elif prm.kind is prm.VAR_KEYWORD:
            text = "**" + text
        if prm.default is not prm.empty:
            text += f"={prm.default!r}"
        params.append(text)
    return f"{name}({', '.join(params)})"


def op_doc(f) -> str:
    """The first paragraph of an op's docstring (Exo's own words), unwrapped."""
    import inspect

    doc = inspect.getdoc(f.func if isinstance(f, AtomicSchedulingOp) else f) or ""
    paragraph = []
    for line in doc.strip().splitlines():
        if not line.strip():
            if paragraph:
                break
            continue
        if re.match(r"^\s*(args|returns|rewrite)\s*:", line, re.I):
            break
        paragraph.append(line.strip())
    return " ".join(paragraph)


def scheduling_op(name: str):
    f = getattr(_sched, name, None)
    return f if isinstance(f, AtomicSchedulingOp) else None


@dataclass
class Created:
    kind: str  # loop, alloc, call, load, store
    text: str
    line: int  # 0-based line in the listing of the proc after
    srcinfo: Any


def _stmt_names(s) -> tuple[set[str], set[str]]:
    """(buffers written, buffers read) by a simple statement."""
    written, read = set(), set()

    def reads(e):
        if isinstance(e, (LoopIR.Read, LoopIR.WindowExpr)):
            read.add(str(e.name))
        for attr in ("idx", "args"):
            for sub in getattr(e, attr, []) or []:
                if isinstance(sub, LoopIR.expr):
                    reads(sub)
        for attr in ("lhs", "rhs", "arg"):
            sub = getattr(e, attr, None)
            if isinstance(sub, LoopIR.expr):
                reads(sub)

    # a data move copies a value or a constant; a reduction or arithmetic is compute
    if isinstance(s, LoopIR.Assign) and isinstance(s.rhs, (LoopIR.Read, LoopIR.Const, LoopIR.WindowExpr)):
        written.add(str(s.name))
        reads(s.rhs)
    return written, read


def created_nodes(before: Procedure, after: Procedure, after_listing: ProcListing | None = None) -> list[Created]:
    """What a step added: loops, allocations, instruction calls, and the load/store
    statements or loop nests that move data in and out of a new buffer."""
    la = after_listing or proc_listing(after)
    lb = proc_listing(before)
    old: dict[str, int] = {}
    for path, s in lb.nodes.items():
        k = _created_key(lb, path, s)
        if k:
            old[k] = old.get(k, 0) + 1
    new_allocs = set()
    found: list[tuple[Created, Any, tuple]] = []
    for path in sorted(la.nodes, key=lambda p: la.spans[p][0]):
        s = la.nodes[path]
        k = _created_key(la, path, s)
        if not k:
            continue
        if old.get(k, 0) > 0:
            old[k] -= 1
            continue
        kind = k.split(":", 1)[0]
        line = la.spans[path][0]
        if kind == "alloc":
            new_allocs.add(str(s.name))
        found.append((Created(kind, la.lines[line].strip(), line, s.srcinfo), s, path))
    out = []
    inside_new_loop: list[tuple[int, int]] = []
    for c, s, path in found:
        if c.kind in ("loop", "assign") and new_allocs:
            inner = s
            while isinstance(inner, LoopIR.For) and len(inner.body) == 1:
                inner = inner.body[0]
            w, r = _stmt_names(inner)
            if w & new_allocs and not (r & new_allocs):
                c.kind = "load" if r else "init"
            elif r & new_allocs and not (w & new_allocs):
                c.kind = "store"
        if any(a <= c.line <= b for a, b in inside_new_loop):
            continue  # already told by the loop nest around it
        if c.kind == "assign":
            continue
        if isinstance(s, LoopIR.For) and c.kind in ("load", "store", "init"):
            span = la.spans[path]
            inside_new_loop.append((span[0] + 1, span[1]))
        out.append(c)
    return out


def _created_key(listing: ProcListing, path: tuple, s) -> str | None:
    text = listing.lines[listing.spans[path][0]].strip()
    if isinstance(s, LoopIR.For):
        return f"loop:{text}"
    if isinstance(s, LoopIR.Alloc):
        return f"alloc:{s.name}"
    if isinstance(s, LoopIR.Call):
        return f"call:{text}"
    if isinstance(s, (LoopIR.Assign, LoopIR.Reduce)):
        return f"assign:{text}"
    return None


# --------------------------------------------------------------------------- code actions: nodes
# The action finder (action_queries.py) walks procs through Exo's public cursors; these
# helpers give it what the public API lacks: a hashable identity for a node, a cursor
# rebuilt from a recorded path, one-line printing, and the statements that an algorithm
# source line became after scheduling (via srcinfo).


def cursor_is(c: Any, *class_names: str) -> bool:
    """Whether `c` is one of Exo's public cursor classes, named: "ForCursor", "InvalidCursor", ..."""
    return isinstance(c, tuple(getattr(_pc, n) for n in class_names))


def node_path(c: Cursor) -> tuple:
    """Hashable identity of a cursor's node in its proc: its internal path as tuples."""
    return tuple(tuple(x) for x in _path_of(c._impl))


def cursor_at_path(p: Procedure, path) -> Cursor:
    """The node of `p` at a node path (``[[attr, index], ...]``, index -1 for none)."""
    steps = [(str(a), None if i is None or i == -1 else int(i)) for a, i, *_ in path]
    return _pc.lift_cursor(_ic.Node(p._loopir_proc, steps), p)


def node_text(c: Cursor) -> str:
    """One line for a statement (the header of a loop or an if), or an expression."""
    node = c._impl._node
    if isinstance(node, LoopIR.stmt):
        return _one_line(node)
    return _pprint._print_expr(node, _pprint.PrintEnv())


def stmts_from_line(p: Procedure, filename: str, line: int) -> list[Cursor]:
    """Statements of `p` (pre-order) whose srcinfo starts at 1-based `line` of `filename`."""
    import os

    want = os.path.abspath(filename)
    out: list[Cursor] = []
    for path, s in _stmt_nodes(p._loopir_proc).items():
        si = s.srcinfo
        if si is not None and si.lineno == line and si.filename and os.path.abspath(si.filename) == want:
            out.append(cursor_at_path(p, path))
    return out


def source_lines(p: Procedure) -> tuple[str, int, int] | None:
    """(file, first, last) 1-based source lines the statements of `p` come from."""
    si = p._loopir_proc.srcinfo
    if si is None or not si.filename:
        return None
    last = si.lineno
    for s in _stmt_nodes(p._loopir_proc).values():
        if s.srcinfo is not None and s.srcinfo.filename == si.filename:
            last = max(last, s.srcinfo.end_lineno or s.srcinfo.lineno)
    return si.filename, si.lineno, last


def proc_names(p: Procedure) -> dict[str, list[str]]:
    """Names a pattern string can mention: loops, buffers (args and allocations), size
    and index arguments, and called procs."""
    from exo.core.LoopIR import T

    o = outline(p)
    lp = p._loopir_proc
    sizes = [str(a.name) for a in lp.args if a.type in (T.size, T.index)]
    buffers = [a for a in o.args if a not in sizes] + [a for a in o.allocs if a not in o.args]
    return {
        "loops": [str(x) for x in o.loops],
        "buffers": [str(x) for x in buffers],
        "sizes": sizes,
        "procs": [str(x) for x in o.calls],
    }


# --------------------------------------------------------------------------- speed-ups
# Every scheduling op a script or a code action runs pays for Exo's checks. Three costs in
# them do not depend on the input and are cut here, each leaving results unchanged
# (tests/test_adapter_speedups.py compares traces and action outcomes with them off):
#
# * SMT solver lookup: Exo builds a pysmt Factory for every check just to pick the solver's
#   name, re-trying the import of every backend pysmt knows (~40 ms a check). Looked up
#   once per module and logic; a fresh solver is still handed out each time, one that reads
#   integer model values from z3 directly (unification reads hundreds). The effect checks
#   query z3 themselves and only push and pop their pysmt solver: they get a stand-in.
# * Context extraction: a check about statements S of proc P builds P's control predicate
#   and pre-environment at S from scratch, and stage_mem's guard checks ask for the same
#   (P, S) up to eight times an op (``Check_ExprEqvInContext`` builds it twice per call).
#   The results are pure functions of the immutable LoopIR nodes: memoised by identity,
#   keeping the nodes alive so the identities stay theirs. The fresh names they bind
#   (copies of loop iterators and variables) are bound inside the formula, so reusing one
#   formula twice in a query means the same as two renamed copies. For the same reason the
#   solver that assumes a context is kept for the next equivalence check in it.
# * ``inspect.stack()``: pattern matching and fragment parsing take the caller's frame
#   from it, and it reads the source of every frame on the stack (a deep one inside the
#   worker). The shim lists frames without reading sources; Exo only uses their frames,
#   and takes file and line from ``inspect.getframeinfo`` of the one it picks.

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


def install_speedups() -> None:
    install_solver_cache()
    install_context_memo()
    install_stack_shim()


def uninstall_speedups() -> None:
    """Exo as it comes (benchmarks' baselines, equivalence tests)."""
    uninstall_solver_cache()
    uninstall_context_memo()
    uninstall_stack_shim()
