"""Corpus-style: stdlib's vectorize tries every instruction of a list at every statement, most
of them fail (halide unsharp style): about 1600 steps, 1400 of them failed."""

from __future__ import annotations

from exo import *
from exo.platforms.x86 import *
from exo.stdlib.scheduling import *
from exo.stdlib.inspection import get_enclosing_loop_by_name
from exo.stdlib.stdlib import vectorize

AVX_F32 = [mm256_loadu_ps, mm256_storeu_ps, mm256_mul_ps, mm256_add_ps, mm256_sub_ps, mm256_broadcast_ss,
           mm256_prefix_load_ps, mm256_prefix_store_ps, mm256_prefix_add_ps, mm256_prefix_mul_ps]


@proc
def smooth(W: size, H: size, out: f32[H, W], inp: f32[H, W + 2]):
    tmp: f32[H, W]
    for y in seq(0, H):
        for x in seq(0, W):
            tmp[y, x] = 0.25 * inp[y, x] + 0.5 * inp[y, x + 1] + 0.25 * inp[y, x + 2]
    for y in seq(0, H):
        for x in seq(0, W):
            out[y, x] = 2.0 * tmp[y, x] - inp[y, x + 1]


p = smooth
for buf in ["tmp", "out"]:
    loop = get_enclosing_loop_by_name(p, p.find(f"{buf} = _"), "x")
    p = vectorize(p, loop, 8, "f32", AVX2, AVX_F32, rules=[])
p = simplify(p)
