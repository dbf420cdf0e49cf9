"""Completion while writing a schedule (``write.complete``).

The trace knows the proc at every step, so completion offers what is really there:

* in a pattern string: the statements the parameter takes (loops for ``divide_loop``,
  allocations for ``expand_dim``, loop pairs for ``reorder_loops``, ...), each with the
  pattern that selects it (``#N`` when a pattern matches several) and, as documentation,
  the proc around it with the selection marked (the same snippet as hovers);
* other arguments by parameter: windows for ``stage_mem`` from the accesses in its block,
  memories in scope for ``set_memory``, ``@instr`` procs whose body matches for
  ``replace``, fresh names for ``new_iters``, divisors of a constant bound for
  ``divide_loop``, gap cursors for ``fission``-like ops;
* after ``.`` on a cursor or a proc: the navigation methods, each with what it selects.

The line being typed usually does not parse, so the script's last run that recorded steps
is used (``Tracer.last_good``): the editor's lines are mapped onto the text that ran, and the
proc is the one the call's proc variable held before the cursor's line.
"""

from __future__ import annotations

import ast
import difflib
import re
import time
from dataclasses import dataclass
from typing import Any

from ..exo import cursors as exo_cursors, listings, ops, patterns, procs
from ..exo import completion_support as cs
from ...shared.callsite import CallSite, call_site, literal_value
from ...shared.contract import CompleteParams, CompleteResult, CompletionEntry
from ...shared.lru import LRU
from ...shared.trace import Step
from . import handles
from .resolve import _bind as bind_tracer, kind_phrase, listing, selection_block

# ----------------------------------------------------------------------------- where


@dataclass
class Point:
    """The proc a call at the cursor applies to, and how the run got there."""

    state: Any  # the RunState used
    proc: Any  # the Procedure
    step: Step | None  # the step written on the cursor's line, if it ran
    before: Step | None  # else the step whose output `proc` is (None: the algorithm)
    namespace: dict
    var: str | None  # the proc variable


_SOURCES = LRU(8)  # source text -> (top-level assignment target per line)


def _assigned_names(source: str) -> dict[int, str]:
    """0-based line -> the name a top-level ``name = ...`` statement assigns, for every line
    of the statement."""

    def make():
        out: dict[int, str] = {}
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return source, out
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                for ln in range(node.lineno - 1, (node.end_lineno or node.lineno)):
                    out[ln] = node.targets[0].id
        return source, out

    return _SOURCES.get_or(source, make)[1]


_MAPS = LRU(8)


def map_line(old: str, new: str, line: int) -> tuple[int, bool]:
    """(line in `old`, whether it is the same line) for a 0-based line of `new`; a line the
    edit added maps to just after the old line before it."""
    if old == new:
        return line, True

    def make():
        a, b = old.splitlines(), new.splitlines()
        return (old, new), difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()

    ops = _MAPS.get_or((old, new), make)[1]
    for tag, i1, i2, j1, j2 in ops:
        if j1 <= line < j2:
            if tag == "equal":
                return i1 + line - j1, True
            if tag == "replace" and i2 - i1 == j2 - j1:
                return i1 + line - j1, True  # edited in place
            return i1 - 0.5, False  # type: ignore[return-value]  (between old lines)
    return len(old.splitlines()), False


def _top_steps(state) -> list[Step]:
    return [s for s in state.trace.steps if s.parent is None]


def _root_name(expr: str | None) -> str | None:
    if not expr:
        return None
    m = re.match(r"\s*([A-Za-z_]\w*)", expr)
    return m.group(1) if m else None


def find_point(tracer, path: str, text: str, line: int, var: str | None) -> Point | None:
    bind_tracer(tracer)
    states = []
    for st in (tracer.runs.get(path), tracer.last_good.get(path)):
        if st is not None and st not in states and _top_steps(st):
            states.append(st)
    for state in states:
        old_line, same = map_line(state.source, text, line)
        steps = _top_steps(state)
        if same:
            here = [s for s in steps if s.range.start.line <= old_line <= s.range.end.line and s.proc_in is not None]
            if here:
                s = here[-1]
                p = tracer.registry.get(s.proc_in)
                if p is not None:
                    ns = state.runtime[s.index].frame.f_globals if state.runtime[s.index].frame is not None else state.namespace
                    return Point(state, p, s, None, ns, var)
        assigned = _assigned_names(state.source)
        earlier = [s for s in steps if s.range.end.line < old_line]
        if var is not None:
            mine = [s for s in earlier if assigned.get(s.line) == var]
        else:
            mine = earlier
        for s in reversed(mine):
            if s.ok and s.proc_out is not None:
                p = tracer.registry.get(s.proc_out)
                if p is not None:
                    return Point(state, p, None, s, state.namespace, var)
            break  # the variable's last assignment failed: no proc to offer
        v = state.namespace.get(var) if var else None
        if procs.is_procedure(v) and not mine:
            # not assigned by a step before the line: the proc as defined (an algorithm)
            return Point(state, v, None, None, state.namespace, var)
    return None


def point_where(pt: Point) -> str:
    if pt.step is not None:
        return f"`{pt.step.proc_name}` before step {pt.step.index} (`{pt.step.op}`, line {pt.step.line + 1})"
    if pt.before is not None:
        return f"`{pt.before.proc_name}` after step {pt.before.index} (`{pt.before.op}`, line {pt.before.line + 1})"
    return f"`{procs.proc_name(pt.proc)}` as defined"


# ----------------------------------------------------------------------------- evaluation

NAV_METHODS = {
    "find", "find_loop", "find_alloc_or_arg", "body", "parent", "next", "prev", "before",
    "after", "expand", "as_block", "anchor", "orelse", "forward", "lo", "hi", "rhs", "cond",
    "idx", "args", "shape", "name",
}


def safe_eval(expr: str, env: dict) -> Any:
    """Evaluate a cursor expression (names, navigation calls, subscripts, literals) in
    `env`; anything else (other calls, operators with effects) is refused."""
    tree = ast.parse(expr.strip(), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Attribute) and node.func.attr in NAV_METHODS):
                raise ValueError("only cursor navigation is evaluated")
        elif not isinstance(node, (ast.Expression, ast.Name, ast.Attribute, ast.Constant, ast.Subscript,
                                   ast.Slice, ast.UnaryOp, ast.USub, ast.Load, ast.keyword, ast.Tuple, ast.List)):
            raise ValueError(f"not evaluated: {type(node).__name__}")
    return eval(compile(tree, "<exo-lsp completion>", "eval"), dict(env))


def point_env(pt: Point) -> dict:
    env = dict(pt.namespace)
    if pt.var:
        env[pt.var] = pt.proc
    return env


# ----------------------------------------------------------------------------- ops and params


def op_of(pt: Point, callee: str | None):
    """The scheduling op (or helper, or bound cursor method) a callee names."""
    if not callee:
        return None
    if "." in callee:
        recv, _, meth = callee.rpartition(".")
        try:
            return getattr(safe_eval(recv, point_env(pt)), meth)
        except Exception:
            return None
    f = pt.namespace.get(callee)
    if f is None:
        f = ops.scheduling_op(callee)
    return f if callable(f) else None


def param_of(f, site: CallSite) -> tuple[str | None, str | None]:
    """(parameter name, Exo argument processor class name) of the argument at the cursor."""
    import inspect

    if f is None:
        return None, None
    if hasattr(f, "arg_procs") and hasattr(f, "sig"):
        names = list(f.sig.parameters)
        procs = {n: type(a).__name__ for n, a in zip(names, f.arg_procs)}
    else:
        try:
            names = list(inspect.signature(f).parameters)
        except (TypeError, ValueError):
            return None, None
        procs = {}
    if site.keyword:
        name = site.keyword if site.keyword in names else None
    else:
        name = names[site.arg_index] if site.arg_index < len(names) else None
    return name, procs.get(name)


# which statement kinds a cursor parameter takes, best first
PARAM_KINDS = {
    "ForCursorA": ["loop"],
    "NestedForCursorA": ["pair"],
    "AllocCursorA": ["alloc"],
    "ArgOrAllocCursorA": ["alloc"],
    "BlockCursorA": ["loop", "call", "reduce", "assign", "if", "alloc"],
    "StmtCursorA": ["loop", "if", "assign", "reduce", "call", "alloc"],
    "ForOrIfCursorA": ["loop", "if"],
    "IfCursorA": ["if"],
    "CallCursorA": ["call"],
    "AssignCursorA": ["assign"],
    "AssignOrReduceCursorA": ["assign", "reduce"],
}
METHOD_KINDS = {"find_loop": ["loop"], "find_alloc_or_arg": ["alloc"], "find": PARAM_KINDS["StmtCursorA"]}


def _arg_value(pt: Point, f, site: CallSite, name: str):
    """The value of another argument of the call: resolved by the run when the call ran,
    else evaluated from its text (pattern strings are found in the proc)."""
    if pt.step is not None:
        rt = pt.state.runtime.get(pt.step.index)
        if rt is not None and rt.resolved and name in rt.resolved:
            return rt.resolved[name]
    names = list(getattr(f, "sig", None).parameters) if hasattr(f, "sig") else []
    if name not in names:
        return None
    i = names.index(name)
    if i >= len(site.args):
        return None
    text = site.args[i]
    lit = literal_value(text)
    try:
        if lit is not None:
            return pt.proc.find(lit)
        return safe_eval(text, point_env(pt))
    except Exception:
        return None


# ----------------------------------------------------------------------------- items


def _entry(label, kind, insert, rng, detail="", doc="", sort="", filt="") -> CompletionEntry:
    return CompletionEntry(label=label, kind=kind, insert=insert, range=list(rng), detail=detail, doc=doc,
                           sort=sort, filter=filt or label)


def _doc(pt: Point, cursors: list, head: str = "") -> str:
    body, _ = selection_block(pt.proc, cursors)
    parts = [head] if head else []
    parts.append(f"{point_where(pt)}\n\n```python\n{body}\n```")
    return "\n\n".join(parts)


def _usable(op_name: str, st: cs.Stmt, pt: Point) -> int:
    """0 when the op can use this statement as it is, 1 otherwise (ranked after)."""
    if st.kind == "loop" and op_name in ("divide_loop", "unroll_loop"):
        b = cs.loop_bounds(cs.cursor_of(pt.proc, st))
        if b is None:
            return 1
        n = b[1] - b[0]
        return 0 if (op_name == "unroll_loop" or any(n % d == 0 for d in range(2, n))) else 1
    if st.kind == "loop" and op_name == "remove_loop":
        # a loop can only be removed when its body does not use its iterator
        lst = listing(pt.proc)
        first, last = lst.spans[st.path]
        body = "\n".join(lst.lines[first + 1 : last + 1])
        return 1 if re.search(rf"\b{re.escape(st.name)}\b", body) else 0
    if st.kind == "alloc" and op_name in ("lift_alloc", "autolift_alloc"):
        return 0 if len(st.path) > 1 else 1  # only an allocation inside something can be lifted
    return 0


def pattern_items(pt: Point, kinds: list[str], rng, op_name: str, quoted: bool, shorthand: bool) -> list[CompletionEntry]:
    out = []
    wanted = set(kinds) - {"pair"}
    stmts = cs.statements(pt.proc, wanted, pt.namespace) if wanted else []
    q = '"' if quoted else ""
    for st in stmts:
        pattern = st.pattern
        if shorthand and st.kind in ("loop", "alloc"):
            pattern = st.name + (pattern[pattern.rindex(" #"):] if " #" in pattern else "")
        c = cs.cursor_of(pt.proc, st)
        sort = f"{kinds.index(st.kind)}{_usable(op_name, st, pt)}{st.line:05d}"
        out.append(_entry(pattern, st.kind, f"{q}{pattern}{q}", rng, detail=f"{kind_phrase(c)} · {st.text}",
                          doc=_doc(pt, [c]), sort=sort, filt=f"{q}{pattern}"))
    if "pair" in kinds:
        loops = cs.statements(pt.proc, {"loop"}, pt.namespace)
        by_path = {st.path: st for st in loops}
        for st in loops:
            inner = cs.sole_inner_loop(st.node)
            if inner is None:
                continue
            in_path = st.path + (("body", 0),)
            ist = by_path.get(in_path)
            if ist is None:
                continue
            label = f"{st.name} {ist.name}"
            try:  # Exo's "outer inner" shorthand numbers matches of the nested pattern
                pat = f"for {st.name} in _:\n  for {ist.name} in _: _"
                order = [cs.stmt_key(c) for c in patterns.pattern_matches(pt.proc, pat, pt.namespace)]
            except Exception:
                continue
            key = tuple(tuple(x) for x in st.path)
            if key not in order:
                continue
            if len(order) > 1:
                label += f" #{order.index(key)}"
            c = cs.cursor_of(pt.proc, st)
            out.append(_entry(label, "pair", f"{q}{label}{q}", rng, detail=f"reorder `{st.text}` with `{ist.text}`",
                              doc=_doc(pt, [c, cs.cursor_of(pt.proc, ist)]), sort=f"0{st.line:05d}", filt=f"{q}{label}"))
    return out


def gap_items(pt: Point, rng) -> list[CompletionEntry]:
    """Cursor expressions for the gaps between statements (``p.find_loop("c").after()``)."""
    var = pt.var or "p"
    out = []
    lst = None
    for st in cs.statements(pt.proc, None, pt.namespace):
        lst = lst or listings.proc_listing(pt.proc)
        if st.kind == "loop":
            find = f'{var}.find_loop("{st.name}{st.pattern[st.pattern.rindex(" #"):] if " #" in st.pattern else ""}")'
        else:
            find = f'{var}.find("{st.pattern}")'
        nxt = st.path[:-1] + ((st.path[-1][0], st.path[-1][1] + 1),)
        inside = 0 if len(st.path) > 1 else 1  # fission needs a gap inside a loop or if
        if nxt in lst.nodes:  # between two statements: what fission and friends split at
            c = cs.cursor_of(pt.proc, st).after()
            expr = f"{find}.after()"
            out.append(_entry(expr, "gap", expr, rng, detail=f"gap after `{st.text}`", doc=_doc(pt, [c]),
                              sort=f"{inside}{st.line:05d}"))
        if st.path[-1][1] == 0:  # the start of a body (insert_pass, write_config, ...): ranked last
            c = cs.cursor_of(pt.proc, st).before()
            expr = f"{find}.before()"
            out.append(_entry(expr, "gap", expr, rng, detail=f"gap before `{st.text}` (start of its block)",
                              doc=_doc(pt, [c]), sort=f"2{st.line:05d}"))
    return out


def window_items(pt: Point, f, site: CallSite, rng, quoted: bool) -> list[CompletionEntry]:
    block = _arg_value(pt, f, site, "block_cursor")
    cursors = exo_cursors.flatten_cursors(block)
    if not cursors:
        return []
    out = []
    q = '"' if quoted else ""
    ws = cs.windows(cursors[0])
    ws.sort(key=lambda w: (not w.writes, -w.accesses))
    for i, w in enumerate(ws):
        what = "written and read" if w.writes else "read"
        out.append(_entry(w.text, "window", f"{q}{w.text}{q}", rng,
                          detail=f"{w.buffer}: {w.accesses} access{'es' if w.accesses != 1 else ''} in the block, {what}",
                          doc=_doc(pt, cursors, f"stage `{w.text}` around the block"), sort=f"{i:03d}",
                          filt=f"{q}{w.text}"))
    return out


def memory_items(pt: Point, rng) -> list[CompletionEntry]:
    out = []
    for name, v in sorted(pt.namespace.items()):
        if procs.is_memory_class(v) and not name.startswith("_"):
            doc = (v.__doc__ or "").strip()
            out.append(_entry(name, "memory", name, rng, detail=f"memory {v.__module__}.{v.__qualname__}",
                              doc=doc.split("\n\n", 1)[0] if doc else "", sort=f"0{name}"))
    return out


_REPLACES = LRU(512)


def instr_items(pt: Point, f, site: CallSite, rng) -> list[CompletionEntry]:
    """@instr procs in scope that `replace` accepts for the block (each tried on it)."""
    block = _arg_value(pt, f, site, "block_cursor")
    cursors = exo_cursors.flatten_cursors(block)
    if not cursors:
        return []
    out = []
    key0 = (id(pt.proc), repr(exo_cursors.node_path(cursors[0])))
    for name, v in sorted(pt.namespace.items()):
        if not procs.is_procedure(v) or procs.instr_template(v) is None:
            continue

        def attempt(v=v):
            try:
                f(pt.proc, cursors[0], v)
                return pt.proc, v, True
            except Exception:
                return pt.proc, v, False

        if _REPLACES.get_or(key0 + (id(v),), attempt)[2]:
            out.append(_entry(name, "instr", name, rng, detail=f"@instr: {_short(procs.instr_template(v))}",
                              doc=_doc(pt, cursors, f"`{name}` replaces the selected block"), sort=f"0{name}"))
    return out


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _loop_arg(pt: Point, f, site: CallSite):
    got = exo_cursors.flatten_cursors(_arg_value(pt, f, site, "loop_cursor"))
    return got[0] if got and cs.is_loop(got[0]) else None


def names_items(pt: Point, f, site: CallSite, rng) -> list[CompletionEntry]:
    loop = _loop_arg(pt, f, site)
    if loop is None:
        return []
    base = loop.name()
    used = {n for ns in procs.proc_names(pt.proc).values() for n in ns} | set(pt.namespace)
    out = []
    for k, (a, b) in enumerate([(f"{base}o", f"{base}i"), (f"{base}_out", f"{base}_in"), (f"{base}_hi", f"{base}_lo")]):
        n = 1
        fa, fb = a, b
        while fa in used or fb in used:
            n += 1
            fa, fb = f"{a}{n}", f"{b}{n}"
        text = f'["{fa}", "{fb}"]'
        out.append(_entry(text, "names", text, rng, detail=f"outer and inner loop of `{base}` (unused names)",
                          doc=_doc(pt, [loop], "the loop being divided"), sort=f"{k}"))
    return out


def buffer_name_items(pt: Point, site: CallSite, rng, quoted: bool) -> list[CompletionEntry]:
    """Fresh names for the buffer stage_mem makes, from the staged buffer's name."""
    window = literal_value(site.args[2]) if len(site.args) > 2 else None
    if not window:
        return []
    buf = re.match(r"\s*(\w*)", window).group(1)
    if not buf:
        return []
    used = {n for ns in procs.proc_names(pt.proc).values() for n in ns}
    q = '"' if quoted else ""
    out = []
    for k, base in enumerate((f"{buf}_tile", f"{buf}_local", f"{buf}_stage")):
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}{n}"
        out.append(_entry(name, "names", f"{q}{name}{q}", rng, detail=f"new buffer for `{window}` (unused name)",
                          sort=f"{k}", filt=f"{q}{name}"))
    return out


def divisor_items(pt: Point, f, site: CallSite, rng) -> list[CompletionEntry]:
    loop = _loop_arg(pt, f, site)
    b = cs.loop_bounds(loop) if loop is not None else None
    if b is None:
        return []
    n = b[1] - b[0]
    out = []
    for d in range(2, n):
        if n % d == 0:
            out.append(_entry(str(d), "divisor", str(d), rng, detail=f"{n} = {n // d} × {d}: divides `{loop.name()}` perfectly",
                              doc=_doc(pt, [loop], f"`{loop.name()}` runs {n} times"), sort=f"{abs(d - n // d):04d}"))
    return out


# navigation: method -> how to call it for the preview and what to insert
_NAV = [
    ("body", "body()"), ("parent", "parent()"), ("next", "next()"), ("prev", "prev()"),
    ("before", "before()"), ("after", "after()"), ("expand", "expand()"), ("as_block", "as_block()"),
    ("anchor", "anchor()"), ("orelse", "orelse()"),
]
_PROC_NAV = [("find_loop", 'find_loop("")'), ("find", 'find("")'), ("find_alloc_or_arg", 'find_alloc_or_arg("")'),
             ("body", "body()"), ("args", "args()")]


def member_items(pt: Point, site: CallSite) -> list[CompletionEntry]:
    try:
        recv = safe_eval(site.member_of, point_env(pt))
    except Exception:
        return []
    rng = (site.line, site.word_start, site.character)
    out = []
    if procs.is_procedure(recv):
        for k, (meth, insert) in enumerate(_PROC_NAV):
            out.append(_entry(meth, "method", insert, rng, detail=f"{procs.proc_name(recv)}.{insert}", sort=f"{k:02d}"))
        return out
    if not exo_cursors.is_cursor_value(recv):
        return []
    p = exo_cursors.cursor_proc(recv)
    for k, (meth, call) in enumerate(_NAV):
        m = getattr(recv, meth, None)
        if m is None:
            continue
        try:
            got = m()
        except Exception as exc:  # e.g. next() of the last statement: say why it is absent
            out.append(_entry(meth, "method", call, rng, detail=f"✗ {_short(str(exc), 50)}", sort=f"9{k:02d}"))
            continue
        cursors = exo_cursors.flatten_cursors(got)
        if not cursors:
            continue
        info = exo_cursors.describe_cursor(cursors[0])
        text = info.text.split(": ", 1)[1] if info.kind == "gap" and ": " in info.text else info.text
        body, _ = selection_block(p, cursors)
        out.append(_entry(meth, "method", call, rng, detail=f"→ {kind_phrase(cursors[0])} `{_short(text, 50)}`",
                          doc=f"`.{call}` selects\n\n```python\n{body}\n```", sort=f"0{k:02d}"))
    return out


# ----------------------------------------------------------------------------- handler


def completion_items(tracer, path: str, params: CompleteParams) -> tuple[list[CompletionEntry], Point | None]:
    site = call_site(params.text, params.line, params.character)
    if site.member_of and not site.in_string:
        pt = find_point(tracer, path, params.text, params.line, _root_name(site.member_of))
        return (member_items(pt, site) if pt else []), pt
    if site.callee is None:
        return [], None
    method = site.callee.rpartition(".")[2] if "." in site.callee else None
    var = _root_name(site.callee) if method else _root_name(site.args[0] if site.args else None)
    pt = find_point(tracer, path, params.text, params.line, var)
    if pt is None:
        return [], None
    if site.in_string:
        if site.string_range is None:
            return [], pt
        rng = site.string_range
    else:
        rng = (site.line, site.word_start, site.character)
    if method in METHOD_KINDS:
        if not site.in_string or site.arg_index != 0:
            return [], pt
        return pattern_items(pt, METHOD_KINDS[method], rng, method, False, method != "find"), pt
    f = op_of(pt, site.callee)
    name, proc_kind = param_of(f, site)
    op_name = site.callee
    if proc_kind in PARAM_KINDS:
        return pattern_items(pt, PARAM_KINDS[proc_kind], rng, op_name, not site.in_string, False), pt
    if proc_kind is None and name is not None and site.in_string and site.arg_index > 0:
        # a helper (replace_all, tile_loops, ...): its pattern arguments take any statement
        return pattern_items(pt, PARAM_KINDS["StmtCursorA"], rng, op_name, False, False), pt
    if name == "new_buf_name":
        return buffer_name_items(pt, site, rng, not site.in_string), pt
    if site.in_string:
        if proc_kind == "CustomWindowExprA":
            return window_items(pt, f, site, rng, False), pt
        return [], pt
    if proc_kind == "GapCursorA":
        return gap_items(pt, rng), pt
    if proc_kind == "CustomWindowExprA":
        return window_items(pt, f, site, rng, True), pt
    if proc_kind == "MemoryA":
        return memory_items(pt, rng), pt
    if proc_kind == "ProcA" and name != "proc" and name == "subproc":
        return instr_items(pt, f, site, rng), pt
    if name == "new_iters":
        return names_items(pt, f, site, rng), pt
    if name == "div_const":
        return divisor_items(pt, f, site, rng), pt
    return [], pt


@handles(CompleteParams)
def complete(tracer, path: str, params: CompleteParams) -> CompleteResult:
    t0 = time.perf_counter()
    items, pt = completion_items(tracer, path, params)
    res = CompleteResult(items=items, ms=(time.perf_counter() - t0) * 1000)
    if pt is not None:
        s = pt.step or pt.before
        res.step = s.index if s is not None else None
        res.proc_name = procs.proc_name(pt.proc)
        res.where = point_where(pt)
    return res
