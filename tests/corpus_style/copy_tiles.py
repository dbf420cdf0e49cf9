"""In the style of Exo's accelerator apps: a memory class and an instruction written in the
script, an algorithm made inside a function whose loop variables shadow names the star
imports bring (``c``, ``r``), and replace_all (an op that calls other ops)."""

from __future__ import annotations

from exo import DRAM, instr, proc
from exo.libs.memories import *
from exo.stdlib.scheduling import *
from exo.stdlib.stdlib import *

ROWS = 8


class SCRATCH(DRAM):
    """A scratchpad the instruction reads from (DRAM underneath, for the C)."""

    @classmethod
    def can_read(cls):
        return True


@instr("copy4({dst_data}, {src_data});")
def copy4(dst: [f32][4] @ DRAM, src: [f32][4] @ DRAM):
    for k in seq(0, 4):
        dst[k] = src[k]


def make_copy(cols):
    @proc
    def copy_rows(src: f32[ROWS, cols], dst: f32[ROWS, cols]):
        for r in seq(0, ROWS):
            t: f32[cols] @ DRAM
            for c in seq(0, cols):
                t[c] = src[r, c]
            for c in seq(0, cols):
                dst[r, c] = t[c]

    return copy_rows


def vectorise(p, loop, name):
    p = divide_loop(p, loop, 4, [name + "o", name + "i"], perfect=True)
    return p


p = make_copy(16)
p = vectorise(p, "for c in _:_ #0", "load")
p = vectorise(p, "for c in _:_ #0", "store")
p = replace_all(p, copy4)
p = set_memory(p, "t", SCRATCH)
p = simplify(p)
copy_rows_sched = p
