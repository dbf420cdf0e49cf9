"""RVM encodings against the spec table, for every instruction and register, both from
Python and through the assembler macros of the real toolchain."""

from __future__ import annotations

import itertools
import subprocess
import tempfile
from pathlib import Path

from elftools.elf.elffile import ELFFile

from exo_lsp.rvm import encoding as E
from exo_lsp.rvm.toolchain import RUNTIME_DIR, get_profile

# The spec table (shared/reference/rvm.md), written out independently of encoding.py.
SPEC = {
    "mld.w": lambda t, rs1, rs2: 0x0400082B | rs2 << 20 | rs1 << 15 | t << 7,
    "mst.w": lambda t, rs1, rs2: 0x0C00082B | rs2 << 20 | rs1 << 15 | t << 7,
    "mzero": lambda md: 0xF800002B | md << 15,
    "mmasa.w": lambda md, ms2, ms1: 0xF000082B | ms2 << 21 | ms1 << 18 | md << 15,
    "mmada.h": lambda md, ms2, ms1: 0xE000042B | ms2 << 21 | ms1 << 18 | md << 15,
    "mmaqa.b": lambda md, ms2, ms1: 0x1000002B | ms2 << 21 | ms1 << 18 | md << 15,
    "fmmacc.s": lambda md, ms2, ms1: 0x0800082B | ms2 << 21 | ms1 << 18 | md << 15,
}
MEM_REGS = [(t, rs1, rs2) for t in range(8) for rs1 in range(32) for rs2 in range(32)]
ARITH_REGS = list(itertools.product(range(8), repeat=3))


def _operands(mn):
    form = E.RVM_OPS[mn].form
    return MEM_REGS if form == "mem" else [(m,) for m in range(8)] if form == "zero" else ARITH_REGS


def test_encode_decode_match_spec_for_every_register():
    assert set(SPEC) == set(E.RVM_OPS)
    for mn, spec in SPEC.items():
        for ops in _operands(mn):
            w = E.encode(mn, *ops)
            assert w == spec(*ops), (mn, ops)
            d = E.decode(w)
            assert d is not None and d.op.mnemonic == mn and d.operands == ops


def test_mmasa_operand_order_in_disassembly():
    # mmasa.w m1, m0, m5: md=1, ms2=0, ms1=5
    w = 0xF000082B | 0 << 21 | 5 << 18 | 1 << 15
    assert E.disassemble(w) == "mmasa.w m1, m0, m5"
    assert E.decode(0x0000002B) is None  # CUSTOM-1 but no RVM instruction


def test_header_is_generated():
    assert (RUNTIME_DIR / "rvm_asm.h").read_text() == E.asm_macros_header()


def _assemble_all():
    """One C file whose inline asm uses every mnemonic with every register spelling."""
    lines, expect = [], []
    for mn in SPEC:
        form = E.RVM_OPS[mn].form
        if form == "mem":
            for t in range(8):
                for r in range(32):
                    rs1, rs2 = r, (r * 7 + 3) % 32
                    spell1 = E.XREG_ABI[rs1] if r % 2 else f"x{rs1}"
                    lines.append(f"{mn} m{t}, ({spell1}), {E.XREG_ABI[rs2]}")
                    expect.append(SPEC[mn](t, rs1, rs2))
        elif form == "zero":
            for m in range(8):
                lines.append(f"{mn} m{m}")
                expect.append(SPEC[mn](m))
        else:
            for md, ms2, ms1 in ARITH_REGS:
                lines.append(f"{mn} m{md}, m{ms2}, m{ms1}")
                expect.append(SPEC[mn](md, ms2, ms1))
    body = "".join(f'    asm volatile("{ln}");\n' for ln in lines)
    return "void all(void) {\n" + body + "}\n", expect


def test_toolchain_assembles_every_instruction_per_spec():
    src, expect = _assemble_all()
    prof = get_profile("zig")
    with tempfile.TemporaryDirectory() as td:
        c = Path(td) / "all.c"
        c.write_text(src)
        o = Path(td) / "all.o"
        subprocess.run(
            [*prof.driver, *prof.cflags, "-I", str(RUNTIME_DIR), "-include",
             str(RUNTIME_DIR / "rvm_asm.h"), "-c", str(c), "-o", str(o)],
            check=True, capture_output=True,
        )  # fmt: skip
        with open(o, "rb") as f:
            text = ELFFile(f).get_section_by_name(".text").data()
    from exo_lsp.rvm.decode import RVM, decode_range

    got = [i.word for i in decode_range(text, 0).values() if i.cls == RVM]
    assert got == expect
