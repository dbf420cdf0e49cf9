"""Kernels for the search tests that are not in examples/ (names and shapes unseen by the
recipes): A·Bᵀ on 8x8 int32 tiles for the RVM accelerator, and an int32 gemv."""

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
