"""Recipes: multi-step actions derived from what is in scope, never from a kernel's names.

An @instr proc's body says what it wants: a nest of loops with constant trip counts around
one statement whose left-hand side is indexed by some of the loops (the others reduce), and
parameters in some memory. From that:

* ``tile``: map a statement of the proc onto the instruction's nest (left-hand-side indices
  onto the instruction's, a reduction loop chosen as a parameter), divide those loops by the
  instruction's trip counts and sink the tile loops innermost in the instruction's order
  (reorder, with fission where a loop's body is more than the next loop);
* ``materialize``: a scalar temporary computed inside the tile (an im2col-style value) is
  expanded over the tile loops its definition uses, lifted out of the tile and computed by
  its own loop nest;
* ``stage``: each buffer the tile nest accesses is staged (``stage_mem``) into a new buffer at
  a chosen loop level, and put in the memory the instruction's parameter wants;
* ``replace_all``: every instruction replacement the code-action enumerator validates.

``offload`` chains them with parameters (reduction loop, staging levels) a search varies.
Every step is one call string computed from the current proc (pattern strings with ``#N``
where a name repeats), so a recipe's result replays as plain schedule lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from exo import DRAM

from ..queries.actions.nodes import Namer, _is, _parent_stmt, _q, _siblings_before, _trip, _walk
from ..queries.actions.windows import _affine, _inner_ranges, stage_windows
from .session import VAR


class RecipeFailed(Exception):
    pass


def _affine_vars(e) -> list[str] | None:
    a = _affine(e, {})
    return None if a is None else list(a[1])


@dataclass(frozen=True)
class InstrShape:
    name: str  # the instruction's name in the script
    loops: tuple[tuple[str, int], ...]  # (loop var, trip count), outer to inner
    lhs: tuple[str, ...]  # loop vars indexing the body statement's left-hand side
    reduce: bool
    memories: tuple  # memory classes of its tensor parameters, other than DRAM


def instr_shapes(scope) -> list[InstrShape]:
    out = []
    for name, ins in scope.instrs:
        body = list(ins.body())
        loops = []
        s = body[0] if len(body) == 1 else None
        while s is not None and _is(s, "ForCursor"):
            t = _trip(s)
            if t is None:
                s = None
                break
            loops.append((s.name(), t))
            b = list(s.body())
            s = b[0] if len(b) == 1 else None
        if s is None or not loops or not (_is(s, "AssignCursor") or _is(s, "ReduceCursor")):
            continue
        lhs = []
        for i in s.idx():
            vs = _affine_vars(i)
            if vs is None or len(vs) != 1:
                lhs = None
                break
            lhs.append(vs[0])
        if lhs is None:
            continue
        mems = []
        for a in ins.args():
            try:
                m = a.mem()
            except Exception:
                continue
            if m is not None and m is not DRAM and m not in mems:
                mems.append(m)
        out.append(InstrShape(name, tuple(loops), tuple(lhs), _is(s, "ReduceCursor"), tuple(mems)))
    return out


def enclosing_loops(c) -> list:
    out = []
    q = _parent_stmt(c)
    while q is not None:
        if _is(q, "ForCursor"):
            out.append(q)
        q = _parent_stmt(q)
    return out[::-1]  # outer to inner


class Builder:
    """Applies one call at a time on the session's proc and records the calls."""

    def __init__(self, session, p, base: tuple[str, ...] | None = None) -> None:
        self.s = session
        self.p = p
        self.calls: list[str] = []
        self.base = base  # the schedule that made p: steps are then memoised in the session

    def names(self) -> Namer:
        return Namer(self.p)

    def sel(self, c) -> str:
        got = self.names().stmt(c)
        if got is None:
            raise RecipeFailed("no pattern selects the node")
        return got

    def do(self, call: str) -> None:
        key = None if self.base is None else (*self.base, *self.calls, call)
        got = self.s.made_from(key, self.p) if key is not None else None
        if got is None:
            try:
                got = self.s.apply_call(self.p, call)
            except Exception as e:
                raise RecipeFailed(f"{call}: {type(e).__name__}: {e}") from e
            if key is not None:
                self.s.remember(key, got, parent=self.p)
        self.p = got
        self.calls.append(call)

    def fwd(self, c):
        try:
            f = self.p.forward(c)
        except NotImplementedError as e:  # some ops (expand_dim) do not forward every cursor
            raise RecipeFailed("node lost") from e
        if _is(f, "InvalidCursor"):
            raise RecipeFailed("node lost")
        return f


# ----------------------------------------------------------------------------- tile


def tile_choices(p, shape: InstrShape) -> list[tuple]:
    """(statement path, {instr loop var: proc loop name}) for every statement the
    instruction's nest maps onto."""
    from ..exo.cursors import node_path

    out = []
    want = "ReduceCursor" if shape.reduce else "AssignCursor"
    for s in _walk(p.body()):
        if not _is(s, want) or len(s.idx()) != len(shape.lhs):
            continue
        loops = enclosing_loops(s)
        trips = {l.name(): _trip(l) for l in loops}
        m: dict[str, str] = {}
        ok = True
        for v, w in zip(shape.lhs, s.idx()):
            vs = _affine_vars(w)
            vs = [x for x in (vs or []) if x in trips]
            if not vs:
                ok = False
                break
            m[v] = vs[-1] if len(vs) == 1 else max(vs, key=lambda x: [l.name() for l in loops].index(x))
        if not ok:
            continue
        tripof = dict(shape.loops)
        if any(trips[m[v]] is None or trips[m[v]] % tripof[v] for v in m):
            continue
        red = [v for v, _ in shape.loops if v not in shape.lhs]
        used = set(m.values())
        pools = []
        for v in red:
            pools.append([l.name() for l in loops if l.name() not in used and trips[l.name()] and trips[l.name()] % tripof[v] == 0])
        combos = [dict(m)]
        for v, pool in zip(red, pools):
            combos = [dict(c, **{v: x}) for c in combos for x in pool if x not in c.values()]
        for c in combos:
            out.append((node_path(s), c))
    return out


def tile(b: Builder, stmt, shape: InstrShape, mapping: dict[str, str]):
    """Divide the mapped loops by the instruction's trips and sink them innermost."""
    targets = []
    for v, t in shape.loops:
        x = mapping[v]
        loop = next(l for l in enclosing_loops(b.fwd(stmt)) if l.name() == x)
        if _trip(loop) > t:
            o, i = b.names().fresh(f"{x}o", f"{x}i")
            b.do(f'divide_loop({VAR}, {_q(b.sel(loop))}, {t}, ["{o}", "{i}"], perfect=True)')
            targets.append(i)
        else:
            targets.append(x)
    return sink(b, stmt, targets)


def sink(b: Builder, stmt, targets: list[str]) -> list[str]:
    """Reorder (with fission where a loop's body is more than the next loop) until the
    loops `targets` are the innermost around `stmt`, in that order."""
    for _ in range(40):  # each round fixes one inversion; a bound against surprises
        chain = enclosing_loops(b.fwd(stmt))
        names = [l.name() for l in chain]
        if names[-len(targets):] == targets:
            return targets
        # the deepest tile loop with the wrong loop right under it
        bad = None
        for k in range(len(chain) - 2, -1, -1):
            x, y = names[k], names[k + 1]
            if x in targets and (y not in targets or targets.index(y) < targets.index(x)):
                bad = k
                break
        if bad is None:
            raise RecipeFailed("tile loops not reachable")
        X, Y = chain[bad], chain[bad + 1]
        if len(X.body()) > 1:
            if _siblings_before(Y) is not None:
                b.do(f"fission({VAR}, {VAR}.find({_q(b.sel(Y))}).before())")
                Y = b.fwd(Y)
            if len(Y.parent().body()) > 1:
                b.do(f"fission({VAR}, {VAR}.find({_q(b.sel(Y))}).after())")
                Y = b.fwd(Y)
        X = Y.parent()
        nest = b.names().nest(X, Y)
        if nest is None:
            raise RecipeFailed("no pattern for the nest")
        b.do(f"reorder_loops({VAR}, {_q(nest)})")
    raise RecipeFailed("sink: too many reorders")


# ----------------------------------------------------------------------------- materialize


def _reads(e):
    from ..queries.actions.nodes import _exprs

    return [x for x in _exprs(e) if _is(x, "ReadCursor")]


def materialize(b: Builder, stmt, targets: list[str]) -> None:
    """Scalars read by `stmt` and defined inside the tile loops get their own loop nest."""
    tile_loops = [l for l in enclosing_loops(b.fwd(stmt)) if l.name() in targets]
    if not tile_loops:
        return
    scalars = {r.name() for r in _reads(b.fwd(stmt).rhs()) if not len(r.idx())}
    for name in sorted(scalars):
        top = b.fwd(tile_loops[0])
        alloc = next((a for a in _walk([top]) if _is(a, "AllocCursor") and a.name() == name), None)
        if alloc is None:
            continue
        # the statements that write it: its siblings after the alloc, before stmt's branch
        sib, defs = alloc, []
        while (sib := sib.next()) is not None and not _is(sib, "InvalidCursor"):
            if any(_is(w, "AssignCursor") and w.name() == name for w in _walk([sib])):
                defs.append(sib)
        if not defs:
            continue
        used = set()
        for d in defs:
            for w in _walk([d]):
                roots = [w.cond()] if _is(w, "IfCursor") else ([w.rhs(), *w.idx()] if _is(w, "AssignCursor") else [])
                for r in roots:
                    for x in _reads(r):
                        if not len(x.idx()):
                            used.add(x.name())
                        for i in x.idx():
                            used.update(_affine_vars(i) or [])
        around = enclosing_loops(b.fwd(alloc))
        inner = [l for l in around if l.name() in targets]
        for l in reversed(inner):
            if l.name() in used:
                b.do(f"expand_dim({VAR}, {_q(b.sel(b.fwd(alloc)))}, {_trip(l)}, {_q(l.name())})")
        n = len(inner)
        b.do(f"lift_alloc({VAR}, {_q(b.sel(b.fwd(alloc)))}, n_lifts={n})")
        last = b.fwd(defs[-1])
        b.do(f"fission({VAR}, {VAR}.find({_q(b.sel(last))}).after(), n_lifts={n})")
        # loops of the new producer nest its definition does not use: computed once
        # (the loops are looked up again after each removal: the old cursors are stale)
        skip: set[str] = set()
        while True:
            try:
                last = b.fwd(defs[-1])
            except RecipeFailed:
                break
            l = next((l for l in enclosing_loops(last)
                      if l.name() in targets and l.name() not in used and l.name() not in skip), None)
            if l is None:
                break
            try:
                b.do(f"remove_loop({VAR}, {_q(b.sel(l))})")
            except RecipeFailed:
                skip.add(l.name())


# ----------------------------------------------------------------------------- stage


def tile_nest(b: Builder, stmt, depth: int):
    chain = enclosing_loops(b.fwd(stmt))
    if len(chain) < depth:
        raise RecipeFailed("no tile nest")
    return chain, chain[-depth]


def _extents(window: str) -> tuple[int, ...]:
    """The sizes of a window's interval dimensions (its symbolic offsets cancel)."""
    import collections

    zero = collections.defaultdict(int)
    dims = window[window.index("[") + 1 : -1].split(", ")
    out = []
    for d in dims:
        if ":" in d:
            lo, hi = d.split(":")
            out.append(eval(hi, {}, zero) - eval(lo, {}, zero))
    return tuple(out)


def _window_at(b: Builder, stmt, depth: int, buf: str, level: int, with_prev: bool, memory, tile_shape: tuple):
    chain, top = tile_nest(b, stmt, depth)
    pos = len(chain) - depth - level
    if pos < 0:
        raise RecipeFailed("no such level")
    block = chain[pos]
    prev = _siblings_before(block) if with_prev else None
    if with_prev and prev is None:
        raise RecipeFailed("nothing before the block")
    stmts = [prev, block] if prev is not None else [block]
    inner = _inner_ranges(stmts)
    if inner is None:
        raise RecipeFailed("block has non-constant bounds")
    window = stage_windows(stmts, inner).get(buf)
    if window is None:
        raise RecipeFailed(f"no window for {buf}")
    if any(_is(a, "AllocCursor") and a.name() == buf for a in _walk(stmts)):
        raise RecipeFailed(f"{buf} is allocated inside the block")
    if memory is not None and _extents(window) != tile_shape and level > 0:
        # the block holds other copies of the tile nest (unrolled): stage this copy's
        # window over it; Exo checks the other accesses stay outside
        own = _inner_ranges([top])
        window = stage_windows([top], own).get(buf) if own is not None else window
    if memory is not None and _extents(window) != tile_shape:
        # the instruction's operands are tiles of the instruction's shape: another window
        # cannot live in its memory (fail now, not at code generation in the simulator)
        raise RecipeFailed(f"{window} is not a {tile_shape} tile")
    return block, prev, window


def stage(b: Builder, stmt, depth: int, levels: tuple[tuple[int, bool], ...], memory, tile_shape: tuple) -> list[str]:
    """Stage each buffer the tile nest accesses, at the level chosen for it (0 = the tile
    nest, k = k loops further out; True = with the statement before the block too); a
    buffer's entry is one level or levels to try in order."""
    chain, top = tile_nest(b, stmt, depth)
    inner = _inner_ranges([top])
    if inner is None:
        raise RecipeFailed("tile nest has non-constant bounds")
    bufs = sorted(stage_windows([top], inner))
    made = []
    for k, buf in enumerate(bufs):
        options = levels[k % len(levels)]
        if isinstance(options[0], int):
            options = (options,)
        # the first of the buffer's levels, in the order given, that stages a whole tile
        for level, with_prev in options:
            try:
                block, prev, window = _window_at(b, stmt, depth, buf, level, with_prev, memory, tile_shape)
                break
            except RecipeFailed as e:
                last = e
        else:
            raise last
        [new] = b.names().fresh(f"{buf}_tile")
        if prev is not None:
            target = f"{VAR}.find({_q(b.sel(prev))}).expand(0, 1)"
        else:
            target = _q(b.sel(block))
        b.do(f"stage_mem({VAR}, {target}, {_q(window)}, {_q(new)})")
        # stage_mem's copy loops have bounds like `4 * io + 4 - 4 * io`: constant once simplified
        b.do(f"simplify({VAR})")
        made.append(new)
        if memory is not None:
            mem_name = b.s.scope.memories.get(memory)
            if mem_name is None:
                raise RecipeFailed("memory not in scope")
            b.do(f"set_memory({VAR}, {_q(new + ' : _')}, {mem_name})")
    return made


# ----------------------------------------------------------------------------- replace


def replace_all(b: Builder, limit: int = 24) -> int:
    """Apply every instruction replacement the enumerator validates, until none applies."""
    from ..queries.actions.enumerator import enumerate_candidates

    n = 0
    for _ in range(limit):
        cands = [c for c in enumerate_candidates(b.p, [], True, b.s.scope) if c.group == "replace"]
        for c in cands:
            try:
                q = b.s.apply_call(b.p, c.call)
            except Exception:
                continue
            # replace unifies bodies only: an argument left in the wrong memory is its check
            if c.check is not None and c.check(q) is not None:
                continue
            made_from, b.p = b.p, q
            b.calls.append(c.call)
            if b.base is not None:
                b.s.remember((*b.base, *b.calls), q, parent=made_from)
            n += 1
            break
        else:
            return n
    return n


def offload(session, p, path, shape: InstrShape, mapping: dict, levels, base: tuple[str, ...] | None = None):
    """tile + materialize + stage + replace_all (+ simplify): calls and the proc."""
    from ..exo.cursors import cursor_at_path

    b = Builder(session, p, base)
    stmt = cursor_at_path(p, path)
    targets = tile(b, stmt, shape, mapping)
    materialize(b, stmt, targets)
    b.do(f"simplify({VAR})")
    stage(b, stmt, len(shape.loops), levels, shape.memories[0] if shape.memories else None,
          tuple(t for v, t in shape.loops if v in shape.lhs))
    if replace_all(b) == 0:
        raise RecipeFailed("no instruction applies after staging")
    return b.calls, b.p


# ----------------------------------------------------------------------------- registers


def block_choices(b: Builder, stmt, targets: list[str]) -> list[str]:
    """Loops around the tile nest that index the result: unrolled copies of the tile nest
    along one of them keep that many accumulators in registers over the reduction."""
    chain = enclosing_loops(b.fwd(stmt))
    lhs_vars = set()
    for w in b.fwd(stmt).idx():
        lhs_vars.update(_affine_vars(w) or [])
    return [l.name() for l in chain if l.name() not in targets and l.name() in lhs_vars]


def _hoist_invariant(b: Builder, stmt, loop: str, depth: int) -> None:
    chain = enclosing_loops(b.fwd(stmt))
    x = next((l for l in chain if l.name() == loop), None)
    top = chain[-depth]
    if x is None or len(x.body()) < 2 or _siblings_before(top) is None:
        return
    try:
        for a in [a for a in x.body() if _is(a, "AllocCursor")]:
            b.do(f"lift_alloc({VAR}, {_q(b.sel(b.fwd(a)))})")
        b.do(f"fission({VAR}, {VAR}.find({_q(b.sel(b.fwd(top)))}).before())")
        first = b.fwd(top).parent()
        producer = _siblings_before(first)
        if producer is not None and _is(producer, "ForCursor") and producer.name() == loop:
            b.do(f"remove_loop({VAR}, {_q(b.sel(producer))})")
    except RecipeFailed:
        pass  # a schedule without the hoist is still valid


def block_and_offload(session, p, path, shape: InstrShape, mapping: dict, loop: str, factor: int, levels,
                      base: tuple[str, ...] | None = None, privatize: bool = False):
    """tile, then divide `loop` by `factor`, sink the new inner loop right above the tile
    nest (under the reduction loops), unroll it, and offload every copy."""
    from ..exo.cursors import cursor_at_path

    b = Builder(session, p, base)
    stmt = cursor_at_path(p, path)
    targets = tile(b, stmt, shape, mapping)
    x = next((l for l in enclosing_loops(b.fwd(stmt)) if l.name() == loop), None)
    if x is None or _trip(x) is None or _trip(x) % factor:
        raise RecipeFailed("loop cannot be blocked")
    if _trip(x) > factor:
        o, i = b.names().fresh(f"{loop}o", f"{loop}i")
        b.do(f'divide_loop({VAR}, {_q(b.sel(x))}, {factor}, ["{o}", "{i}"], perfect=True)')
    else:
        i = loop
    sink(b, stmt, [i, *targets])
    # temporaries first, then out of the blocked loop when they do not depend on it (the
    # im2col tile is built once for all accumulators)
    materialize(b, stmt, targets)
    _hoist_invariant(b, stmt, i, len(targets))
    b.do(f"unroll_loop({VAR}, {_q(b.sel(next(l for l in enclosing_loops(b.fwd(stmt)) if l.name() == i)))})")
    b.do(f"simplify({VAR})")
    done = 0
    for _ in range(factor):  # each copy of the statement: tile (a no-op now) and offload
        choices = [(pth, m) for pth, m in tile_choices(b.p, shape) if m == {**mapping, **{v: t for v, t in zip([v for v, _ in shape.loops], targets)}}]
        if not choices:
            break
        stmt_k = cursor_at_path(b.p, choices[0][0])
        tk = tile(b, stmt_k, shape, choices[0][1])
        materialize(b, stmt_k, tk)
        b.do(f"simplify({VAR})")
        stage(b, stmt_k, len(shape.loops), levels, shape.memories[0] if shape.memories else None,
              tuple(t for v, t in shape.loops if v in shape.lhs))
        if replace_all(b) == 0:
            raise RecipeFailed("no instruction applies after staging")
        done += 1
    if done < factor:
        raise RecipeFailed(f"offloaded {done} of {factor} copies")
    if privatize:
        privatize_shared(b)
    return b.calls, b.p


def privatize_shared(b: Builder) -> None:
    """A buffer the CPU writes in a loop whose instructions read it gets one copy per
    iteration: the accelerator does not block the CPU, so the next iteration's stores could
    overtake the loads still queued (the simulator reports that as a wrong result)."""
    for a in [a for a in _walk(b.p.body()) if _is(a, "AllocCursor")]:
        try:
            a = b.fwd(a)
            par = _parent_stmt(a)
            if par is None or not _is(par, "ForCursor") or _trip(par) is None or a.mem() is not DRAM:
                continue
            if not any(_is(x, "CallCursor") for x in _walk(par.body())):
                continue
            b.do(f"expand_dim({VAR}, {_q(b.sel(a))}, {_trip(par)}, {_q(par.name())})")
            b.do(f"lift_alloc({VAR}, {_q(b.sel(b.fwd(a)))})")
        except RecipeFailed:
            continue
