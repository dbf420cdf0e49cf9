from __future__ import annotations

from exo import DRAM, proc
from exo.stdlib.scheduling import *

from exo_lsp.rvm import *


@proc
def copy_tile(src: i32[4, 4] @ DRAM, dst: i32[4, 4] @ DRAM):
    for i in seq(0, 4):
        for j in seq(0, 4):
            dst[i, j] = src[i, j]


p = replace(copy_tile, "for j in _:_", rvm_mld)
