"""A proc listing for hovers and lookups: the proc printed the way Exo prints it (Exo's
statement and expression printers, one name environment), four-space indented and without
yapf, recording which lines each statement occupies, keyed by its internal-cursor path;
where a cursor sits in it, and a snippet around that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import exo.API as _api
import exo.API_cursors as _pc
from exo.core import internal_cursors as _ic
from exo.core import LoopIR_pprint as _pprint
from exo.core.LoopIR import LoopIR

Procedure = _api.Procedure
Cursor = _pc.Cursor


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
