"""Code actions, worker side: the transforms that really apply at a place.

A *place* is a node of the proc after some step: what a pattern/cursor argument of that
step selected (forwarded through the step), the statements an algorithm source line became
at the end of the schedule, a statement of the proc view, or the whole proc. For each node
we enumerate candidate scheduling calls by its kind, written as the one line the user would
type (``reorder_loops(p, "ii jo")``), and *validate each by evaluating exactly that text*
on the in-memory proc in the script's namespace: only calls that run and change the proc
are offered, and the proc they produced is the preview.

Validation is the cost (Exo's effect checks run an SMT solver), so:
  * structural filters drop what cannot apply before Exo is asked (no perfect nest, bound not
    divisible, instruction body of another shape, ...);
  * nothing is printed or compiled while validating (procs are compared with the raw printer);
  * cheap calls are validated before the ones that run effect checks, within a time budget;
    the rest is reported as pending and finished by a follow-up query;
  * outcomes are cached by (proc, call text): a proc the memo keeps across runs is never
    re-validated, and a preview reuses the validated result.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import msgspec
from exo import DRAM

from ..exo import printing, procs
from ..exo.cursors import cursor_at_path, cursor_is, flatten_cursors, node_path, node_text, source_lines, stmts_from_line
from . import views as view_queries
from ...shared.lru import LRU
from . import query

# --------------------------------------------------------------------------- results


class ActionInfo(msgspec.Struct):
    key: str  # identifies the validated outcome (preview) in the worker
    title: str
    kind: str  # LSP CodeActionKind
    group: str
    call: str  # the call expression to insert, e.g. reorder_loops(p, "ii jo")
    rank: int
    ms: float  # time its validation took (0 when cached)
    note: str = ""


class ActionList(msgspec.Struct):
    step: int | None  # the step the line goes after
    handle: int | None  # the proc the actions apply to
    var: str
    actions: list[ActionInfo]
    candidates: int  # enumerated (after the structural filters)
    validated: int  # answered in this call (cached or applied)
    pending: int  # not validated within the budget
    nodes: list[str]  # one line per node the actions are about
    ms: float


class Preview(msgspec.Struct):
    title: str
    call: str
    proc: str
    before: str
    after: str
    diff: str


# --------------------------------------------------------------------------- candidates

# Ranks: most useful first; the kind groups them in the client's menu.
RANKS = {
    "replace": 0,
    "memory_fix": 1,
    "divide": 2,
    "reorder": 3,
    "stage_mem": 4,
    "fission": 5,
    "lift_alloc": 6,
    "expand_dim": 6,
    "sink_alloc": 6,
    "set_memory": 7,
    "lift_scope": 8,
    "fuse": 8,
    "cut_loop": 8,
    "unroll": 9,
    "divide_tail": 10,
    "bind_expr": 11,
    "delete_buffer": 12,
    "parallelize": 13,
    "simplify": 14,
}
KINDS = {
    "replace": "instr",
    "memory_fix": "instr",
    "divide": "loop",
    "reorder": "loop",
    "fission": "loop",
    "lift_scope": "loop",
    "fuse": "loop",
    "cut_loop": "loop",
    "unroll": "loop",
    "divide_tail": "loop",
    "parallelize": "loop",
    "stage_mem": "stage",
    "bind_expr": "stage",
    "lift_alloc": "buffer",
    "expand_dim": "buffer",
    "sink_alloc": "buffer",
    "set_memory": "buffer",
    "delete_buffer": "buffer",
    "simplify": "simplify",
}
KIND_ORDER = {"instr": 0, "loop": 1, "stage": 2, "buffer": 3, "simplify": 4}
# Calls whose validation runs Exo's effect analysis (tens to hundreds of ms): validated last.
# Cost classes: 0 = no effect check (a few ms); higher = validated later (stage_mem checks
# every access of the window: hundreds of ms).
COST = {"cut_loop": 1, "reorder": 2, "fission": 2, "lift_scope": 2, "fuse": 2, "sink_alloc": 2, "bind_expr": 2,
        "delete_buffer": 2, "expand_dim": 3, "stage_mem": 4}

KIND_PREFIX = "refactor.rewrite.exo"

# What one validation of a group costs, ms: a running average seeded by the cost class. A
# candidate is left to the background when it would not end within the request's budget.
_SEED_MS = {0: 10.0, 1: 80.0, 2: 150.0, 3: 250.0, 4: 500.0}
_cost_ms: dict[str, float] = {}


def expected_ms(group: str) -> float:
    return _cost_ms.get(group, _SEED_MS[COST.get(group, 0)])


def _observe(group: str, ms: float) -> None:
    old = _cost_ms.get(group)
    _cost_ms[group] = ms if old is None else 0.7 * old + 0.3 * ms


@dataclass
class Candidate:
    group: str
    title: str
    call: str
    check: Callable[[Any], str | None] | None = None  # extra test of the result: None = fine
    note: str = ""
    on_mismatch: Callable[[Any, str], list["Candidate"]] | None = None  # replace: memory fixes
    after: list[str] = field(default_factory=list)  # memory fixes: calls that must follow
    precheck: Callable[[Any], Any] | None = None  # a quiet, cheap way to fail first
    fixes_buffer: str | None = None  # memory fixes: the buffer moved
    path: tuple | None = None  # replace: the block's path
    enables: list[str] = field(default_factory=list)  # memory fixes: "instr at `stmt`"
    memory: Any = None  # memory fixes: the memory class the buffer moves to
    requires: str | None = None  # a call that fails whenever this one's first part fails

    @property
    def rank(self) -> int:
        return RANKS[self.group]

    @property
    def cost(self) -> int:
        return COST.get(self.group, 0)


@dataclass
class Outcome:
    ok: bool
    result: Any  # the proc the call produced (ok or not, when it ran)
    error: str | None
    ms: float


CACHE = LRU(2000)  # (proc handle, var, call, calls after) -> its validated Outcome
RESULTS = LRU(500)  # (proc handle, var, call) -> the proc the call produced, for previews


# --------------------------------------------------------------------------- patterns


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stmt_pattern(c) -> str | None:
    """A pattern string in the style of schedules for one statement (without ``#N``)."""
    if _is(c, "ForCursor"):
        return f"for {c.name()} in _:_"
    if _is(c, "IfCursor"):
        return "if _:_"
    if _is(c, "AllocCursor"):
        return f"{c.name()} : _"
    if cursor_is(c, "AssignCursor", "ReduceCursor"):
        op = "+=" if _is(c, "ReduceCursor") else "="
        return f"{c.name()}[_] {op} _" if len(c.idx()) else f"{c.name()} {op} _"
    if _is(c, "CallCursor"):
        return f"{c.subproc().name()}(_)"
    if _is(c, "PassCursor"):
        return "pass"
    return None


class Namer:
    """Pattern strings that select exactly one node, checked against the proc."""

    def __init__(self, p) -> None:
        self.p = p
        self._matches: dict[str, list[tuple]] = {}

    def matches(self, pattern: str) -> list[tuple]:
        got = self._matches.get(pattern)
        if got is None:
            try:
                found = self.p.find(pattern, many=True)
                got = [node_path(c) for c in found]
            except Exception:
                got = []
            self._matches[pattern] = got
        return got

    def select(self, base: str | None, c) -> str | None:
        if base is None:
            return None
        found = self.matches(base)
        want = node_path(c)
        if want not in found:
            return None
        return base if len(found) == 1 else f"{base} #{found.index(want)}"

    def stmt(self, c) -> str | None:
        return self.select(stmt_pattern(c), c)

    def nest(self, outer, inner) -> str | None:
        """``"x y"`` (or ``"x y #N"``) for a loop and the loop that is its whole body."""
        base = f"for {outer.name()} in _:\n  for {inner.name()} in _: _"
        found = self.matches(base)
        want = node_path(outer)
        if want not in found:
            return None
        short = f"{outer.name()} {inner.name()}"
        return short if len(found) == 1 else f"{short} #{found.index(want)}"

    def names(self) -> set[str]:
        o = procs.outline(self.p)
        return set(o.loops) | set(o.allocs) | set(o.args)

    def fresh(self, *wanted: str) -> list[str]:
        taken = self.names()
        out = []
        for w in wanted:
            name, k = w, 1
            while name in taken or name in out:
                name = f"{w}{k}"
                k += 1
            out.append(name)
        return out


# --------------------------------------------------------------------------- structure helpers


def _is(c, cls_name: str) -> bool:
    return cursor_is(c, cls_name)


def _const(e) -> int | None:
    if _is(e, "LiteralCursor") and isinstance(e.value(), int) and not isinstance(e.value(), bool):
        return e.value()
    return None


def _trip(loop) -> int | None:
    lo, hi = _const(loop.lo()), _const(loop.hi())
    return None if lo is None or hi is None else hi - lo


def _parent_stmt(c):
    par = c.parent()
    if par is None or _is(par, "InvalidCursor"):
        return None
    return par if (_is(par, "ForCursor") or _is(par, "IfCursor")) else None


def _siblings_after(c):
    try:
        n = c.next()
    except Exception:
        return None
    return None if _is(n, "InvalidCursor") else n


def _siblings_before(c):
    try:
        n = c.prev()
    except Exception:
        return None
    return None if _is(n, "InvalidCursor") else n


def _walk(stmts):
    for s in stmts:
        yield s
        if _is(s, "ForCursor"):
            yield from _walk(s.body())
        elif _is(s, "IfCursor"):
            yield from _walk(s.body())
            orelse = s.orelse()
            if not _is(orelse, "InvalidCursor"):
                yield from _walk(orelse)


def _exprs(e):
    yield e
    if _is(e, "BinaryOpCursor"):
        yield from _exprs(e.lhs())
        yield from _exprs(e.rhs())
    elif _is(e, "UnaryMinusCursor"):
        yield from _exprs(e.arg())
    elif _is(e, "ReadCursor"):
        for i in e.idx():
            yield from _exprs(i)
    elif _is(e, "ExternFunctionCursor"):
        for a in e.args():
            yield from _exprs(a)


def _accesses(stmts):
    """(buffer name, [index expr cursors]) of every tensor read and write in `stmts`."""
    for s in _walk(stmts):
        roots = []
        if _is(s, "AssignCursor") or _is(s, "ReduceCursor"):
            if len(s.idx()):
                yield s.name(), list(s.idx())
            roots = [s.rhs(), *s.idx()]
        elif _is(s, "IfCursor"):
            roots = [s.cond()]
        for r in roots:
            for e in _exprs(r):
                if _is(e, "ReadCursor") and len(e.idx()):
                    yield e.name(), list(e.idx())


def _affine(e, inner: dict[str, tuple[int, int]]):
    """e as (const, {var: coeff}); None when not affine. `inner` are loop ranges [lo, hi]."""
    if (v := _const(e)) is not None:
        return v, {}
    if _is(e, "ReadCursor") and not len(e.idx()):
        return 0, {e.name(): 1}
    if _is(e, "UnaryMinusCursor"):
        a = _affine(e.arg(), inner)
        return None if a is None else (-a[0], {k: -v for k, v in a[1].items()})
    if _is(e, "BinaryOpCursor") and e.op() in ("+", "-", "*"):
        a, b = _affine(e.lhs(), inner), _affine(e.rhs(), inner)
        if a is None or b is None:
            return None
        if e.op() == "*":
            if not a[1]:
                a, b = b, a
            if b[1]:
                return None
            k = b[0]
            return a[0] * k, {v: c * k for v, c in a[1].items()}
        sign = 1 if e.op() == "+" else -1
        terms = dict(a[1])
        for v, c in b[1].items():
            terms[v] = terms.get(v, 0) + sign * c
        return a[0] + sign * b[0], {v: c for v, c in terms.items() if c}
    return None


def _render(const: int, terms: dict[str, int]) -> str:
    parts = []
    for v, c in terms.items():
        parts.append(v if c == 1 else f"{c} * {v}")
    if const or not parts:
        parts.append(str(const))
    text = " + ".join(parts)
    return text.replace("+ -", "- ")


def stage_windows(stmts, inner: dict[str, tuple[int, int]]) -> dict[str, str]:
    """For each buffer accessed in `stmts`, the window covering every access, as text:
    loops bound inside the block span their range, everything else stays symbolic."""
    per_buf: dict[str, list | None] = {}
    for name, idx in _accesses(stmts):
        if name in per_buf and per_buf[name] is None:
            continue
        dims = []
        for i in idx:
            a = _affine(i, inner)
            if a is None:
                dims = None
                break
            lo, hi, sym = a[0], a[0], {}
            for v, c in a[1].items():
                if v in inner:
                    vlo, vhi = inner[v]
                    lo += min(c * vlo, c * vhi)
                    hi += max(c * vlo, c * vhi)
                else:
                    sym[v] = c
            dims.append((lo, hi, sym))
        if dims is None:
            per_buf[name] = None
            continue
        prev = per_buf.get(name)
        if prev is None:
            per_buf[name] = dims
            continue
        if len(prev) != len(dims) or any(p[2] != d[2] for p, d in zip(prev, dims)):
            per_buf[name] = None
            continue
        per_buf[name] = [(min(p[0], d[0]), max(p[1], d[1]), p[2]) for p, d in zip(prev, dims)]
    out = {}
    for name, dims in per_buf.items():
        if not dims:
            continue
        parts = []
        for lo, hi, sym in dims:
            if lo == hi:
                parts.append(_render(lo, sym))
            else:
                parts.append(f"{_render(lo, sym)}:{_render(hi + 1, sym)}")
        out[name] = f"{name}[{', '.join(parts)}]"
    return out


def _inner_ranges(stmts) -> dict[str, tuple[int, int]] | None:
    out: dict[str, tuple[int, int]] = {}
    for s in _walk(stmts):
        if _is(s, "ForCursor"):
            lo, hi = _const(s.lo()), _const(s.hi())
            if lo is None or hi is None or hi <= lo:
                return None
            out[s.name()] = (lo, hi - 1)
    return out


def _shape(s):
    """A cheap signature of a statement tree: loops with constant trip counts, leaf kinds."""
    if _is(s, "ForCursor"):
        return ("for", _trip(s), tuple(_shape(b) for b in s.body()))
    if _is(s, "IfCursor"):
        return ("if", tuple(_shape(b) for b in s.body()))
    if _is(s, "AssignCursor"):
        return ("=",)
    if _is(s, "ReduceCursor"):
        return ("+=",)
    if _is(s, "CallCursor"):
        return ("call", s.subproc().name())
    return (type(s).__name__,)


def _shape_fits(block, instr) -> bool:
    if block[0] == "for" and instr[0] == "for":
        if instr[1] is not None and block[1] != instr[1]:
            return False
        return len(block[2]) == len(instr[2]) and all(_shape_fits(b, i) for b, i in zip(block[2], instr[2]))
    if block[0] == "if" and instr[0] == "if":
        return len(block[1]) == len(instr[1]) and all(_shape_fits(b, i) for b, i in zip(block[1], instr[1]))
    return block == instr


# --------------------------------------------------------------------------- the scope of a place


@dataclass
class Scope:
    """What the script sees at the place: the proc variable, instructions and memories."""

    var: str
    namespace: dict
    instrs: list[tuple[str, Any]]  # (name in the script, @instr proc)
    memories: dict[Any, str]  # Memory class -> name in the script


def build_scope(state, step_index: int | None, var: str) -> Scope:
    ns: dict = {}
    frame = None
    if step_index is not None:
        rt = state.runtime.get(step_index)
        frame = rt.frame if rt is not None else None
    if frame is not None:
        ns.update(frame.f_globals)
        if frame.f_locals is not frame.f_globals:
            ns.update(frame.f_locals)
    else:
        ns.update(state.namespace)
    instrs: list[tuple[str, Any]] = []
    seen: set[int] = set()
    memories: dict[Any, str] = {}

    def add_instr(name, v):
        if id(v) not in seen and procs.instr_template(v) is not None:
            seen.add(id(v))
            instrs.append((name, v))

    for name, v in list(ns.items()):
        if name.startswith("__"):
            continue
        if procs.is_procedure(v):
            add_instr(name, v)
        elif procs.is_memory_class(v):
            memories.setdefault(v, name)
        elif type(v).__name__ == "module" and getattr(v, "__name__", "").startswith("exo.platforms"):
            for attr, w in vars(v).items():
                if procs.is_procedure(w) and not attr.startswith("_"):
                    add_instr(f"{name}.{attr}", w)
    return Scope(var, ns, instrs, memories)


# --------------------------------------------------------------------------- enumeration


class Enumerator:
    def __init__(self, p, scope: Scope) -> None:
        self.p = p
        self.scope = scope
        self.var = scope.var
        self.names = Namer(p)
        self.out: list[Candidate] = []
        self._seen: set[str] = set()

    def add(self, group: str, title: str, call: str, **kw) -> None:
        if call in self._seen:
            return
        self._seen.add(call)
        self.out.append(Candidate(group, title, call, **kw))

    # ----------------------------------------------------------- by node kind

    def node(self, c) -> None:
        if _is(c, "ForCursor"):
            self.loop(c)
        elif _is(c, "AllocCursor"):
            self.alloc(c)
        elif _is(c, "AssignCursor") or _is(c, "ReduceCursor"):
            self.access(c)
        elif _is(c, "IfCursor"):
            self.if_stmt(c)
        elif _is(c, "BlockCursor"):
            self.block(c)

    def loop(self, c) -> None:
        v, x = self.var, c.name()
        sel = self.names.stmt(c)
        if sel is None:
            return
        body = list(c.body())
        n = _trip(c)
        # reorder with the loop that is the whole body, and with the loop around it
        if len(body) == 1 and _is(body[0], "ForCursor"):
            nest = self.names.nest(c, body[0])
            if nest:
                self.add("reorder", f"Reorder loops {x} ↔ {body[0].name()}", f"reorder_loops({v}, {_q(nest)})")
        par = _parent_stmt(c)
        if par is not None and _is(par, "ForCursor") and len(par.body()) == 1:
            nest = self.names.nest(par, c)
            if nest:
                self.add("reorder", f"Reorder loops {par.name()} ↔ {x}", f"reorder_loops({v}, {_q(nest)})")
        # divide: perfect by every divisor of a constant trip count; tails for the rest
        if n is not None and _const(c.lo()) == 0:
            outer, inner = self.names.fresh(f"{x}o", f"{x}i")
            iters = f'["{outer}", "{inner}"]'
            for f in range(2, n):
                if n % f == 0:
                    self.add("divide", f"Divide loop {x} by {f} (perfect)",
                             f"divide_loop({v}, {_q(sel)}, {f}, {iters}, perfect=True)")
            for f in (2, 3, 4, 8):
                if f < n and n % f:
                    self.add("divide_tail", f"Divide loop {x} by {f} (tail cut)",
                             f'divide_loop({v}, {_q(sel)}, {f}, {iters}, tail="cut")')
        elif n is None:
            outer, inner = self.names.fresh(f"{x}o", f"{x}i")
            iters = f'["{outer}", "{inner}"]'
            for f in (4, 8):
                for tail in ("cut", "guard"):
                    self.add("divide_tail", f"Divide loop {x} by {f} (tail {tail})",
                             f'divide_loop({v}, {_q(sel)}, {f}, {iters}, tail="{tail}")')
        if n is not None and n <= 16:
            self.add("unroll", f"Unroll loop {x} ({n} iterations)", f"unroll_loop({v}, {_q(sel)})")
        # fission at each gap of the body: once, and out of every loop around it
        depth = 1
        q = c
        while (pq := _parent_stmt(q)) is not None and _is(pq, "ForCursor"):
            depth += 1
            q = pq
        for k, s in enumerate(body[:-1]):
            ssel = self.names.stmt(s)
            if ssel is None:
                continue
            gap = f"{v}.find({_q(ssel)}).after()"
            what = node_text(s)
            once = f"fission({v}, {gap})"
            self.add("fission", f"Fission loop {x} after `{what}`", once)
            if depth > 1:
                # the first of the lifts is the fission above: when that fails, so does this
                self.add("fission", f"Fission {depth} loops after `{what}`", f"fission({v}, {gap}, n_lifts={depth})",
                         requires=once)
        if par is not None and not _is(par, "ForCursor"):
            # out of a loop, lift_scope is reorder_loops (Exo runs the same rewrite): offered above
            self.add("lift_scope", f"Lift loop {x} out of `{node_text(par)}`", f"lift_scope({v}, {_q(sel)})")
        if n is not None and n >= 2:
            mid = _const(c.lo()) + n // 2
            self.add("cut_loop", f"Cut loop {x} at {mid}", f"cut_loop({v}, {_q(sel)}, {mid})")
        nxt = _siblings_after(c)
        if nxt is not None and _is(nxt, "ForCursor"):
            nsel = self.names.stmt(nxt)
            if nsel:
                self.add("fuse", f"Fuse loop {x} with the next loop {nxt.name()}", f"fuse({v}, {_q(sel)}, {_q(nsel)})")
        prv = _siblings_before(c)
        if prv is not None and _is(prv, "ForCursor"):
            psel = self.names.stmt(prv)
            if psel:
                self.add("fuse", f"Fuse loop {x} with the previous loop {prv.name()}", f"fuse({v}, {_q(psel)}, {_q(sel)})")
        self.stage(c, [c])
        self.add("parallelize", f"Parallelize loop {x}", f"parallelize_loop({v}, {_q(sel)})")

    def alloc(self, c) -> None:
        v, b = self.var, c.name()
        sel = self.names.stmt(c)
        if sel is None:
            return
        par = _parent_stmt(c)
        if par is not None:
            self.add("lift_alloc", f"Lift allocation of {b} out of `{node_text(par)}`", f"lift_alloc({v}, {_q(sel)})")
        nxt = _siblings_after(c)
        if nxt is not None and (_is(nxt, "ForCursor") or _is(nxt, "IfCursor")):
            self.add("sink_alloc", f"Sink allocation of {b} into `{node_text(nxt)}`", f"sink_alloc({v}, {_q(sel)})")
        q = par
        while q is not None:
            if _is(q, "ForCursor") and (n := _trip(q)) is not None:
                self.add("expand_dim", f"Expand {b} by {n} indexed by {q.name()}",
                         f"expand_dim({v}, {_q(sel)}, {n}, {_q(q.name())})")
            q = _parent_stmt(q)
        cur = c.mem()
        for mem, name in self.scope.memories.items():
            if mem is not cur:
                self.add("set_memory", f"Put {b} in {name}", f"set_memory({v}, {_q(sel)}, {name})")
        self.add("delete_buffer", f"Delete the unused buffer {b}", f"delete_buffer({v}, {_q(sel)})")

    def access(self, c) -> None:
        self.stage(c, [c])
        rhs = c.rhs()
        names = {"*": "prod", "+": "sum", "-": "diff", "/": "quot"}
        for e in [rhs, *([rhs.lhs(), rhs.rhs()] if _is(rhs, "BinaryOpCursor") else [])]:
            if not _is(e, "BinaryOpCursor"):
                continue
            text = node_text(e)
            pat = self.names.select(text, e)
            if pat is None:
                continue
            [name] = self.names.fresh(names.get(e.op(), "tmp"))
            self.add("bind_expr", f"Bind `{text}` to a new scalar {name}", f"bind_expr({self.var}, {_q(pat)}, {_q(name)})")

    def if_stmt(self, c) -> None:
        sel = self.names.stmt(c)
        par = _parent_stmt(c)
        if sel and par is not None:
            self.add("lift_scope", f"Lift `{node_text(c)}` out of `{node_text(par)}`",
                     f"lift_scope({self.var}, {_q(sel)})")

    def block(self, c) -> None:
        stmts = list(c)
        if len(stmts) == 1:
            self.node(stmts[0])
            return
        first = self.names.stmt(stmts[0])
        if first is None:
            return
        self.stage(c, stmts, block_text=f"{self.var}.find({_q(first)}).expand(0, {len(stmts) - 1})")
        for s in stmts:
            self.node(s)

    # ----------------------------------------------------------- staging

    def stage(self, c, stmts, block_text: str | None = None) -> None:
        if block_text is None:
            sel = self.names.stmt(c)
            if sel is None:
                return
            block_text = _q(sel)
        inner = _inner_ranges(stmts)
        if inner is None:
            return
        allocs = {a.name() for a in _walk(stmts) if _is(a, "AllocCursor")}
        for buf, window in stage_windows(stmts, inner).items():
            if buf in allocs:
                continue
            [name] = self.names.fresh(f"{buf}_tile")
            self.add("stage_mem", f"Stage {window} in a new buffer {name}",
                     f"stage_mem({self.var}, {block_text}, {_q(window)}, {_q(name)})")

    # ----------------------------------------------------------- instructions

    def instructions(self, roots) -> None:
        """`replace` for every @instr whose body has the shape of a block under `roots`."""
        if not self.scope.instrs:
            return
        bodies = []
        for name, ins in self.scope.instrs:
            body = list(ins.body())
            if body:
                bodies.append((name, ins, [_shape(s) for s in body]))
        seen: set[tuple] = set()
        for s in itertools.chain.from_iterable(_walk([r]) for r in roots):
            path = node_path(s)
            if path in seen:
                continue
            seen.add(path)
            for name, ins, shapes in bodies:
                block = [s]
                nxt = s
                for _ in shapes[1:]:
                    nxt = _siblings_after(nxt)
                    if nxt is None:
                        break
                    block.append(nxt)
                if len(block) != len(shapes):
                    continue
                if not all(_shape_fits(_shape(b), i) for b, i in zip(block, shapes)):
                    continue
                sel = self.names.stmt(s)
                if sel is None:
                    continue
                target = _q(sel) if len(block) == 1 else f"{self.var}.find({_q(sel)}).expand(0, {len(block) - 1})"
                what = node_text(s)
                cursor = s if len(block) == 1 else s.expand(0, len(block) - 1)
                self.add(
                    "replace",
                    f"Replace `{what}` with {name}",
                    f"replace({self.var}, {target}, {name})",
                    check=_call_memory_check(path),
                    on_mismatch=self._memory_fixes(name, path, target, what),
                    precheck=_quiet_replace(cursor, ins),
                    path=path,
                )

    def _memory_fixes(self, instr_name: str, path: tuple, target: str, what: str):
        def fixes(result, mismatch: str) -> list[Candidate]:
            bad = _mismatched_buffers(result, path)
            if not bad:
                return []
            calls = []
            want_of = {}
            for buf, have, want in bad:
                want_of[buf] = want
                alloc = _find_alloc(self.p, buf)
                mem_name = self.scope.memories.get(want)
                if alloc is None or mem_name is None or have is not DRAM:
                    return []  # only offer moving default-memory buffers into the instruction's
                sel = self.names.stmt(alloc)
                if sel is None:
                    return []
                calls.append((buf, mem_name, f"set_memory({self.var}, {_q(sel)}, {mem_name})"))
            out = []
            then = f"replace({self.var}, {target}, {instr_name})"
            for i, (buf, mem_name, call) in enumerate(calls):
                others = [c for j, (_, _, c) in enumerate(calls) if j != i]
                more = f" (and {len(others)} more buffer{'s' * (len(others) > 1)})" if others else ""
                out.append(
                    Candidate(
                        "memory_fix",
                        f"Put {buf} in {mem_name} so that {instr_name} can replace `{what}`{more}",
                        call,
                        note=f"{instr_name} matches `{what}` but its memories differ: {buf} is in "
                        f"DRAM, {instr_name} wants {mem_name}; after this, {then}",
                        after=others + [then],
                        check=_call_memory_check(path),
                        fixes_buffer=buf,
                        path=path,
                        enables=[instr_name],
                        memory=want_of[buf],
                    )
                )
            return out

        return fixes


def _quiet_replace(cursor, ins):
    def run(p):
        from exo.stdlib.scheduling import replace

        return replace(p, cursor, ins, quiet=True)  # fails without printing both procs

    return run


def _only_instructions_touch(p, fix: Candidate, covered: list) -> bool:
    """A memory the CPU cannot read (an accelerator's registers) is a fix only when every
    access of the buffer lies in a block that some instruction unifies with."""
    mem = fix.memory
    try:
        readable = mem is None or mem.can_read()
    except Exception:
        readable = True
    if readable:
        return True
    buf = fix.fixes_buffer
    for s in _walk(p.body()):
        touches = False
        if (_is(s, "AssignCursor") or _is(s, "ReduceCursor")) and s.name() == buf:
            touches = True
        elif _is(s, "AssignCursor") or _is(s, "ReduceCursor") or _is(s, "IfCursor"):
            roots = [s.cond()] if _is(s, "IfCursor") else [s.rhs(), *s.idx()]
            touches = any(_is(e, "ReadCursor") and e.name() == buf for r in roots for e in _exprs(r))
        if touches:
            path = node_path(s)
            if not any(path[: len(cp)] == cp for cp in covered if cp):
                return False
    return True


def _memory_env(p) -> dict[str, Any]:
    env = {}
    for a in p.args():
        try:
            env[a.name()] = a.mem()
        except Exception:
            pass
    for s in _walk(p.body()):
        if _is(s, "AllocCursor"):
            env.setdefault(s.name(), s.mem())
    return env


def _find_alloc(p, name: str):
    for s in _walk(p.body()):
        if _is(s, "AllocCursor") and s.name() == name:
            return s
    return None


def _mismatched_buffers(result, path: tuple) -> list[tuple[str, Any, Any]]:
    """(buffer, its memory, the memory the instruction wants) at the call `replace` made."""
    try:
        call = cursor_at_path(result, path)
    except Exception:
        return []
    if not _is(call, "CallCursor"):
        return []
    env = _memory_env(result)
    out = []
    for arg, param in zip(call.args(), call.subproc().args()):
        try:
            if not param.type().is_numeric():
                continue
            want = param.mem()
            name = arg.name()
        except Exception:
            continue
        have = env.get(name)
        if have is not None and not issubclass(have, want):
            out.append((name, have, want))
    return out


def _call_memory_check(path: tuple):
    def check(result) -> str | None:
        bad = _mismatched_buffers(result, path)
        if bad:
            return "memory type mismatch: " + ", ".join(f"{b} is in {h.__name__}, wants {w.__name__}" for b, h, w in bad)
        return None

    return check


# --------------------------------------------------------------------------- validation


def _evaluate(call: str, p, scope: Scope):
    ns = dict(scope.namespace)
    ns[scope.var] = p
    return eval(compile(call, "<exo-lsp action>", "eval"), ns)


def validate(c: Candidate, p, handle: int, scope: Scope, base_text: str) -> Outcome:
    key = (handle, scope.var, c.call, tuple(c.after))
    got = CACHE.get(key)
    if got is not None:
        return got
    t0 = time.perf_counter()
    out: Outcome
    try:
        if c.precheck is not None:
            # the same call on the cursor the pattern was checked to select, failing quietly
            r = c.precheck(p)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                r = _evaluate(c.call, p, scope)
        if not procs.is_procedure(r):
            out = Outcome(False, None, "did not return a proc", 0)
        elif printing.proc_text_fast(r) == base_text:
            out = Outcome(False, r, "changes nothing", 0)
        else:
            final = r
            for then in c.after:  # a memory fix is good when the replace it enables works
                final = _evaluate(then, final, scope)
            why = c.check(final) if c.check is not None else None
            out = Outcome(why is None, r, why, 0)
    except Exception as exc:  # the transform does not apply here
        out = Outcome(False, None, f"{type(exc).__name__}: {exc}", 0)
    finally:
        procs.reset_exo_state()
    out.ms = (time.perf_counter() - t0) * 1000
    _observe(c.group, out.ms)
    CACHE.put(key, out)
    if out.result is not None and out.ok:
        RESULTS.put((handle, scope.var, c.call), out.result)
    return out


# --------------------------------------------------------------------------- places


def _forwarded(p_out, cursors):
    out = []
    for c in cursors:
        try:
            f = p_out.forward(c)
        except Exception:
            continue
        if _is(f, "InvalidCursor"):
            continue
        if _is(f, "GapCursor"):
            try:
                f = f.anchor()
            except Exception:
                continue
        out.append(f)
    return out


def _steps_with_var(trace, vars_: dict) -> list:
    return [s for s in trace.steps if s.parent is None and s.ok and s.proc_out is not None and str(s.index) in vars_]


def resolve_place(tracer, path: str, params: dict):
    """(step, proc handle, proc, nodes, whole-proc?) for the place in `params`."""
    state = tracer.runs.get(os.path.abspath(path))
    if state is None:
        raise KeyError(f"{path} has not been run")
    trace = state.trace
    place = params.get("place") or {"kind": "proc"}
    vars_ = params.get("vars") or {}
    kind = place.get("kind")
    if kind == "algo_line":
        line1 = int(place["line"]) + 1
        for s in reversed(_steps_with_var(trace, vars_)):
            alg = state.algorithms.get(s.proc_out)
            span = source_lines(alg) if alg is not None else None
            if span and os.path.abspath(span[0]) == os.path.abspath(path) and span[1] <= line1 <= span[2]:
                p = tracer.registry.get(s.proc_out)
                nodes = stmts_from_line(p, path, line1)[:3]
                return state, s.index, s.proc_out, p, nodes, not nodes
        return state, None, None, None, [], False
    step = params.get("step")
    if step is None or not 0 <= int(step) < len(trace.steps):
        return state, None, None, None, [], False
    s = trace.steps[int(step)]
    handle = params.get("handle") or s.proc_out
    p = tracer.registry.get(int(handle)) if handle is not None else None
    if p is None:
        return state, None, None, None, [], False
    if kind == "arg":
        rt = state.runtime.get(s.index)
        value = rt.resolved.get(place.get("arg")) if rt is not None else None
        cursors = flatten_cursors(value)
        nodes = _forwarded(p, cursors) if cursors else []
        return state, s.index, handle, p, nodes, not nodes
    if kind == "paths":  # nodes named by their paths in the proc (benchmarks, tests)
        nodes = [cursor_at_path(p, path) for path in place["paths"]]
        return state, s.index, handle, p, nodes, not nodes
    if kind == "view_line":  # the views' own line map
        path_ = view_queries.stmt_at_line(tracer, int(handle), int(place["line"]))
        c = cursor_at_path(p, path_) if path_ is not None else None
        return state, s.index, handle, p, ([c] if c is not None else []), c is None
    return state, s.index, handle, p, [], True


# --------------------------------------------------------------------------- queries


def enumerate_candidates(p, nodes, whole: bool, scope: Scope) -> list[Candidate]:
    en = Enumerator(p, scope)
    for c in nodes:
        en.node(c)
    roots = []
    for c in nodes:
        roots.extend(list(c) if _is(c, "BlockCursor") else [c])
    en.instructions(roots if not whole else list(p.body()))
    en.add("simplify", "Simplify", f"simplify({scope.var})")
    return en.out


def list_actions(tracer, path: str, params: dict) -> ActionList:
    t0 = time.perf_counter()
    budget = params.get("budget_ms")
    state, step, handle, p, nodes, whole = resolve_place(tracer, path, params)
    vars_ = params.get("vars") or {}
    if p is None or step is None or str(step) not in vars_:
        return ActionList(step, handle, "", [], 0, 0, 0, [], (time.perf_counter() - t0) * 1000)
    var = vars_[str(step)]
    scope = build_scope(state, step, var)
    cands = enumerate_candidates(p, nodes, whole, scope)
    base_text = printing.proc_text_fast(p)
    order = sorted(range(len(cands)), key=lambda i: (cands[i].cost, cands[i].rank, i))
    results: dict[int, Outcome] = {}
    pending = 0
    extra: list[Candidate] = []
    for i in order:
        c = cands[i]
        dep = CACHE.get((handle, var, c.requires, ())) if c.requires is not None else None
        if dep is not None and not dep.ok:
            results[i] = Outcome(False, None, f"fails as {c.requires} does: {dep.error}", 0.0)
            continue
        key = (handle, var, c.call, tuple(c.after))
        over = budget is not None and (time.perf_counter() - t0) * 1000 + expected_ms(c.group) > budget
        if over and CACHE.get(key) is None:
            pending += 1
            continue
        o = validate(c, p, handle, scope, base_text)
        results[i] = o
        if not o.ok and o.result is not None and c.on_mismatch is not None and o.error and o.error.startswith("memory"):
            extra.extend(c.on_mismatch(o.result, o.error))
    # memory fixes found on the way: validated like the rest (the fix, then the replace)
    covered = [cands[i].path for i, o in results.items() if cands[i].group == "replace" and o.result is not None]
    merged: dict[str, Candidate] = {}
    for c in extra:
        if not _only_instructions_touch(p, c, covered):
            continue
        if c.call in merged:
            m = merged[c.call]
            m.enables += [e for e in c.enables if e not in m.enables]
            m.note += "; " + c.note
            continue
        merged[c.call] = c
    fixes = list(merged.values())
    for c in fixes:
        mem_name = scope.memories.get(c.memory, "?")
        c.title = f"Put {c.fixes_buffer} in {mem_name} so that {', '.join(c.enables)} can replace the loops that use it"
        if len(c.after) > 1:
            c.title += f" (with {len(c.after) - 1} more set_memory)"
    for c in fixes:
        cands.append(c)
        over = budget is not None and (time.perf_counter() - t0) * 1000 + expected_ms(c.group) > budget
        if over and CACHE.get((handle, var, c.call, tuple(c.after))) is None:
            pending += 1
            continue
        results[len(cands) - 1] = validate(c, p, handle, scope, base_text)
    actions = []
    offered: set[str] = set()
    for i in sorted(range(len(cands)), key=lambda i: cands[i].rank):
        c = cands[i]
        o = results.get(i)
        if o is None or not o.ok or c.call in offered:
            continue
        offered.add(c.call)
        actions.append(
            ActionInfo(
                key=f"{handle}:{var}:{c.call}",
                title=c.title,
                kind=f"{KIND_PREFIX}.{KINDS[c.group]}",
                group=c.group,
                call=c.call,
                rank=c.rank,
                ms=round(o.ms, 2),
                note=c.note,
            )
        )
    actions.sort(key=lambda a: (KIND_ORDER[KINDS[a.group]], a.rank))  # grouped by kind, best first
    return ActionList(
        step=step,
        handle=handle,
        var=var,
        actions=actions,
        candidates=len(cands),
        validated=len(results),
        pending=pending,
        nodes=[node_text(c) if not _is(c, "BlockCursor") else f"block of {len(c)}" for c in nodes],
        ms=(time.perf_counter() - t0) * 1000,
    )


@query("actions.list")
def q_list(tracer, path: str, params: dict) -> ActionList:
    return list_actions(tracer, path, params)


@query("actions.preview")
def q_preview(tracer, path: str, params: dict) -> Preview:
    """The proc before and after one action, as the proc view prints them, and their diff."""
    handle, var, call = int(params["handle"]), params["var"], params["call"]
    p = tracer.registry.get(handle)
    if p is None:
        raise KeyError(f"no proc with handle {handle} (the script has changed since)")
    after = RESULTS.get((handle, var, call))
    if after is None:
        state = tracer.runs.get(os.path.abspath(path))
        scope = build_scope(state, params.get("step"), var) if state is not None else Scope(var, {}, [], {})
        o = validate(Candidate("simplify", "", call), p, handle, scope, printing.proc_text_fast(p))
        if not o.ok:
            raise ValueError(f"{call} does not apply: {o.error}")
        after = o.result
    before_text, after_text = str(p), str(after)
    name = procs.proc_name(p)
    diff = "".join(
        difflib.unified_diff(
            before_text.splitlines(keepends=True),
            after_text.splitlines(keepends=True),
            fromfile=f"{name} (before)",
            tofile=f"{name} (after {call.split('(')[0]})",
        )
    )
    return Preview(title=params.get("title", ""), call=call, proc=name, before=before_text, after=after_text, diff=diff)
