"""RVM instruction encodings (CUSTOM-1 major opcode) and the assembler macros header.

All RVM instructions use major opcode CUSTOM-1 (0b0101011) with funct3 = 0. Bit layouts,
from the RVM spec table:

* loads/stores  ``mld.w md, (rs1), rs2`` / ``mst.w ms, (rs1), rs2``:
  ``base | rs2 << 20 | rs1 << 15 | md << 7`` (rs2 = row stride in bytes)
* ``mzero md``: ``base | md << 15``
* tile arithmetic ``OP md, ms2, ms1``: ``base | ms2 << 21 | ms1 << 18 | md << 15``
  (note: in assembly the *second* operand is ms2; ``mmasa.w md, ms2, ms1`` computes
  ``md[i][j] += sum_k ms1[i][k] * ms2[j][k]``).

Neither clang nor binutils know these mnemonics, so :func:`asm_macros_header` produces a
C header (passed with ``-include``) whose top-level ``asm`` defines assembler macros of
the same names that expand to ``.insn 4, <word>``. Exo's generated inline asm then
assembles unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

CUSTOM1 = 0x2B

#: ABI names of x0..x31, in register-number order.
XREG_ABI = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2",
    "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7",
    "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
]  # fmt: skip


@dataclass(frozen=True)
class RvmOp:
    mnemonic: str
    base: int
    #: "mem" (md/ms, (rs1), rs2), "zero" (md), or "arith" (md, ms2, ms1)
    form: str
    #: semantics tag used by the simulator
    kind: str


RVM_OPS: dict[str, RvmOp] = {
    op.mnemonic: op
    for op in [
        RvmOp("mld.w", 0x0400082B, "mem", "load"),
        RvmOp("mst.w", 0x0C00082B, "mem", "store"),
        RvmOp("mzero", 0xF800002B, "zero", "zero"),
        RvmOp("mmasa.w", 0xF000082B, "arith", "mac_w"),
        RvmOp("mmada.h", 0xE000042B, "arith", "mac_h"),
        RvmOp("mmaqa.b", 0x1000002B, "arith", "mac_b"),
        RvmOp("fmmacc.s", 0x0800082B, "arith", "mac_f"),
    ]
}

# Bits that carry operands in each form; the rest of the word identifies the instruction.
_OPERAND_MASK = {
    "mem": (0x1F << 20) | (0x1F << 15) | (0x7 << 7),
    "zero": 0x7 << 15,
    "arith": (0x7 << 21) | (0x7 << 18) | (0x7 << 15),
}


def encode(mnemonic: str, *operands: int) -> int:
    """Encode one RVM instruction. Operands in assembly order.

    ``encode("mld.w", md, rs1, rs2)``, ``encode("mst.w", ms, rs1, rs2)``,
    ``encode("mzero", md)``, ``encode("mmasa.w", md, ms2, ms1)``.
    """
    op = RVM_OPS[mnemonic]
    if op.form == "mem":
        t, rs1, rs2 = operands
        _check(t, 8, "tile register")
        _check(rs1, 32, "rs1")
        _check(rs2, 32, "rs2")
        return op.base | rs2 << 20 | rs1 << 15 | t << 7
    if op.form == "zero":
        (md,) = operands
        _check(md, 8, "tile register")
        return op.base | md << 15
    md, ms2, ms1 = operands
    for r in (md, ms2, ms1):
        _check(r, 8, "tile register")
    return op.base | ms2 << 21 | ms1 << 18 | md << 15


def _check(v: int, n: int, what: str) -> None:
    if not 0 <= v < n:
        raise ValueError(f"{what} {v} out of range 0..{n - 1}")


@dataclass(frozen=True)
class Decoded:
    op: RvmOp
    #: for "mem": (tile, rs1, rs2); "zero": (md,); "arith": (md, ms2, ms1)
    operands: tuple[int, ...]


def decode(word: int) -> Decoded | None:
    """Decode a 32-bit word; None if it is not a known RVM instruction."""
    if word & 0x7F != CUSTOM1:
        return None
    for op in RVM_OPS.values():
        if word & ~_OPERAND_MASK[op.form] & 0xFFFFFFFF == op.base:
            if op.form == "mem":
                return Decoded(op, ((word >> 7) & 7, (word >> 15) & 31, (word >> 20) & 31))
            if op.form == "zero":
                return Decoded(op, ((word >> 15) & 7,))
            return Decoded(op, ((word >> 15) & 7, (word >> 21) & 7, (word >> 18) & 7))
    return None


def disassemble(word: int) -> str:
    d = decode(word)
    if d is None:
        return f".word 0x{word:08x}"
    if d.op.form == "mem":
        t, rs1, rs2 = d.operands
        return f"{d.op.mnemonic} m{t}, ({XREG_ABI[rs1]}), {XREG_ABI[rs2]}"
    return d.op.mnemonic + " " + ", ".join(f"m{r}" for r in d.operands)


# ---------------------------------------------------------------------------------------
# Assembler macros header


def _regnum_macro(name: str, prefix: str, names: dict[str, int]) -> list[str]:
    lines = [f".macro {name} sym, r"]
    for spelling, num in names.items():
        lines.append(f".ifc \\r,{spelling}")
        lines.append(f".set \\sym, {num}")
        lines.append(".endif")
    lines.append(".endm")
    return lines


def asm_macros_header() -> str:
    """The text of ``runtime/rvm_asm.h`` (regenerate with ``python -m exo_lsp.rvm.encoding``)."""
    xnames: dict[str, int] = {}
    for i, abi in enumerate(XREG_ABI):
        for s in (abi, f"x{i}"):
            xnames[s] = i
            xnames[f"({s})"] = i
    xnames["fp"] = xnames["(fp)"] = 8
    tnames = {f"m{i}": i for i in range(8)}
    asm: list[str] = []
    asm += _regnum_macro("rvm_xreg_", "x", xnames)
    asm += _regnum_macro("rvm_treg_", "m", tnames)
    for op in RVM_OPS.values():
        b = f"0x{op.base:08X}"
        if op.form == "mem":
            asm += [
                f".macro {op.mnemonic} t, base, stride",
                "rvm_treg_ .Lrvm_t, \\t",
                "rvm_xreg_ .Lrvm_rs1, \\base",
                "rvm_xreg_ .Lrvm_rs2, \\stride",
                f".insn 4, {b} | (.Lrvm_rs2 << 20) | (.Lrvm_rs1 << 15) | (.Lrvm_t << 7)",
                ".endm",
            ]
        elif op.form == "zero":
            asm += [
                f".macro {op.mnemonic} md",
                "rvm_treg_ .Lrvm_md, \\md",
                f".insn 4, {b} | (.Lrvm_md << 15)",
                ".endm",
            ]
        else:
            asm += [
                f".macro {op.mnemonic} md, ms2, ms1",
                "rvm_treg_ .Lrvm_md, \\md",
                "rvm_treg_ .Lrvm_ms2, \\ms2",
                "rvm_treg_ .Lrvm_ms1, \\ms1",
                f".insn 4, {b} | (.Lrvm_ms2 << 21) | (.Lrvm_ms1 << 18) | (.Lrvm_md << 15)",
                ".endm",
            ]
    body = "\n".join('    "' + line.replace("\\", "\\\\") + '\\n"' for line in asm)
    return (
        "/* Generated by exo_lsp.rvm.encoding: do not edit.\n"
        " * Assembler macros for the RVM instructions (CUSTOM-1), so that inline asm such as\n"
        ' * asm volatile("mld.w m0, (%0), %1" :: ...) assembles with clang/zig and binutils.\n'
        " * Passed to the compiler with -include. */\n"
        "#ifndef EXO_RVM_ASM_H\n#define EXO_RVM_ASM_H\n"
        "#ifndef __ASSEMBLER__\n"
        "__asm__(\n" + body + "\n);\n"
        "#endif\n#endif\n"
    )


if __name__ == "__main__":  # pragma: no cover
    from pathlib import Path

    out = Path(__file__).with_name("runtime") / "rvm_asm.h"
    out.write_text(asm_macros_header())
    print(f"wrote {out}")
