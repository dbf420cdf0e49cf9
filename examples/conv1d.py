"""1D convolution on the RVM accelerator, scheduled step by step (the case study).

IC=4 input channels, N=16 samples, OC=16 output channels, kernel width W=4, int32.
The schedule tiles the output into 4x4 tiles, builds a 4x4 im2col tile of the input per
channel, stages kernels and data into tile registers, and hands loads, multiply-accumulate
and stores to RVM, unrolled over four accumulator tiles.
"""

from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *

from exo_lsp.rvm import *


@proc
def conv1d(data: i32[4, 16], kernels: i32[16, 4, 4], out: i32[16, 16]):
    for i in seq(0, 16):
        for j in seq(0, 16):
            out[i, j] = 0
            for c in seq(0, 4):
                for r in seq(0, 4):
                    y: i32
                    if j + r < 16:
                        y = data[c, j + r]
                    else:
                        y = 0
                    out[i, j] += kernels[i, c, r] * y


p = rename(conv1d, "conv1d_rvm")

# Tile the output 4x4 for the accelerator; group four i-tiles for four accumulators.
p = divide_loop(p, "for i in _:_", 4, ["io", "ii"], perfect=True)
p = divide_loop(p, "for j in _:_", 4, ["jo", "ji"], perfect=True)
p = reorder_loops(p, "ii jo")
p = divide_loop(p, "for io in _:_", 4, ["ioo", "ioi"], perfect=True)
p = reorder_loops(p, "ioi jo")
p = simplify(p)

# Accumulate in `acc`, grown to four 4x4 tiles and lifted out of the tile loops.
p = stage_mem(p, p.find_loop("c").expand(1, 0), "out[4 * ioi + 16 * ioo + ii, 4 * jo + ji]", "acc")
p = expand_dim(p, "acc : _", 4, "ji")
p = expand_dim(p, "acc : _", 4, "ii")
p = expand_dim(p, "acc : _", 4, "ioi")
p = lift_alloc(p, "acc : _", n_lifts=3)
p = fission(p, p.find("acc[_] = 0").after(), n_lifts=3)
p = fission(p, p.find_loop("c").after(), n_lifts=3)

# Bring the channel loop outside the tile loops.
p = reorder_loops(p, "ji c")
p = reorder_loops(p, "ii c")
p = reorder_loops(p, "ioi c")

# im2col: one 4x4 tile of the input per channel, computed once for all four i-tiles.
p = expand_dim(p, "y : _", 4, "r")
p = expand_dim(p, "y : _", 4, "ji")
p = lift_alloc(p, "y : _", n_lifts=4)
p = fission(p, p.find("if _: _").after(), n_lifts=4)
p = remove_loop(p, "for ioi in _:_ #1")
p = remove_loop(p, "for ii in _:_ #1")

# Stage kernel and data tiles for the accelerator.
p = stage_mem(p, "for ii in _:_ #1", "kernels[4 * ioi + 16 * ioo:4 * ioi + 16 * ioo + 4, c, 0:4]", "kernel_tile")
p = simplify(p)
p = expand_dim(p, "kernel_tile : _", 4, "ioi")
p = lift_alloc(p, "kernel_tile : _")
p = stage_mem(p, "for ioi in _:_ #1", "y[0:4, 0:4]", "data_tile")
p = simplify(p)

# Put buffers in tile registers and offload to RVM instructions.
p = set_memory(p, "y : _", DRAM_STATIC)
p = set_memory(p, "acc : _", RVM_TILE)
p = set_memory(p, "kernel_tile : _", RVM_TILE)
p = set_memory(p, "data_tile : _", RVM_TILE)
p = replace(p, "for ii in _:_ #0", rvm_mzero)
p = replace(p, "for i0 in _:_ #0", rvm_mld)
p = replace(p, "for i0 in _:_ #0", rvm_mld)
p = replace(p, "for ii in _:_ #0", rvm_mmasa)
p = replace(p, "for ii in _:_ #0", rvm_mst)

# One accumulator register per i-tile; kernel tiles share registers.
p = unroll_loop(p, "ioi")
p = unroll_loop(p, "ioi")
p = unroll_loop(p, "ioi")
p = simplify(p)
p = unroll_buffer(p, "acc : _", 0)
p = unroll_buffer(p, "kernel_tile : _", 0)
p = reuse_buffer(p, "kernel_tile_0 : _", "kernel_tile_3 : _")

# The CPU builds the next channel's im2col tile while the accelerator may still be loading
# this one (RVM does not block the CPU): one tile per channel, so no store overtakes a load.
p = expand_dim(p, "y : _", 4, "c")
p = lift_alloc(p, "y : _")

conv1d_rvm = p
