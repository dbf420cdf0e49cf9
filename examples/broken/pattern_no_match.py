from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *


@proc
def scale(n: size, x: f32[n], y: f32[n]):
    assert n % 4 == 0
    for i in seq(0, n):
        y[i] = 2.0 * x[i]


p = divide_loop(scale, "for i in _:_", 4, ["io", "ii"], perfect=True)
p = unroll_loop(p, "for q in _:_")
