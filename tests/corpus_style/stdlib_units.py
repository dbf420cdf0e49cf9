"""In the style of Exo's halide apps: the schedule goes through the script's own helpers
into the standard library's (``get_enclosing_loop_by_name``, ``vectorize``), which run
many primitives and much Python of their own; ``vectorize`` appends to the ``rules`` list
it is given."""

from __future__ import annotations

from exo import proc
from exo.platforms.x86 import *
from exo.stdlib.scheduling import *
from exo.stdlib.stdlib import vectorize
from exo.stdlib.inspection import get_enclosing_loop_by_name

# the AVX2 instructions this kernel can use, whole vectors and predicated tails
SQUARE_INSTRS = [
    mm256_loadu_ps,
    mm256_storeu_ps,
    mm256_mul_ps,
    mm256_prefix_load_ps,
    mm256_prefix_store_ps,
    mm256_prefix_mul_ps,
]


@proc
def scale_rows(h: size, w: size, src: f32[h, w] @ DRAM, dst: f32[h, w] @ DRAM):
    assert w % 8 == 0
    for y in seq(0, h):
        for x in seq(0, w):
            dst[y, x] = src[y, x] * src[y, x]


def halide_style_vectorize(p, buffer: str, loop: str, width: int, rules: list):
    loop = get_enclosing_loop_by_name(p, p.find(f"{buffer}[_] = _"), loop)
    return vectorize(p, loop, width, "f32", AVX2, SQUARE_INSTRS, rules=rules)


rules = []
p = halide_style_vectorize(scale_rows, "dst", "x", 8, rules)
print("rules after vectorize:", len(rules))
p = simplify(p)
scale_rows_avx = rename(p, "scale_rows_avx")
