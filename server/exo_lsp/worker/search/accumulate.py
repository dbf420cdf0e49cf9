"""The accumulator recipe: a reduction kept in the instruction's memory for the whole
reduction, several accumulators at once, operands staged once where they are shared.

Derived from a reducing @instr's shape and memories only (see ``recipes.InstrShape``). For a
statement ``B[idx] += f(...)`` under loops mapped onto the instruction's result loops, with
the reduction loops below them (and, if present, the initialisation ``B[idx] = ...`` right
before the reduction):

1. divide the result loops by the instruction's trip counts; optionally divide the outer
   part of one of them by a factor whose iterations become *copies* (one accumulator each);
   sink copies and tile loops innermost around [init; reduction];
2. stage the single element ``B[idx]`` over [init; reduction] (Exo writes no load when the
   block starts by overwriting it) and grow it over the copies and tile loops: one
   accumulator tile per copy, initialised, accumulated and stored by their own nests;
3. in the accumulating nest, sink the copies and the instruction's nest innermost (the
   other reduction loops move out), give scalar temporaries their own nest (im2col-style,
   computed once for all copies when they do not depend on them);
4. stage each operand into the instruction's memory: once for all copies when its window is
   the same tile for every copy, else one tile per copy; an operand whose indices run in the
   other order than the instruction's parameter is first staged into a CPU buffer and
   transposed (``rearrange_dim``);
5. replace every nest by the matching instruction, unroll the copies, one register per
   accumulator/per-copy tile (``unroll_buffer``), and share registers when the tiles
   outnumber the memory's registers (``reuse_buffer``: a later copy reuses the first's);
6. optionally one CPU temporary per reduction iteration (the accelerator does not block the
   CPU), and CPU temporaries in another memory in scope (e.g. faster banks).
"""

from __future__ import annotations

from dataclasses import dataclass

from exo import DRAM

from ..exo.cursors import cursor_at_path, node_text
from ..queries.actions.nodes import _exprs, _is, _q, _siblings_before, _trip, _walk
from ..queries.actions.windows import _affine, _inner_ranges, _render, stage_windows
from . import recipes as R
from .recipes import Builder, InstrShape, RecipeFailed, enclosing_loops
from .session import VAR


@dataclass(frozen=True)
class Plan:
    block: str | None = None  # the instruction's result loop var whose outer loop gives copies
    factor: int = 1  # copies (accumulators)
    share: bool = True  # stage operands that are the same tile for every copy once
    privatize: bool = False  # one CPU temporary per iteration of the loop around it
    cpu_mem: str | None = None  # memory (name in scope) for the CPU temporaries


def _point(stmt) -> str:
    parts = []
    for i in stmt.idx():
        a = _affine(i, {})
        if a is None:
            raise RecipeFailed("result index is not affine")
        parts.append(_render(*a))
    return f"{stmt.name()}[{', '.join(parts)}]"


def _find(b: Builder, name: str, stmt):
    x = next((l for l in enclosing_loops(b.fwd(stmt)) if l.name() == name), None)
    if x is None:
        raise RecipeFailed(f"loop {name} lost")
    return x


def _divide(b: Builder, stmt, name: str, by: int) -> tuple[str, str]:
    loop = _find(b, name, stmt)
    t = _trip(loop)
    if t is None or t % by:
        raise RecipeFailed(f"{name} does not divide by {by}")
    if t == by:
        return "", name
    o, i = b.names().fresh(f"{name}o", f"{name}i")
    b.do(f'divide_loop({VAR}, {_q(b.sel(loop))}, {by}, ["{o}", "{i}"], perfect=True)')
    return o, i


def _instr_reads(ins) -> list[tuple[str, tuple[str, ...]]]:
    """(parameter, loop vars of its indices) for every tensor the instruction's body reads."""
    s = ins.body()[0]
    while _is(s, "ForCursor"):
        s = s.body()[0]
    out = []
    for e in _exprs(s.rhs()):
        if _is(e, "ReadCursor") and len(e.idx()):
            vs = [R._affine_vars(i) for i in e.idx()]
            if all(v is not None and len(v) == 1 for v in vs):
                out.append((e.name(), tuple(v[0] for v in vs)))
    return out


def _perm_free(avars, reads) -> bool:
    return _operand_order(tuple(avars), reads) is None


def _staged_copy(p, name: str, ext: tuple):
    """The alloc of `name` if it is a local DRAM buffer of shape `ext` that only copies
    write (no condition, no arithmetic): a tile someone staged for the CPU."""
    alloc = next((a for a in _walk(p.body()) if _is(a, "AllocCursor") and a.name() == name), None)
    if alloc is None or alloc.mem() is not DRAM or tuple(_const_dims(alloc)) != ext:
        return None
    for s in _walk(p.body()):
        if (_is(s, "AssignCursor") or _is(s, "ReduceCursor")) and s.name() == name:
            if not _is(s, "AssignCursor") or not _is(s.rhs(), "ReadCursor"):
                return None
            q = R._parent_stmt(s)
            while q is not None:
                if _is(q, "IfCursor"):
                    return None
                q = R._parent_stmt(q)
    return alloc


def _const_dims(alloc):
    from ..queries.actions.nodes import _const

    try:
        return [_const(d) for d in alloc.shape()]
    except Exception:
        return []


def _operand_order(access_vars: tuple[str, ...], reads) -> list[int] | None:
    """The permutation that puts an operand's dimensions in the order a parameter of the
    instruction reads them (None: already in order, or no parameter reads those vars)."""
    for _, want in reads:
        if sorted(want) == sorted(access_vars) and tuple(want) != access_vars:
            return [access_vars.index(v) for v in want]
    return None


def accumulate(session, p, path, shape: InstrShape, mapping: dict[str, str], plan: Plan,
               base: tuple[str, ...] | None = None):
    b = Builder(session, p, base)
    stmt = cursor_at_path(p, path)
    if not _is(stmt, "ReduceCursor"):
        raise RecipeFailed("not a reduction")
    mem = shape.memories[0] if shape.memories else None
    mem_name = session.scope.memories.get(mem) if mem is not None else None
    if mem is not None and mem_name is None:
        raise RecipeFailed("memory not in scope")
    ins = dict(session.scope.instrs)[shape.name]
    lhs_vars = list(shape.lhs)
    red_vars = [v for v, _ in shape.loops if v not in shape.lhs]
    trips = dict(shape.loops)

    chain = enclosing_loops(stmt)
    names = [l.name() for l in chain]
    res_loops = [mapping[v] for v in lhs_vars]
    if any(x not in names for x in [*res_loops, *(mapping[v] for v in red_vars)]):
        raise RecipeFailed("loops not around the statement")
    pos = max(names.index(x) for x in res_loops)
    if any(names.index(mapping[v]) < pos for v in red_vars) or pos + 1 >= len(chain):
        raise RecipeFailed("reduction loops must be under the result loops")
    red_top = chain[pos + 1]
    init = _siblings_before(red_top)
    if init is not None and not (_is(init, "AssignCursor") and init.name() == stmt.name()
                                 and _point(init) == _point(stmt)):
        init = None

    # 1. tiles of the result loops; copies of one tile loop's outer part
    tiles: dict[str, str] = {}
    outer: dict[str, str] = {}
    for v in lhs_vars:
        outer[v], tiles[v] = _divide(b, stmt, mapping[v], trips[v])
    copies = None
    if plan.factor > 1:
        if plan.block not in outer or not outer[plan.block]:
            raise RecipeFailed("nothing to copy")
        _, copies = _divide(b, stmt, outer[plan.block], plan.factor)
    res_targets = ([copies] if copies else []) + [tiles[v] for v in lhs_vars]
    R.sink(b, red_top, res_targets)

    # 2. one accumulator tile per copy, zeroed, accumulated and stored by their own nests
    buf = stmt.name()
    [acc] = b.names().fresh(f"{buf}_acc")
    target = f"{VAR}.find({_q(b.sel(b.fwd(init)))}).expand(0, 1)" if init is not None else _q(b.sel(b.fwd(red_top)))
    b.do(f"stage_mem({VAR}, {target}, {_q(_point(b.fwd(stmt)))}, {_q(acc)})")
    for name in reversed(res_targets):
        b.do(f"expand_dim({VAR}, {_q(acc + ' : _')}, {_trip(_find(b, name, stmt))}, {_q(name)})")
    n = len(res_targets)
    b.do(f"lift_alloc({VAR}, {_q(acc + ' : _')}, n_lifts={n})")
    if init is not None:
        b.do(f"fission({VAR}, {VAR}.find({_q(b.sel(b.fwd(init)))}).after(), n_lifts={n})")
    b.do(f"fission({VAR}, {VAR}.find({_q(b.sel(b.fwd(red_top)))}).after(), n_lifts={n})")

    return _complete(b, stmt, shape, ins, {**tiles, **{v: mapping[v] for v in red_vars}}, copies,
                     plan.factor, acc, plan)


def _complete(b: Builder, stmt, shape: InstrShape, ins, loops: dict[str, str], copies: str | None,
              factor: int, acc: str, plan: Plan):
    """Steps 3-6 for an accumulator `acc` (one tile per copy) that is accumulated by
    `stmt`; `loops` maps the instruction's loop vars to the proc's loops around it."""
    mem = shape.memories[0] if shape.memories else None
    mem_name = b.s.scope.memories.get(mem) if mem is not None else None
    trips = dict(shape.loops)
    lhs_vars = list(shape.lhs)
    red_vars = [v for v, _ in shape.loops if v not in shape.lhs]

    # 3. the instruction's nest innermost (other reduction loops move out); temporaries
    red_tiles = []
    for v in red_vars:
        red_tiles.append(_divide(b, stmt, loops[v], trips[v])[1])
    tile_of = {**{v: loops[v] for v in lhs_vars}, **dict(zip(red_vars, red_tiles))}
    nest = [tile_of[v] for v, _ in shape.loops]
    targets = ([copies] if copies else []) + nest
    R.sink(b, stmt, targets)
    R.materialize(b, stmt, targets)
    b.do(f"simplify({VAR})")

    # 4. operands into the instruction's memory
    inv = {x: v for v, x in tile_of.items()}
    reads = _instr_reads(ins)
    depth = len(shape.loops)
    per_copy: list[str] = []
    shared: list[str] = []
    cpu_bufs: list[str] = []
    chain = enclosing_loops(b.fwd(stmt))
    top = chain[-depth]
    inner = _inner_ranges([top])
    if inner is None:
        raise RecipeFailed("tile nest has non-constant bounds")
    for name in sorted(stage_windows([top], inner)):
        if name == acc:
            continue
        s_now = b.fwd(stmt)
        access = next((e for e in _exprs(s_now.rhs()) if _is(e, "ReadCursor") and e.name() == name), None)
        if access is None:
            raise RecipeFailed(f"{name} is not read by the statement")
        avars = []
        for i in access.idx():
            vs = [x for x in (R._affine_vars(i) or []) if x in inv]
            if len(vs) == 1:
                avars.append(inv[vs[0]])
        want_ext = tuple(trips[v] for v in avars)
        own = _staged_copy(b.p, name, want_ext)
        if own is not None and mem_name is not None and _perm_free(avars, reads):
            # someone already staged this operand into a tile-shaped buffer: its memory
            b.do(f"set_memory({VAR}, {_q(b.sel(own))}, {mem_name})")
            par = R._parent_stmt(b.fwd(own))
            if copies and par is not None and _is(par, "ForCursor") and par.name() == copies:
                b.do(f"expand_dim({VAR}, {_q(name + ' : _')}, {factor}, {_q(copies)})")
                b.do(f"lift_alloc({VAR}, {_q(name + ' : _')})")
                per_copy.append(name)
            else:
                shared.append(name)
            continue
        chain = enclosing_loops(b.fwd(stmt))
        top = chain[-depth]
        block = top
        if copies and plan.share:
            cl = chain[-depth - 1]
            rng = _inner_ranges([cl])
            w = stage_windows([cl], rng).get(name) if rng is not None else None
            if w is not None and R._extents(w) == want_ext:
                block = cl
        rng = _inner_ranges([block])
        window = stage_windows([block], rng).get(name) if rng is not None else None
        if window is None or R._extents(window) != want_ext:
            raise RecipeFailed(f"{name}: no whole tile")
        perm = _operand_order(tuple(avars), reads)
        if perm is not None:
            # the instruction reads this operand the other way round: a transposed CPU copy
            [t] = b.names().fresh(f"{name}_t")
            b.do(f"stage_mem({VAR}, {_q(b.sel(block))}, {_q(window)}, {_q(t)})")
            b.do(f"simplify({VAR})")
            b.do(f"rearrange_dim({VAR}, {_q(t + ' : _')}, {perm})")
            cpu_bufs.append(t)
            name = t
            window = f"{t}[{', '.join(f'0:{trips[avars[k]]}' for k in perm)}]"
        [tile] = b.names().fresh(f"{name}_tile")
        b.do(f"stage_mem({VAR}, {_q(b.sel(b.fwd(block)))}, {_q(window)}, {_q(tile)})")
        b.do(f"simplify({VAR})")
        if mem_name is not None:
            b.do(f"set_memory({VAR}, {_q(tile + ' : _')}, {mem_name})")
        if copies and block is top:
            b.do(f"expand_dim({VAR}, {_q(tile + ' : _')}, {factor}, {_q(copies)})")
            b.do(f"lift_alloc({VAR}, {_q(tile + ' : _')})")
            per_copy.append(tile)
        else:
            shared.append(tile)
    if mem_name is not None:
        b.do(f"set_memory({VAR}, {_q(acc + ' : _')}, {mem_name})")
    if R.replace_all(b, limit=64) == 0:
        raise RecipeFailed("no instruction applies")

    # 5. copies unrolled, a register per accumulator / per-copy tile
    if copies:
        for _ in range(8):
            loop = next((x for x in _walk(b.p.body()) if _is(x, "ForCursor") and x.name() == copies), None)
            if loop is None:
                break
            b.do(f"unroll_loop({VAR}, {_q(b.sel(loop))})")
        b.do(f"simplify({VAR})")
        b.do(f"unroll_buffer({VAR}, {_q(acc + ' : _')}, 0)")
        for tile in per_copy:
            b.do(f"unroll_buffer({VAR}, {_q(tile + ' : _')}, 0)")
        regs = getattr(mem, "NUM_TILES", None)
        need = factor * (1 + len(per_copy)) + len(shared)
        if regs is not None and need > regs:
            pairs = [(tile, k) for k in range(factor // 2) for tile in per_copy]
            for tile, k in pairs[: need - regs]:
                b.do(f"reuse_buffer({VAR}, {_q(f'{tile}_{k} : _')}, {_q(f'{tile}_{factor - 1 - k} : _')})")

    # 6. CPU temporaries
    if plan.privatize:
        R.privatize_shared(b)
    if plan.cpu_mem is not None:
        for a in list(_walk(b.p.body())):
            if _is(a, "AllocCursor") and a.mem() is DRAM:
                b.do(f"set_memory({VAR}, {_q(b.sel(b.fwd(a)))}, {plan.cpu_mem})")
    return b.calls, b.p


def staged_choices(p, shape: InstrShape) -> list[tuple]:
    """(statement path, {instr loop var: proc loop}, copies loop) for every reduction into a
    local buffer already shaped like the instruction's result (someone staged it: the
    steps of a hand schedule so far), with at most one leading index picking a copy."""
    from ..exo.cursors import node_path

    out = []
    local = {a.name() for a in _walk(p.body()) if _is(a, "AllocCursor")}
    trips = dict(shape.loops)
    for s in _walk(p.body()):
        if not _is(s, "ReduceCursor") or s.name() not in local:
            continue
        idx = [R._affine_vars(i) for i in s.idx()]
        if any(v is None or len(v) != 1 for v in idx) or len(idx) not in (len(shape.lhs), len(shape.lhs) + 1):
            continue
        names = [v[0] for v in idx]
        loops = {l.name(): l for l in enclosing_loops(s)}
        if any(n not in loops for n in names):
            continue
        copies = names[0] if len(names) > len(shape.lhs) else None
        m = dict(zip(shape.lhs, names[-len(shape.lhs):]))
        if any(_trip(loops[m[v]]) != trips[v] for v in shape.lhs):
            continue
        red = [v for v, _ in shape.loops if v not in shape.lhs]
        order = list(loops)
        below = order[max(order.index(n) for n in names) + 1:]  # reductions run under the result loops
        pools = [[n for n in below if _trip(loops[n]) and _trip(loops[n]) % trips[v] == 0] for v in red]
        combos = [m]
        for v, pool in zip(red, pools):
            combos = [dict(c, **{v: x}) for c in combos for x in pool if x not in c.values()]
        for c in combos:
            out.append((node_path(s), c, copies))
    return out


def complete(session, p, path, shape: InstrShape, mapping: dict[str, str], copies: str | None, plan: Plan,
             base: tuple[str, ...] | None = None):
    """Steps 3-6 on an accumulator someone already staged (see ``staged_choices``)."""
    b = Builder(session, p, base)
    stmt = cursor_at_path(p, path)
    ins = dict(session.scope.instrs)[shape.name]
    factor = 1
    if copies is not None:
        loop = next((l for l in enclosing_loops(stmt) if l.name() == copies), None)
        factor = _trip(loop) if loop is not None else None
        if not factor or factor > 8:
            raise RecipeFailed("copies must be a short constant loop")
    return _complete(b, stmt, shape, ins, mapping, copies, factor, stmt.name(), plan)


def plans(shape: InstrShape, cpu_mems: list[str]) -> list[Plan]:
    """Every plan worth trying for a shape: no copies, or 2/4 copies along a result loop;
    operands shared or per copy; CPU temporaries privatised or not, in each CPU memory."""
    out = []
    for block, factor in [(None, 1), *((v, f) for v in shape.lhs for f in (2, 4))]:
        for share in ((True, False) if factor > 1 else (True,)):
            for priv in (False, True):
                for cm in (None, *cpu_mems):
                    out.append(Plan(block, factor, share, priv, cm))
    return out


# ----------------------------------------------------------------------------- finish


def _touched_by_cpu(p, name: str) -> bool:
    """Whether a statement other than an instruction call reads or writes `name`."""
    for s in _walk(p.body()):
        if _is(s, "AssignCursor") or _is(s, "ReduceCursor"):
            if s.name() == name or any(_is(e, "ReadCursor") and e.name() == name for e in _exprs(s.rhs())):
                return True
        elif _is(s, "IfCursor") and any(_is(e, "ReadCursor") and e.name() == name for e in _exprs(s.cond())):
            return True
    return False


def _uses(call, var: str, bufs) -> bool:
    """Whether loop variable `var` indexes one of the buffers `bufs` in a call's arguments
    (a buffer in tile memory has no index at run time: the loop must be unrolled)."""
    import re

    text = node_text(call)
    return any(re.search(rf"\b{re.escape(b)}\[[^\]]*\b{re.escape(var)}\b", text) for b in bufs)


def _rank(a) -> int:
    try:
        return len(a.shape())
    except Exception:
        return 0


def finish(session, p, shapes: list[InstrShape], base: tuple[str, ...] | None = None):
    """Complete a schedule someone started (the steps of a hand schedule so far): buffers
    only instruction-shaped nests touch go to the instruction's memory, every validated
    replacement, loops indexing such buffers unrolled, a register per copy, registers shared
    when they run out. Each move is kept only when Exo accepts it."""
    b = Builder(session, p, base)
    mems = [m for sh in shapes for m in sh.memories]
    if not mems:
        raise RecipeFailed("no instruction memory")
    mem = mems[0]
    mem_name = session.scope.memories.get(mem)
    if mem_name is None:
        raise RecipeFailed("memory not in scope")
    ndim = max(len(sh.lhs) for sh in shapes)
    R.replace_all(b, limit=64)
    for a in [a for a in _walk(b.p.body()) if _is(a, "AllocCursor") and a.mem() is DRAM]:
        name = a.name()
        trial = Builder(session, b.p, None)
        try:
            trial.do(f"set_memory({VAR}, {_q(trial.sel(trial.fwd(a)))}, {mem_name})")
        except RecipeFailed:
            continue
        R.replace_all(trial, limit=64)
        if not _touched_by_cpu(trial.p, name):
            b.calls.extend(trial.calls)
            b.p = trial.p
    if b.base is not None:
        b.s.remember((*b.base, *b.calls), b.p)
    tiles = {a.name() for a in _walk(b.p.body()) if _is(a, "AllocCursor") and a.mem() is mem}
    # loops whose variable picks a tile buffer's copy: unrolled (tile memory has no index)
    for _ in range(24):
        loop = None
        for l in _walk(b.p.body()):
            if _is(l, "ForCursor") and (_trip(l) or 99) <= 8:
                calls = [c for c in _walk(l.body()) if _is(c, "CallCursor")]
                if any(_uses(c, l.name(), tiles) for c in calls):
                    loop = l
                    break
        if loop is None:
            break
        b.do(f"unroll_loop({VAR}, {_q(b.sel(loop))})")
    b.do(f"simplify({VAR})")
    for name in sorted(tiles):
        for _ in range(4):
            a = next((a for a in _walk(b.p.body()) if _is(a, "AllocCursor") and a.name() == name), None)
            if a is None or _rank(a) <= ndim:
                break
            try:
                b.do(f"unroll_buffer({VAR}, {_q(name + ' : _')}, 0)")
            except RecipeFailed:
                break
    regs = getattr(mem, "NUM_TILES", None)
    allocs = [a.name() for a in _walk(b.p.body()) if _is(a, "AllocCursor") and a.mem() is mem]
    if regs is not None and len(allocs) > regs:
        groups: dict[str, list[str]] = {}
        for n in allocs:
            stem, _, k = n.rpartition("_")
            if stem and k.isdigit():
                groups.setdefault(stem, []).append(n)
        extra = len(allocs) - regs
        depth = {a.name(): len(enclosing_loops(a)) for a in _walk(b.p.body()) if _is(a, "AllocCursor")}
        # the copies allocated deepest live shortest (operands loaded per iteration), not the
        # accumulators that live across the whole reduction
        for stem, ns in sorted(groups.items(), key=lambda kv: (-depth.get(kv[1][0], 0), -len(kv[1]), kv[0])):
            if extra <= 0 or len(ns) < 2:
                continue
            try:
                b.do(f"reuse_buffer({VAR}, {_q(ns[0] + ' : _')}, {_q(ns[-1] + ' : _')})")
                extra -= 1
            except RecipeFailed:
                continue
    if not b.calls:
        raise RecipeFailed("nothing to finish")
    return b.calls, b.p
