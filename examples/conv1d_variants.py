"""Three schedules of one 1D convolution, as in the RVM case study.

IC=4 input channels, N=16 samples, OC=16 output channels, kernel width W=4, int32.

* ``conv1d_scalar``   - the algorithm itself, on the CPU (1x);
* ``conv1d_tiled``    - output tiled 4x4, a 4x4 im2col tile of the input built per channel on
  the CPU, loads / multiply-accumulate / store on RVM with one accumulator tile (~4x);
* ``conv1d_unrolled`` - the im2col tile is shared by four output-row tiles, each with its
  own accumulator register, so the CPU packs each input tile once for four MACs (~16x).

Compile & simulate them with ``benchmarks/rvm_table.py`` or
``exo_lsp.rvm.evaluate.compile_and_simulate(variant, conv1d)``.
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


def _offload(p):
    """Tile buffers into RVM registers and replace the 4x4 loop nests by RVM instructions."""
    p = set_memory(p, "y : _", DRAM_STATIC)
    for buf in ("acc", "kernel_tile", "data_tile"):
        p = set_memory(p, f"{buf} : _", RVM_TILE)
    p = replace(p, "for ii in _:_ #0", rvm_mzero)  # acc = 0
    p = replace(p, "for i0 in _:_ #0", rvm_mld)  # data_tile <- y
    p = replace(p, "for i0 in _:_ #0", rvm_mld)  # kernel_tile <- kernels
    p = replace(p, "for ii in _:_ #0", rvm_mmasa)  # acc += kernel_tile . data_tile^T
    p = replace(p, "for ii in _:_ #0", rvm_mst)  # out <- acc
    return p


def schedule_tiled(p):
    """One 4x4 accumulator tile per (output-row tile, output-column tile)."""
    p = rename(p, "conv1d_tiled")
    p = divide_loop(p, "for i in _:_", 4, ["io", "ii"], perfect=True)
    p = divide_loop(p, "for j in _:_", 4, ["jo", "ji"], perfect=True)
    p = reorder_loops(p, "ii jo")
    p = simplify(p)
    # accumulate the 4x4 output tile in `acc`, then move the channel loop outwards
    p = stage_mem(p, p.find_loop("c").expand(1, 0), "out[ii + 4 * io, ji + 4 * jo]", "acc")
    p = expand_dim(p, "acc : _", 4, "ji")
    p = expand_dim(p, "acc : _", 4, "ii")
    p = lift_alloc(p, "acc : _", n_lifts=2)
    p = fission(p, p.find("acc[_] = 0").after(), n_lifts=2)
    p = fission(p, p.find_loop("c").after(), n_lifts=2)
    p = reorder_loops(p, "ji c")
    p = reorder_loops(p, "ii c")
    # im2col: build the 4x4 input tile once per channel
    p = expand_dim(p, "y : _", 4, "r")
    p = expand_dim(p, "y : _", 4, "ji")
    p = lift_alloc(p, "y : _", n_lifts=3)
    p = fission(p, p.find("if _: _").after(), n_lifts=3)
    p = remove_loop(p, "for ii in _:_ #1")
    # stage both operands of the 4x4 product into tiles
    p = stage_mem(p, "for ii in _:_ #1", "y[0:4, 0:4]", "data_tile")
    p = stage_mem(p, "for ii in _:_ #1", "kernels[4 * io:4 * io + 4, c, 0:4]", "kernel_tile")
    p = simplify(p)
    return simplify(_offload(p))


def schedule_unrolled(p):
    """Four accumulator tiles (m4..m7) share each im2col tile; kernel tiles reuse registers."""
    p = rename(p, "conv1d_unrolled")
    p = divide_loop(p, "for i in _:_", 16, ["io", "it"], perfect=True)
    p = divide_loop(p, "for it in _:_", 4, ["t", "ii"], perfect=True)
    p = divide_loop(p, "for j in _:_", 4, ["jo", "ji"], perfect=True)
    p = reorder_loops(p, "ii jo")
    p = reorder_loops(p, "t jo")
    p = simplify(p)
    p = stage_mem(p, p.find_loop("c").expand(1, 0), "out[ii + 4 * t + 16 * io, ji + 4 * jo]", "acc")
    for idx in ("ji", "ii", "t"):
        p = expand_dim(p, "acc : _", 4, idx)
    p = lift_alloc(p, "acc : _", n_lifts=3)
    p = fission(p, p.find("acc[_] = 0").after(), n_lifts=3)
    p = fission(p, p.find_loop("c").after(), n_lifts=3)
    for outer in ("ji", "ii", "t"):
        p = reorder_loops(p, f"{outer} c")
    p = expand_dim(p, "y : _", 4, "r")
    p = expand_dim(p, "y : _", 4, "ji")
    p = lift_alloc(p, "y : _", n_lifts=4)
    p = fission(p, p.find("if _: _").after(), n_lifts=4)
    p = remove_loop(p, "for t in _:_ #1")
    p = remove_loop(p, "for ii in _:_ #1")
    p = stage_mem(
        p, "for ii in _:_ #1", "kernels[4 * t + 16 * io:4 * t + 16 * io + 4, c, 0:4]", "kernel_tile"
    )
    p = simplify(p)
    p = expand_dim(p, "kernel_tile : _", 4, "t")
    p = lift_alloc(p, "kernel_tile : _")
    p = stage_mem(p, "for t in _:_ #1", "y[0:4, 0:4]", "data_tile")
    p = simplify(p)
    p = _offload(p)
    for _ in range(3):
        p = unroll_loop(p, "t")
    p = simplify(p)
    p = unroll_buffer(p, "acc : _", 0)
    p = unroll_buffer(p, "kernel_tile : _", 0)
    p = reuse_buffer(p, "kernel_tile_0 : _", "kernel_tile_3 : _")
    return p


conv1d_scalar = rename(conv1d, "conv1d_scalar")
conv1d_tiled = schedule_tiled(conv1d)
conv1d_unrolled = schedule_unrolled(conv1d)

VARIANTS = {
    "scalar": conv1d_scalar,
    "tiled": conv1d_tiled,
    "unrolled": conv1d_unrolled,
}
