"""A schedule in the style of Exo's apps, written through the script's own helpers that
take and return cursors: cursors found once before scheduling and kept across many ops,
forwarded (``p.forward(c)``), navigated (``c.next()``, ``c.parent()``, ``c.body()[0]``,
``c.hi()``, ``c.expand(1, 0)``, gaps), in loops that stop on the first failure."""

from __future__ import annotations

import exo.API_cursors as pc
from exo import proc
from exo.stdlib.scheduling import *

ROWS = 16
COLS = 8
TAPS = 3


def make_blur():
    @proc
    def blur_rows(inp: f32[ROWS + TAPS, COLS], out: f32[ROWS, COLS]):
        for i in seq(0, ROWS):
            for j in seq(0, COLS):
                out[i, j] = 0.0
                for k in seq(0, TAPS):
                    t: f32
                    t = inp[i + k, j]
                    out[i, j] += t

    return blur_rows


def split(p, loop, factor):
    """Divide a loop (a cursor) in two, named after it."""
    loop = p.forward(loop)
    name = loop.name()
    return divide_loop(p, loop, factor, [name + "o", name + "i"], perfect=True)


def split_off_first(p, stmt):
    """Fission after `stmt` out of every loop around it, innermost first."""
    gap = p.forward(stmt).after()
    while True:
        try:
            p = fission(p, gap)
            gap = p.forward(gap).parent().after()
        except:
            break
    return p


def lift_to_top(p, stmt):
    """Move `stmt` before its siblings, one swap at a time."""
    stmt = p.forward(stmt)
    while True:
        try:
            p = reorder_stmts(p, stmt.expand(1, 0))
            stmt = p.forward(stmt)
        except:
            break
    return p


def grow_alloc(p, alloc, budget):
    """Give `alloc` one dimension per enclosing constant loop while it fits in `budget`,
    lifting it out of each."""
    alloc = p.forward(alloc)
    loop = alloc.parent()
    size = 1
    while isinstance(loop, pc.ForCursor):
        hi = loop.hi()
        if not isinstance(hi, pc.LiteralCursor) or size * hi.value() > budget:
            break
        p = expand_dim(p, alloc, hi.value(), loop.name())
        p = lift_alloc(p, alloc)
        size *= hi.value()
        loop = p.forward(alloc).parent()
    return p


def fuse_with_next(p, loop):
    """Fuse a loop with the loop right after it when their bounds agree."""
    loop = p.forward(loop)
    try:
        after = loop.next()
    except:
        return p
    if isinstance(after, pc.ForCursor) and after.name() == loop.name():
        p = fuse(p, loop, after)
    return p


def unroll_inner(p, loop):
    """Unroll the first loop nested directly in `loop`."""
    inner = p.forward(loop).body()[0]
    if isinstance(inner, pc.ForCursor):
        p = unroll_loop(p, inner)
    return p


def schedule(p):
    p = rename(p, "blur_rows_sched")
    init = p.find("out[_] = 0.0")
    load = p.find("t = _")
    tmp = p.find("t : _")
    cols = p.find_loop("j")
    taps = p.find_loop("k")

    p = split(p, cols, 4)
    p = split_off_first(p, init)
    p = lift_to_top(p, init)
    p = grow_alloc(p, tmp, TAPS * 4)
    p = split_off_first(p, load)
    p = fuse_with_next(p, p.find_loop("i"))
    p = lift_to_top(p, p.forward(taps).parent().parent())
    p = unroll_inner(p, p.forward(taps).parent())
    p = simplify(p)
    return p


blur_sched = schedule(make_blur())
