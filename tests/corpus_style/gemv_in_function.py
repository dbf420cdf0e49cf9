"""A schedule in the style of Exo's apps: the algorithm is made by a function (its sizes
are closed over), specialised with partial_eval and add_assertion, and scheduled through
helper functions of the script, stdlib helpers and forwarded cursors."""

from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *
from exo.stdlib.stdlib import tile_loops

TILE = 4


def make_gemv(name_suffix):
    @proc
    def gemv(M: size, N: size, A: f32[M, N], x: f32[N], y: f32[M]):
        for i in seq(0, M):
            y[i] = 0.0
            for j in seq(0, N):
                y[i] += A[i, j] * x[j]

    return rename(gemv, f"gemv_{name_suffix}")


def tile_rows(p, tile):
    p = divide_loop(p, "i", tile, ["io", "ii"], perfect=True)
    return p


def split_init(p):
    loop = p.find_loop("ii")
    p = fission(p, loop.body()[0].after())
    return p


def schedule(p):
    p = p.partial_eval(16, 8)
    p = p.add_assertion("16 > 0")
    p = tile_rows(p, TILE)
    p = split_init(p)
    inner = p.find_loop("j")
    p, (ji,) = tile_loops(p, [(inner, 2)], perfect=True)
    p = unroll_loop(p, ji)
    p = simplify(p)
    return p


gemv_sched = schedule(make_gemv("f32"))
