"""Kernels for the search tests that are not in examples/ (names and shapes unseen by the
recipes): A·Bᵀ on 8x8 int32 tiles for the RVM accelerator, a plain A·B (8x12 by 12x8) whose
second operand must be transposed for the instruction, and an int32 gemv."""

from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *

from exo_lsp.rvm import *


@proc
def abt(a: i32[8, 8], b: i32[8, 8], res: i32[8, 8]):
    for m in seq(0, 8):
        for n in seq(0, 8):
            res[m, n] = 0
            for q in seq(0, 8):
                res[m, n] += a[m, q] * b[n, q]


@proc
def gemv(mat: i32[8, 12], vec: i32[12], dst: i32[8]):
    for row in seq(0, 8):
        dst[row] = 0
        for col in seq(0, 12):
            dst[row] += mat[row, col] * vec[col]


@proc
def matmul_ab(lhs: i32[8, 12], rhs: i32[12, 8], prod: i32[8, 8]):
    # plain C = A·B: the instruction reads its second operand transposed
    for x in seq(0, 8):
        for y in seq(0, 8):
            prod[x, y] = 0
            for z in seq(0, 12):
                prod[x, y] += lhs[x, z] * rhs[z, y]
