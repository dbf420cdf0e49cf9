"""Just enough RV32IMC + Zicsr decoding for the cycle model.

Each instruction is classified (ALU, load, store, mul, ...) and its register operands are
extracted so that the model can apply per-class costs, branch penalties and hazards.
"""

from __future__ import annotations

# instruction classes
ALU, LOAD, STORE, MUL, MULH, DIV, JAL, JALR, BRANCH, CSR, RVM, OTHER, ILLEGAL = range(13)
CLASS_NAMES = [
    "alu", "load", "store", "mul", "mulh", "div", "jal", "jalr", "branch", "csr", "rvm",
    "other", "illegal",
]  # fmt: skip

COUNTER_CSRS = {0xB00, 0xB02, 0xB80, 0xB82, 0xC00, 0xC01, 0xC02, 0xC80, 0xC81, 0xC82}
CYCLE_CSRS = {0xB00: "mcycle", 0xC00: "cycle", 0xB80: "mcycleh", 0xC80: "cycleh"}
INSTRET_CSRS = {0xB02: "minstret", 0xC02: "instret", 0xB82: "minstreth", 0xC82: "instreth"}


class Insn:
    __slots__ = ("addr", "size", "cls", "rd", "rs1", "rs2", "word", "csr")

    def __init__(self, addr, size, cls, rd=0, rs1=0, rs2=0, word=0, csr=-1):
        self.addr = addr
        self.size = size
        self.cls = cls
        self.rd = rd
        self.rs1 = rs1
        self.rs2 = rs2
        self.word = word
        self.csr = csr

    def __repr__(self):
        return (
            f"Insn(0x{self.addr:x}, {CLASS_NAMES[self.cls]}, rd={self.rd}, "
            f"rs1={self.rs1}, rs2={self.rs2})"
        )


def decode_at(code: bytes, off: int, addr: int) -> Insn:
    lo = code[off] | code[off + 1] << 8
    if lo & 3 != 3:
        return _decode_c(lo, addr)
    if off + 4 > len(code):
        return Insn(addr, 2, ILLEGAL, word=lo)
    w = lo | code[off + 2] << 16 | code[off + 3] << 24
    return _decode_32(w, addr)


def _decode_32(w: int, addr: int) -> Insn:
    op = w & 0x7F
    rd = (w >> 7) & 31
    rs1 = (w >> 15) & 31
    rs2 = (w >> 20) & 31
    f3 = (w >> 12) & 7
    if op in (0x37, 0x17):
        return Insn(addr, 4, ALU, rd, 0, 0, w)
    if op == 0x6F:
        return Insn(addr, 4, JAL, rd, 0, 0, w)
    if op == 0x67:
        return Insn(addr, 4, JALR, rd, rs1, 0, w)
    if op == 0x63:
        return Insn(addr, 4, BRANCH, 0, rs1, rs2, w)
    if op == 0x03:
        return Insn(addr, 4, LOAD, rd, rs1, 0, w)
    if op == 0x23:
        return Insn(addr, 4, STORE, 0, rs1, rs2, w)
    if op == 0x13:
        return Insn(addr, 4, ALU, rd, rs1, 0, w)
    if op == 0x33:
        if (w >> 25) == 1:
            cls = MUL if f3 == 0 else (MULH if f3 < 4 else DIV)
            return Insn(addr, 4, cls, rd, rs1, rs2, w)
        return Insn(addr, 4, ALU, rd, rs1, rs2, w)
    if op == 0x0F:
        return Insn(addr, 4, OTHER, 0, 0, 0, w)
    if op == 0x73:
        if f3 == 0:
            return Insn(addr, 4, OTHER, 0, 0, 0, w)
        csr = w >> 20
        src = rs1 if f3 < 4 else 0
        return Insn(addr, 4, CSR, rd, src, 0, w, csr)
    if op == 0x2B:
        return Insn(addr, 4, RVM, 0, rs1, rs2, w)
    return Insn(addr, 4, ILLEGAL, 0, 0, 0, w)


def _decode_c(w: int, addr: int) -> Insn:
    q = w & 3
    f3 = w >> 13
    r3a = 8 + ((w >> 7) & 7)  # rs1'/rd' at [9:7]
    r3b = 8 + ((w >> 2) & 7)  # rs2'/rd' at [4:2]
    r5a = (w >> 7) & 31
    r5b = (w >> 2) & 31
    if w == 0:
        return Insn(addr, 2, ILLEGAL, word=w)
    if q == 0:
        if f3 == 0:
            return Insn(addr, 2, ALU, r3b, 2, 0, w)
        if f3 == 2:
            return Insn(addr, 2, LOAD, r3b, r3a, 0, w)
        if f3 == 6:
            return Insn(addr, 2, STORE, 0, r3a, r3b, w)
        return Insn(addr, 2, ILLEGAL, word=w)
    if q == 1:
        if f3 == 0:
            return Insn(addr, 2, ALU, r5a, r5a, 0, w)
        if f3 == 1:
            return Insn(addr, 2, JAL, 1, 0, 0, w)
        if f3 == 2:
            return Insn(addr, 2, ALU, r5a, 0, 0, w)
        if f3 == 3:
            return Insn(addr, 2, ALU, r5a, 2 if r5a == 2 else 0, 0, w)
        if f3 == 4:
            if (w >> 10) & 3 == 3:
                return Insn(addr, 2, ALU, r3a, r3a, r3b, w)
            return Insn(addr, 2, ALU, r3a, r3a, 0, w)
        if f3 == 5:
            return Insn(addr, 2, JAL, 0, 0, 0, w)
        return Insn(addr, 2, BRANCH, 0, r3a, 0, w)
    # q == 2
    if f3 == 0:
        return Insn(addr, 2, ALU, r5a, r5a, 0, w)
    if f3 == 2:
        return Insn(addr, 2, LOAD, r5a, 2, 0, w)
    if f3 == 4:
        bit12 = (w >> 12) & 1
        if not bit12:
            if r5b == 0:
                return Insn(addr, 2, JALR, 0, r5a, 0, w)
            return Insn(addr, 2, ALU, r5a, 0, r5b, w)
        if r5a == 0 and r5b == 0:
            return Insn(addr, 2, OTHER, 0, 0, 0, w)
        if r5b == 0:
            return Insn(addr, 2, JALR, 1, r5a, 0, w)
        return Insn(addr, 2, ALU, r5a, r5a, r5b, w)
    if f3 == 6:
        return Insn(addr, 2, STORE, 0, 2, r5b, w)
    return Insn(addr, 2, ILLEGAL, word=w)


def decode_range(code: bytes, base: int) -> dict[int, Insn]:
    """Linear sweep over a code section (RV32 has no embedded data in .text here)."""
    out: dict[int, Insn] = {}
    off = 0
    n = len(code)
    while off + 2 <= n:
        ins = decode_at(code, off, base + off)
        out[base + off] = ins
        off += ins.size
    return out
