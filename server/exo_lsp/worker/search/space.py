"""The action space at a proc: recipes (derived from the @instr procs and memories in scope)
and the transforms the code-action enumerator offers at every node.

An action is (kind, label, run): ``run(builder, rng)`` applies one or more calls through a
:class:`recipes.Builder`; its parameters (a reduction loop, staging levels) are drawn from
``rng``, so a task's seed decides them and the calls it made are what replays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from ..exo.cursors import cursor_at_path, node_path
from ..queries.actions.enumerator import enumerate_candidates
from ..queries.actions.nodes import _is, _parent_stmt, _q, _trip, _walk
from . import accumulate as A
from . import recipes as R
from .session import VAR

# Staging levels: (loops above the tile nest, with the statement before the block). Level
# 1 with the statement before is where an accumulator's initialisation joins the tile.
LEVELS = [(0, False), (1, False), (1, True), (2, False), (2, True)]

# Enumerator groups a rollout may draw: the ones that reshape loops and buffers (replace
# comes from the recipes; parallelize and bind_expr do nothing for this target).
ENUM_GROUPS = {"divide", "reorder", "unroll", "fission", "lift_alloc", "expand_dim", "set_memory",
               "fuse", "cut_loop", "simplify", "sink_alloc", "lift_scope"}


@dataclass
class Action:
    kind: str  # "accumulate", "finish", "offload", "block", "privatize", "memory", "unroll", "enum", "stop"
    label: str
    run: Callable


def _offload(shape, path, mapping):
    def run(b: R.Builder, rng: random.Random) -> None:
        # per buffer, the staging levels in a random order: the first that stages a whole
        # tile wins (most do not); a second draw if the replacements then fail. The
        # tiling the draws share is memoised.
        last = None
        for _ in range(2):
            levels = tuple(tuple(rng.sample(LEVELS, len(LEVELS))) for _ in range(4))
            try:
                calls, p = R.offload(b.s, b.p, path, shape, mapping, levels, b.base)
            except R.RecipeFailed as e:
                last = e
                continue
            b.calls.extend(calls)
            b.p = p
            return
        raise last or R.RecipeFailed("offload")

    return run


def _block(shape, path, mapping, factor):
    def run(b: R.Builder, rng: random.Random) -> None:
        from ..exo.cursors import cursor_at_path

        # which result loop to block is known only once tiled: drawn from the tiled proc
        tb = R.Builder(b.s, b.p, b.base)
        targets = R.tile(tb, cursor_at_path(b.p, path), shape, mapping)
        loops = R.block_choices(tb, cursor_at_path(b.p, path), targets)
        loops = [x for x in loops if x not in mapping.values()] or loops
        if not loops:
            raise R.RecipeFailed("nothing to block")
        loop = rng.choice(sorted(loops))
        levels = tuple(tuple(rng.sample(LEVELS, len(LEVELS))) for _ in range(4))
        calls, p = R.block_and_offload(b.s, b.p, path, shape, mapping, loop, factor, levels, b.base,
                                       privatize=rng.random() < 0.5)
        b.calls.extend(calls)
        b.p = p

    return run


def _privatize(path, loop_path):
    """One copy of a CPU-written buffer per iteration of a loop around it: the accelerator
    may still read the previous copy (RVM does not block the CPU; a store that overtakes a
    queued load is a race the simulator reports as a wrong result)."""

    def run(b: R.Builder, rng) -> None:
        alloc = cursor_at_path(b.p, path)
        loop = cursor_at_path(b.p, loop_path)
        b.do(f"expand_dim({VAR}, {_q(b.sel(alloc))}, {_trip(loop)}, {_q(loop.name())})")
        b.do(f"lift_alloc({VAR}, {_q(b.sel(b.fwd(alloc)))})")

    return run


def _accumulate(shape, path, mapping, block, factor, cpu_mems):
    def run(b: R.Builder, rng: random.Random) -> None:
        plan = A.Plan(block, factor, share=rng.random() < 0.75, privatize=rng.random() < 0.75,
                      cpu_mem=rng.choice([None, *cpu_mems]))
        calls, p = A.accumulate(b.s, b.p, path, shape, mapping, plan, b.base)
        b.calls.extend(calls)
        b.p = p

    return run


def _complete(shape, path, mapping, copies, cpu_mems):
    def run(b: R.Builder, rng: random.Random) -> None:
        plan = A.Plan(share=rng.random() < 0.75, privatize=rng.random() < 0.75, cpu_mem=rng.choice([None, *cpu_mems]))
        calls, p = A.complete(b.s, b.p, path, shape, mapping, copies, plan, b.base)
        b.calls.extend(calls)
        b.p = p

    return run


def _finish(shapes):
    def run(b: R.Builder, rng) -> None:
        calls, p = A.finish(b.s, b.p, shapes, b.base)
        b.calls.extend(calls)
        b.p = p

    return run


def _cpu_memories(session, shapes) -> list[str]:
    """Memories in scope the CPU can use for its temporaries: not an instruction's, not DRAM
    (the default)."""
    from exo import DRAM

    taken = {m for sh in shapes for m in sh.memories}
    return sorted(n for m, n in session.scope.memories.items() if m not in taken and m is not DRAM)


def _unroll(path):
    def run(b: R.Builder, rng) -> None:
        b.do(f"unroll_loop({VAR}, {_q(b.sel(cursor_at_path(b.p, path)))})")
        b.do(f"simplify({VAR})")

    return run


def _set_memory(path, mem: str):
    def run(b: R.Builder, rng) -> None:
        b.do(f"set_memory({VAR}, {_q(b.sel(cursor_at_path(b.p, path)))}, {mem})")

    return run


def _call(call):
    def run(b: R.Builder, rng) -> None:
        b.do(call)

    return run


def _has_calls(p) -> bool:
    return any(_is(s, "CallCursor") for s in _walk(p.body()))


def actions_at(session, p) -> list[Action]:
    """Deterministic order: recipes first, then enumerator candidates by node."""
    out: list[Action] = []
    shapes = R.instr_shapes(session.scope)
    offloaded = _has_calls(p)
    if not offloaded:
        cpu_mems = _cpu_memories(session, shapes)
        for sh in shapes:
            if not sh.reduce:  # compute instructions; loads/stores come with staging
                continue
            for path, mapping, copies in A.staged_choices(p, sh):
                label = f"complete the accumulator in {sh.name} " + ",".join(f"{k}={v}" for k, v in sorted(mapping.items()))
                out.append(Action("accumulate", label + (f", copies {copies}" if copies else ""),
                                  _complete(sh, path, mapping, copies, cpu_mems)))
            for path, mapping in R.tile_choices(p, sh):
                label = f"offload to {sh.name} " + ",".join(f"{k}={v}" for k, v in sorted(mapping.items()))
                for block, factor in [(None, 1), *((v, f) for v in sh.lhs for f in (2, 4))]:
                    acc = f"accumulate in {sh.name} " + ",".join(f"{k}={v}" for k, v in sorted(mapping.items()))
                    acc += f", {factor} accumulators along {mapping[block]}" if block else ""
                    out.append(Action("accumulate", acc, _accumulate(sh, path, mapping, block, factor, cpu_mems)))
                out.append(Action("offload", label, _offload(sh, path, mapping)))
                for f in (2, 4):
                    out.append(Action("block", f"{label}, {f} accumulators", _block(sh, path, mapping, f)))
    else:
        mems = {m for sh in shapes for m in sh.memories}
        cpu_mems = _cpu_memories(session, shapes)
        for s in _walk(p.body()):
            if _is(s, "AllocCursor") and s.mem() not in mems:
                par = _parent_stmt(s)
                if par is not None and _is(par, "ForCursor") and _trip(par) is not None:
                    out.append(Action("privatize", f"one {s.name()} per {par.name()}", _privatize(node_path(s), node_path(par))))
                # the CPU's buffers in its other memories (the recipes choose one when they
                # stage; a schedule that arrives offloaded may have chosen a slower one)
                here = session.scope.memories.get(s.mem())
                for mem in cpu_mems:
                    if mem != here:
                        out.append(Action("memory", f"{s.name()} in {mem}", _set_memory(node_path(s), mem)))
        # a rollout may end here: more random steps after offloading mostly break things
        out.append(Action("stop", "stop", None))
        for s in _walk(p.body()):
            if _is(s, "ForCursor") and (_trip(s) or 99) <= 4 and any(_is(x, "CallCursor") for x in _walk(s.body())):
                out.append(Action("unroll", f"unroll {s.name()}", _unroll(node_path(s))))
    if shapes and any(_is(a, "AllocCursor") for a in _walk(p.body())):
        out.append(Action("finish", "finish: instruction memory, replace, unroll copies", _finish(shapes)))
    nodes = [s for s in _walk(p.body())]
    try:
        cands = enumerate_candidates(p, nodes, False, session.scope)
    except Exception:
        cands = []
    for c in cands:
        # unrolling long loops only grows the code the compiler and simulator must handle
        if c.group == "unroll" and "for " in c.call:
            loop = next((x for x in nodes if _is(x, "ForCursor") and f'"for {x.name()} in _:_' in c.call), None)
            if loop is not None and (_trip(loop) or 99) > 4:
                continue
        if offloaded and c.group == "set_memory":
            continue  # buffers are placed by the recipes; a CPU buffer in tile memory fails
        if c.group in ENUM_GROUPS:
            out.append(Action("enum", c.call, _call(c.call)))
    return out


# What a rollout draws: recipes much more often than single enumerator steps, which are
# many and mostly neutral.
WEIGHTS = {"accumulate": 60.0, "finish": 20.0, "offload": 10.0, "block": 5.0, "privatize": 8.0, "memory": 4.0, "unroll": 4.0,
           "enum": 0.5, "stop": 6.0}


def pick(actions: list[Action], rng: random.Random, exclude: set[int]) -> int | None:
    idx = [i for i in range(len(actions)) if i not in exclude]
    if not idx:
        return None
    w = [WEIGHTS[actions[i].kind] / (1 + sum(actions[j].kind == actions[i].kind for j in idx)) ** 0.5 for i in idx]
    return rng.choices(idx, weights=w)[0]
