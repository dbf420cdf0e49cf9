"""Simulator speed: guest instructions/s with the full cycle model on the scalar conv1d,
against Unicorn with no hooks on the same ELF (same run), and warm compile & simulate of
the conv1d example end to end. Prints medians.

    .venv/bin/python benchmarks/rvm_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import runpy
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--compiler", default="zig")
    args = ap.parse_args(argv)
    from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV32, Uc

    from exo_lsp.rvm.harness import make_harness
    from exo_lsp.rvm.emulator import machine_for
    from exo_lsp.rvm.evaluate import compile_and_simulate
    from exo_lsp.rvm.timing import DEFAULT_TIMING
    from exo_lsp.rvm.toolchain import MEMORY_MAP, build_elf

    ns = runpy.run_path(str(ROOT / "examples" / "conv1d.py"))
    scalar, final = ns["conv1d"], ns["conv1d_rvm"]
    h = make_harness(scalar)
    b = build_elf(scalar.c_code_str(), h.c_text, args.compiler)
    m = machine_for(b.elf_path)
    inputs = {f"exo_arg_{k}": v for k, v in h.inputs(0).items()}
    outs = [a.symbol for a in h.tensors]
    m.run(inputs, outs, DEFAULT_TIMING)  # translate + build blocks once
    model, n = [], 0
    for _ in range(args.repeat):
        raw = m.run(inputs, outs, DEFAULT_TIMING)
        n = raw.guest_instructions
        model.append(n / raw.wall_seconds)
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    for s, size in MEMORY_MAP.values():
        uc.mem_map(s, size)
    img = m.image
    bare = []
    for i in range(args.repeat + 1):
        for a, data in img.loads:
            uc.mem_write(a, data)
        t = time.perf_counter()
        uc.emu_start(img.entry, img.halt)
        dt = time.perf_counter() - t
        if i:
            bare.append(n / dt)
    print(f"scalar conv1d ({args.compiler}): {n:,} guest instructions per run")
    print(f"  full cycle model : {statistics.median(model) / 1e6:7.2f} M instr/s (median of {args.repeat}; goal >= 5)")
    print(f"  unicorn unhooked : {statistics.median(bare) / 1e6:7.2f} M instr/s (same ELF, same process)")

    compile_and_simulate(final, scalar, compiler=args.compiler)  # warm the caches
    warm = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        r = compile_and_simulate(final, scalar, compiler=args.compiler)
        warm.append(time.perf_counter() - t)
    print(f"warm compile & simulate of conv1d_rvm vs conv1d (codegen, cached ELF, both runs, "
          f"compare): median {statistics.median(warm) * 1000:.1f} ms (goal < 2000 ms); "
          f"speedup {r.speedup:.2f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
