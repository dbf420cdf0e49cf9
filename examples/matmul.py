"""16x16x16 int8 matrix multiply (the transform-search notebooks' kernel), tiled 4x4."""

from __future__ import annotations

from exo import DRAM, proc
from exo.stdlib.scheduling import *


@proc
def matmul(A: i8[16, 16] @ DRAM, B: i8[16, 16] @ DRAM, C: i32[16, 16] @ DRAM):
    for i in seq(0, 16):
        for j in seq(0, 16):
            C[i, j] = 0.0
            for k in seq(0, 16):
                C[i, j] += A[i, k] * B[k, j]


p = divide_loop(matmul, "for i in _:_", 4, ["io", "ii"], perfect=True)
p = divide_loop(p, "for j in _:_", 4, ["jo", "ji"], perfect=True)
p = reorder_loops(p, "ii jo")
p = fission(p, p.find("C[_] = 0.0").after(), n_lifts=2)
p = reorder_loops(p, "ji k")
p = reorder_loops(p, "ii k")
p = unroll_loop(p, "ji #1")
p = simplify(p)

matmul_tiled = p
