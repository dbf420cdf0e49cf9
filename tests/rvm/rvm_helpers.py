"""Helpers for the RVM tests: run hand-written C kernels through the real toolchain and
simulator, with a harness generated from an Exo proc's signature."""

from __future__ import annotations

import runpy
import struct
from pathlib import Path

from exo_lsp.rvm.harness import make_harness
from exo_lsp.rvm.emulator import machine_for
from exo_lsp.rvm.timing import timing_from
from exo_lsp.rvm.toolchain import build_elf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_c(proc, kernel_c: str, *, seed=0, timing=None, budget=2_000_000, compiler="zig"):
    """Compile ``kernel_c`` (which must define ``proc``'s C function) with the harness of
    ``proc`` and simulate it. Returns (RawRun, harness)."""
    h = make_harness(proc)
    b = build_elf(kernel_c, h.c_text, compiler)
    m = machine_for(b.elf_path)
    inputs = {f"exo_arg_{k}": v for k, v in h.inputs(seed).items()}
    raw = m.run(inputs, [a.symbol for a in h.tensors], timing_from(timing), budget=budget)
    return raw, h


def words(raw, h, name):
    a = next(x for x in h.tensors if x.name == name)
    return list(struct.unpack(f"<{a.count}i", raw.outputs[a.symbol][: a.nbytes]))


def line_of(c_text: str, marker: str) -> int:
    for i, line in enumerate(c_text.splitlines(), 1):
        if marker in line:
            return i
    raise AssertionError(marker)


