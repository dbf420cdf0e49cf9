"""Proc text, and where each statement went in the proc view and the C code.

The proc view is ``str(proc)`` (Exo's printer, then yapf); the C view is
``proc.c_code_str()``. Neither says where a statement went, so:
 * printed proc: Exo's printer writes one raw line per simple statement and a header
   (plus ``else:``) per compound one; walking the tree in print order numbers the raw
   lines. yapf only re-wraps and re-spaces them, so raw and formatted lines are aligned
   by their non-blank characters.
 * C: ``Compiler.comp_s`` is wrapped while generating, recording the output lines each
   statement emitted. The backend's analyses rebuild the proc and insert ``Free``
   statements, so the compiled tree is mapped back to the proc's tree by skipping frees
   (a free's lines belong to the allocation it frees).
Paths are internal-cursor paths, as tuples: (("body", 0), ("body", 2), ("orelse", 0)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import exo.API as _api
from exo.core import internal_cursors as _ic
from exo.core import LoopIR_pprint as _pprint
from exo.core.LoopIR import LoopIR

from ...shared.lru import LRU

Procedure = _api.Procedure


def proc_text(p: Procedure) -> str:
    """The proc exactly as Exo prints it."""
    return str(p)


def proc_text_fast(p: Procedure) -> str:
    """Exo's printer without the yapf pass: same content, cheap, for comparing procs.
    Kept by LoopIR identity (immutable): each step's output is the next step's input, and
    the tracer compares both to say whether a step changed anything."""
    lp = p._loopir_proc
    hit = _FAST_TEXT.get(id(lp))
    if hit is not None and hit[0] is lp:
        return hit[1]
    text = "\n".join(_pprint._print_proc(lp, _pprint.PrintEnv(), ""))
    _FAST_TEXT.put(id(lp), (lp, text))  # the entry holds lp: its id stays its own
    return text


_FAST_TEXT = LRU(64)


def _one_line(stmt) -> str:
    lines = _pprint._print_stmt(stmt, _pprint.PrintEnv(), "")
    return lines[0].strip() if lines else ""


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


# --------------------------------------------------------------------------- "changed nothing"


def _callees(lp, out: dict[int, Any]) -> dict[int, Any]:
    """Every proc `lp` calls, transitively, by identity."""

    def walk(block):
        for s in block:
            if isinstance(s, LoopIR.Call) and id(s.f) not in out:
                out[id(s.f)] = s.f
                _callees(s.f, out)
            elif isinstance(s, LoopIR.For):
                walk(s.body)
            elif isinstance(s, LoopIR.If):
                walk(s.body)
                walk(s.orelse)

    walk(lp.body)
    return out


def _program_text(lp, callees: dict[int, Any]) -> list[str]:
    texts = []
    for f in sorted(callees.values(), key=lambda f: str(f.name)):
        texts.append("\n".join(_pprint._print_proc(f, _pprint.PrintEnv(), "")))
        texts.append(repr(f.instr.c_instr) if f.instr is not None else "")
    return texts


def same_program(a: Procedure, b: Procedure) -> bool:
    """Whether a step changed nothing the user can see: the proc's text, and the procs it
    calls. call_eqv swaps a callee for an equivalent proc, often of the same name, so the
    printed proc stays equal while the program is not; when the callees' texts are equal
    too but they are other objects, the generated C decides."""
    if a is b or a._loopir_proc is b._loopir_proc:
        return True
    if proc_text_fast(a) != proc_text_fast(b):
        return False
    ca, cb = _callees(a._loopir_proc, {}), _callees(b._loopir_proc, {})
    if ca.keys() == cb.keys():
        return True
    if _program_text(a._loopir_proc, ca) != _program_text(b._loopir_proc, cb):
        return False
    try:
        return a.c_code_str() == b.c_code_str()
    except Exception:  # no C for one of them: the texts were all we could compare
        return True
