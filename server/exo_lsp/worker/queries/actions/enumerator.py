"""Candidate calls for the nodes of a place, by node kind: loops, allocations, accesses,
ifs, blocks, and staging; instruction replacements come from ``replace``."""

from __future__ import annotations

from ...exo.cursors import node_text
from .candidate import Candidate
from .nodes import Namer, _const, _is, _parent_stmt, _q, _siblings_after, _siblings_before, _trip, _walk
from .places import Scope
from .replace import InstructionCandidates
from .windows import _inner_ranges, stage_windows


class Enumerator(InstructionCandidates):
    """The candidates for the nodes of one proc, deduplicated by call text."""

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
