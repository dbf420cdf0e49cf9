"""Simulator semantics, cycle model, race detector and bad-input handling, on hand-written
C kernels compiled by the real toolchain."""

from __future__ import annotations

import dataclasses

import pytest
from exo import proc

from exo_lsp.rvm.emulator import SimulationError
from exo_lsp.rvm.timing import DEFAULT_TIMING

from rvm_helpers import line_of, run_c, words


@proc
def tiles(a: i32[16], b: i32[16], out: i32[16]):
    for i in seq(0, 16):
        out[i] = a[i] + b[i]


MAC_C = r"""
#include <stdint.h>
void tiles(void *ctxt, int32_t *a, int32_t *b, int32_t *out) {
    for (int i = 0; i < 16; i++) { a[i] = a[i] * 21474836 + 7; }
    asm volatile("mld.w m0, (%0), %1" :: "r"(a), "r"(16) : "memory");
    asm volatile("mld.w m5, (%0), %1" :: "r"(b), "r"(16) : "memory");
    asm volatile("mzero m1");
    asm volatile("mmasa.w m1, m0, m5");
    asm volatile("mmasa.w m1, m0, m5");
    asm volatile("mst.w m1, (%0), %1" :: "r"(out), "r"(16) : "memory");
    asm volatile("fence" ::: "memory");
}
"""


def _s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def test_mmasa_semantics_operand_order_and_wraparound():
    raw, h = run_c(tiles, MAC_C)
    ins = h.inputs(0)
    import struct

    a = [_s32(x * 21474836 + 7) for x in struct.unpack("<16i", ins["a"])]
    b = list(struct.unpack("<16i", ins["b"]))
    # mmasa.w m1, m0, m5 == m1 += m5 . m0^T (second operand is ms2), done twice
    exp = [_s32(2 * sum(b[4 * i + k] * a[4 * j + k] for k in range(4))) for i in range(4) for j in range(4)]
    assert words(raw, h, "out") == exp
    assert raw.accel_ops == 6
    assert not raw.races


LOOP_C = r"""
#include <stdint.h>
void tiles(void *ctxt, int32_t *a, int32_t *b, int32_t *out) {
    asm volatile("li t0, %0\n1: addi t0, t0, -1\n bnez t0, 1b" :: "i"(N) : "t0");
}
"""


def test_branch_costs_taken_and_not_taken():
    r10, _ = run_c(tiles, "#define N 10\n" + LOOP_C)
    r30, _ = run_c(tiles, "#define N 30\n" + LOOP_C)
    t = DEFAULT_TIMING
    # 20 more iterations, each an addi plus a taken branch
    assert r30.kernel_cycles - r10.kernel_cycles == 20 * (t.alu + t.branch_taken)
    assert r30.kernel_instret - r10.kernel_instret == 40
    slow = dataclasses.replace(t, branch_taken=7)
    r30s, _ = run_c(tiles, "#define N 30\n" + LOOP_C, timing=slow)
    assert r30s.kernel_cycles - r30.kernel_cycles == 29 * 4


def test_mcycle_reads_return_modelled_cycles():
    raw, h = run_c(tiles, "#define N 10\n" + LOOP_C)
    names = [n for n, _ in raw.counter_reads]
    assert names == ["mcycle", "minstret", "minstret", "mcycle"]
    c0, c1 = raw.counter_reads[0][1], raw.counter_reads[3][1]
    assert raw.kernel_cycles == c1 - c0 > 0


RACE_C = r"""
#include <stdint.h>
static int32_t buf[16];
void tiles(void *ctxt, int32_t *a, int32_t *b, int32_t *out) {
    for (int i = 0; i < 16; i++) buf[i] = a[i];
    asm volatile("mld.w m0, (%0), %1" :: "r"(b), "r"(16) : "memory");
    asm volatile("mld.w m1, (%0), %1" :: "r"(buf), "r"(16) : "memory");
    FENCE
    for (int i = 0; i < 16; i++) buf[i] = -1; /* overwrite */
    asm volatile("mst.w m1, (%0), %1" :: "r"(out), "r"(16) : "memory");
    READBACK
}
"""


def test_race_detector_fires_on_racy_kernel():
    src = "#define FENCE\n#define READBACK\n" + RACE_C
    raw, h = run_c(tiles, src)
    kinds = {r["kind"] for r in raw.races}
    assert "cpu_store_before_acc_load" in kinds
    r = next(r for r in raw.races if r["kind"] == "cpu_store_before_acc_load")
    assert r["cpu_line"] == line_of(src, "/* overwrite */")
    assert r["acc_line"] == line_of(src, "mld.w m1")
    # like the hardware, the late load sees the overwritten data
    import struct

    a = list(struct.unpack("<16i", h.inputs(0)["a"]))
    assert words(raw, h, "out") != a


def test_race_detector_quiet_on_fenced_kernel():
    src = '#define FENCE asm volatile("fence" ::: "memory");\n#define READBACK\n' + RACE_C
    raw, h = run_c(tiles, src)
    assert raw.races == []
    import struct

    assert words(raw, h, "out") == list(struct.unpack("<16i", h.inputs(0)["a"]))
    assert any("fence" in k for k in raw.stalls)


def test_race_detector_cpu_reads_before_accelerator_store():
    src = "#define FENCE\n#define READBACK out[0] = out[1] + 1; /* early read */\n" + RACE_C
    raw, h = run_c(tiles, src)
    early = [r for r in raw.races if r["kind"] == "cpu_load_before_acc_store"]
    assert early and early[0]["cpu_line"] == line_of(src, "    READBACK")


def test_never_halting_kernel_hits_budget():
    src = "#include <stdint.h>\nvoid tiles(void *c, int32_t *a, int32_t *b, int32_t *o) {\n" \
          "    for (;;) { asm volatile(\"\"); }\n}\n"
    with pytest.raises(SimulationError) as ei:
        run_c(tiles, src, budget=100_000)
    assert ei.value.kind == "budget"
    assert "100,000" in str(ei.value) and "does not halt" in str(ei.value)


def test_illegal_access_reports_pc_and_c_line():
    src = "#include <stdint.h>\nvoid tiles(void *c, int32_t *a, int32_t *b, int32_t *o) {\n" \
          "    volatile int32_t *p = (int32_t *)0x10;\n" \
          "    p[a[0] & 1] = 5; /* bad store */\n}\n"
    with pytest.raises(SimulationError) as ei:
        run_c(tiles, src)
    e = ei.value
    assert e.kind == "illegal_access"
    assert e.pc is not None and f"pc=0x{e.pc:08x}" in str(e)
    assert e.c_file == "kernel.c" and e.c_line == line_of(src, "/* bad store */")
    assert "0x0000001" in str(e)


def test_machines_fit_in_a_workers_address_space_limit(tmp_path):
    """A worker runs under RLIMIT_AS (memoryMb, 8 GB); Unicorn reserved 1 GB of translation
    buffer per machine and the simulator keeps up to 16, so a schedule search's worker died
    ("Could not allocate dynamic translator buffer") after about eight distinct procs. Here:
    twelve machines under a limit of 2 GB above what the process already maps."""
    import subprocess
    import sys
    import textwrap

    from exo_lsp.rvm.harness import make_harness
    from exo_lsp.rvm.toolchain import build_elf

    elf = build_elf(MAC_C, make_harness(tiles).c_text, "zig").elf_path
    code = textwrap.dedent(f"""
        import re, resource
        from pathlib import Path
        from exo_lsp.rvm.emulator import ElfImage, Machine
        vm = int(re.search(r"VmSize:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + (2 << 30), vm + (2 << 30)))
        kept = [Machine(ElfImage(Path({str(elf)!r}))) for _ in range(12)]
        print("ok", len(kept))
    """)
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert got.returncode == 0 and got.stdout.strip() == "ok 12", got.stderr[-2000:]
