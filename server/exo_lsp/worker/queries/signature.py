"""Signature help for scheduling ops and cursor methods (``write.signature``): Exo's own
signature and doc, one line per parameter saying what Exo accepts there (from the op's
argument processors), the active parameter, and what the argument under the cursor
selects now (as the argument's hover says it, when the call ran)."""

from __future__ import annotations

import inspect

from ..exo import cursors, ops, patterns
from ...shared.callsite import call_site
from ...shared.contract import ParameterEntry, SignatureParams, SignatureResult
from . import handles
from .complete import PARAM_KINDS, find_point, op_of, param_of, point_where, _root_name
from .resolve import argument_hover, kind_phrase, selection_block

# what Exo's argument processors accept, in words
_ACCEPTS = {
    "ProcA": "a proc",
    "ForCursorA": 'a loop: a cursor, a pattern string like "for i in _:_", or the name "i"',
    "NestedForCursorA": 'two nested loops: a cursor to the outer one, or "outer inner"',
    "BlockCursorA": "a block of statements: a cursor or a pattern string",
    "GapCursorA": "a gap between statements: a cursor such as p.find_loop(\"i\").after()",
    "AllocCursorA": 'an allocation: a cursor, "x : _", or the name "x"',
    "ArgOrAllocCursorA": "an allocation or an argument: a cursor or its name",
    "ForOrIfCursorA": "a loop or an if: a cursor or a pattern string",
    "IfCursorA": "an if: a cursor or a pattern string",
    "CallCursorA": 'a call: a cursor or a pattern like "f(_)"',
    "AssignCursorA": 'an assignment: a cursor or a pattern like "x = _"',
    "AssignOrReduceCursorA": "an assignment or a reduction: a cursor or a pattern",
    "StmtCursorA": "a statement: a cursor or a pattern string",
    "ExprCursorA": "an expression: a cursor or a pattern string",
    "WindowStmtCursorA": "a window statement: a cursor or a pattern string",
    "CustomWindowExprA": 'a window of a buffer, e.g. "out[4 * io:4 * io + 4, j]"',
    "NewExprA": "an expression, as a string or a number",
    "NameA": "a new name (a string)",
    "PosIntA": "a positive integer",
    "IntA": "an integer",
    "BoolA": "True or False",
    "ListA": "a list",
    "ListOrElemA": "one value or a list of them",
    "MemoryA": "a Memory class (DRAM, ...)",
    "EnumA": "one of a fixed set of values",
    "OptionalA": "a value or None",
    "TypeAbbrevA": "a precision: f32, i8, ...",
    "InstrStrA": "a C template string",
    "ConfigA": "a Config",
    "ConfigFieldA": "a field name of the Config",
}


def _parameters(f) -> tuple[str, list[ParameterEntry]]:
    label = ops.op_signature(f)
    if hasattr(f, "arg_procs") and hasattr(f, "sig"):
        procs = {n: type(a).__name__ for n, a in zip(f.sig.parameters, f.arg_procs)}
        params = list(f.sig.parameters.values())
    else:
        procs = {}
        params = list(inspect.signature(f).parameters.values())
    open_at = label.index("(") + 1
    parts = label[open_at:-1].split(", ") if label[open_at:-1] else []
    out = []
    for prm, text in zip(params, parts):
        out.append(ParameterEntry(label=text, doc=_ACCEPTS.get(procs.get(prm.name, ""), "")))
    return label, out


@handles(SignatureParams)
def signature(tracer, path: str, params: SignatureParams) -> SignatureResult | None:
    site = call_site(params.text, params.line, params.character)
    if site.callee is None:
        return None
    method = "." in site.callee
    var = _root_name(site.callee) if method else _root_name(site.args[0] if site.args else None)
    pt = find_point(tracer, path, params.text, params.line, var)
    f = op_of(pt, site.callee) if pt is not None else ops.scheduling_op(site.callee)
    if f is None or not callable(f):
        return None
    try:
        label, parameters = _parameters(f)
    except (TypeError, ValueError):
        return None
    name, proc_kind = param_of(f, site)
    names = [p.label.split("=", 1)[0].lstrip("*") for p in parameters]
    active = names.index(name) if name in names else None
    selects = ""
    if pt is not None and pt.step is not None and name is not None and pt.step.op == site.callee.rpartition(".")[2]:
        got = argument_hover(pt.state, pt.step, name)
        if got:
            selects = got["markdown"]
    elif pt is not None and site.in_string and site.string_range is not None and proc_kind in PARAM_KINDS:
        selects = _literal_selects(pt, params.text, site, proc_kind)
    return SignatureResult(label=label, doc=ops.op_doc(f), parameters=parameters, active=active, selects=selects)


def _literal_selects(pt, text: str, site, proc_kind: str) -> str:
    """On a line that has not run: what the pattern string under the cursor would select in
    the proc at that point (Exo's own matcher, with the loop/allocation shorthands)."""
    line, start, end = site.string_range
    from ...shared.positions import col_slice

    pattern = col_slice(text.splitlines()[line], start, end)
    if not pattern.strip():
        return ""
    short = {"ForCursorA": "loop", "AllocCursorA": "alloc", "ArgOrAllocCursorA": "alloc"}.get(proc_kind, "")
    full = patterns.expand_shorthand(pattern, short)
    try:
        matches = patterns.pattern_matches(pt.proc, full, pt.namespace)
    except Exception as exc:  # not a pattern yet (half typed): say so rather than guess
        return f"`{pattern}` does not parse as a pattern yet: {type(exc).__name__}"
    if not matches:
        return f"`{pattern}` matches nothing in {point_where(pt)}"
    k = patterns.split_selector(full)[1] or 0
    if k >= len(matches):
        return f"`{pattern}`: only {len(matches)} match(es) in {point_where(pt)}"
    c = matches[k]
    if cursors.cursor_kind(c) == "block" and len(c) == 1:
        c = c[0]  # the matcher returns statements as one-statement blocks; ops take the statement
    body, _ = selection_block(pt.proc, [c])
    return f"**{kind_phrase(c)}** · match #{k} of {len(matches)} — {point_where(pt)}\n\n```python\n{body}\n```"
