"""The RVM accelerator as Exo sees it: tile-register memory and ``@instr`` procs.

Written from the RVM spec (see ../shared/reference/rvm.md): eight 4x4 int32 tile
registers m0..m7; ``mld.w``/``mst.w`` move a tile with a row stride in bytes,
``mzero`` clears one, ``mmasa.w md, ms2, ms1`` computes md[i][j] += sum_k ms1[i][k]*ms2[j][k].
Schedules import these names: ``from exo_lsp.rvm import *``.
"""

from __future__ import annotations

from exo import DRAM, instr

from ..worker.exo.memories import DRAM_STATIC, static_dram_in_section, tile_register_memory

__all__ = [
    "RVM_TILE",
    "DRAM_STATIC",
    "DRAM_INTERLEAVED",
    "rvm_mld",
    "rvm_mst",
    "rvm_mzero",
    "rvm_mmasa",
    "RVM_INSTRUCTIONS",
    "reset_rvm_state",
]

TILE_ROWS = TILE_COLS = 4

RVM_TILE = tile_register_memory(
    "RVM_TILE",
    module=__name__,
    registers=[f"m{k}" for k in range(7, -1, -1)],
    shape=(TILE_ROWS, TILE_COLS),
    elem="i32",
    ctype="int32_t",
    label="RVM tile",
    article="an",
    doc="""A tile register. Allocation hands out m7, m6, ... and frees them again.

    C has no notion of these registers, so a buffer "lives" in one by a
    ``#define name "mK"`` that the instruction templates splice into their asm.
    """,
)

DRAM_INTERLEAVED = static_dram_in_section(
    "DRAM_INTERLEAVED",
    ".xheep_data_interleaved",
    module=__name__,
    doc="Static buffers placed in X-HEEP's word-interleaved banks, where RVM loads are fastest.",
)


def reset_rvm_state() -> None:
    """Forget tile allocations left behind by a codegen that raised half-way."""
    RVM_TILE.reset_allocations()


# Operand names in the templates: {x_int} is the Exo buffer name (a macro naming the
# tile register), {x_data} the address expression of a DRAM window.
# Tile loads/stores carry a "memory" clobber: without it the C compiler may legally move
# the CPU's stores to a buffer across the asm that hands that buffer to the accelerator
# (GCC does so for the im2col tile), which makes the accelerator read stale data.


@instr(
    'asm volatile("mld.w "{md_int}", (%0), %1" :: "r"(&{src_data}), "r"(4*{src}.strides[0]) : "memory");'
)
def rvm_mld(md: [i32][4, 4] @ RVM_TILE, src: [i32][4, 4] @ DRAM):
    assert stride(src, 1) == 1
    assert stride(md, 1) == 1
    for i in seq(0, 4):
        for j in seq(0, 4):
            md[i, j] = src[i, j]


@instr(
    'asm volatile("mst.w "{ms_int}", (%0), %1" :: "r"(&{dst_data}), "r"(4*{dst}.strides[0]) : "memory");'
)
def rvm_mst(ms: [i32][4, 4] @ RVM_TILE, dst: [i32][4, 4] @ DRAM):
    assert stride(dst, 1) == 1
    assert stride(ms, 1) == 1
    for i in seq(0, 4):
        for j in seq(0, 4):
            dst[i, j] = ms[i, j]


@instr('asm volatile("mzero "{md_int});')
def rvm_mzero(md: [i32][4, 4] @ RVM_TILE):
    assert stride(md, 1) == 1
    for i in seq(0, 4):
        for j in seq(0, 4):
            md[i, j] = 0


# mmasa.w md, ms2, ms1: md[i][j] += sum_k ms1[i][k] * ms2[j][k]. The Exo argument order
# (md, ms1, ms2) is printed as "md, ms1, ms2", so Exo's ms1 is the hardware's ms2.
@instr('asm volatile("mmasa.w "{md_int}", "{ms1_int}", "{ms2_int});')
def rvm_mmasa(
    md: [i32][4, 4] @ RVM_TILE, ms1: [i32][4, 4] @ RVM_TILE, ms2: [i32][4, 4] @ RVM_TILE
):
    assert stride(md, 1) == 1
    assert stride(ms1, 1) == 1
    assert stride(ms2, 1) == 1
    for i in seq(0, 4):
        for j in seq(0, 4):
            for k in seq(0, 4):
                md[i, j] += ms2[i, k] * ms1[j, k]


RVM_INSTRUCTIONS = [rvm_mzero, rvm_mld, rvm_mst, rvm_mmasa]
