"""A long schedule made by repetition, in the style of Exo's apps (gemmini's matmul
schedules one kernel per size): one matmul algorithm, specialised and scheduled for many
sizes through helper functions. About 40 s under plain python on a busy 2-core machine."""

from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *

SIZES = [(16 * (1 + k % 4), 16 * (1 + (k // 4) % 4), 16) for k in range(560)]


def make_matmul():
    @proc
    def matmul(N: size, M: size, K: size, A: f32[N, K], B: f32[K, M], C: f32[N, M]):
        for i in seq(0, N):
            for j in seq(0, M):
                C[i, j] = 0.0
                for k in seq(0, K):
                    C[i, j] += A[i, k] * B[k, j]

    return matmul


def tile(p, loop, factor):
    return divide_loop(p, loop, factor, [loop + "o", loop + "i"], perfect=True)


def schedule(p, n, m, k, tag):
    p = rename(p, f"matmul_{tag}")
    p = p.partial_eval(n, m, k)
    p = tile(p, "i", 4)
    p = tile(p, "j", 4)
    p = reorder_loops(p, "ii jo")
    p = fission(p, p.find("C[_] = 0.0").after())
    p = tile(p, "k", 4)
    p = reorder_loops(p, "ji ko")
    p = unroll_loop(p, "ki")
    p = simplify(p)
    return p


base = make_matmul()
kernels = [schedule(base, n, m, k, i) for i, (n, m, k) in enumerate(SIZES)]
