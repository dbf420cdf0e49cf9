from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *


@proc
def add16(x: i32[16], y: i32[16]):
    for i in seq(0, 16):
        y[i] += x[i] * z


p = simplify(add16)
