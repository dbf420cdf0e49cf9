"""RV32IMC + RVM simulator on Unicorn with a cycle model.

* The CPU runs natively in Unicorn. A block hook charges each basic block's precomputed
  cost (per-class CV32E40X costs, load-use and jalr hazards inside the block) and adds the
  taken-branch penalty when the next block is not the fall-through of a conditional
  branch. div/rem get a per-instruction hook (their cost depends on the divisor).
* RVM instructions (CUSTOM-1) are illegal to Unicorn: they arrive through ``UC_HOOK_INTR``
  (intno 2) with PC already past the instruction; they are decoded, timed by
  :class:`~exo_lsp.rvm.accel.Accelerator` and emulated.
* ``mcycle``/``minstret`` reads return the modelled counters: a hook on the instruction
  after each counter read overwrites its destination register.
* Races: when the program uses RVM, CPU loads/stores are checked against the memory of
  queued accelerator loads/stores.
* Faults: unmapped/protected accesses stop with PC and C line; a budget of instructions
  stops kernels that never halt.

One :class:`Machine` per ELF keeps its Unicorn instance (and Unicorn's translation cache)
across runs; memory and registers are reset for each run.
"""

from __future__ import annotations

import bisect
import ctypes
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from unicorn import (
    UC_ARCH_RISCV,
    UC_HOOK_BLOCK,
    UC_HOOK_CODE,
    UC_HOOK_INTR,
    UC_HOOK_MEM_FETCH_UNMAPPED,
    UC_HOOK_MEM_INVALID,
    UC_HOOK_MEM_READ,
    UC_HOOK_MEM_WRITE,
    UC_MEM_FETCH_UNMAPPED,
    UC_MEM_READ_PROT,
    UC_MEM_READ_UNMAPPED,
    UC_MEM_WRITE_PROT,
    UC_MEM_WRITE_UNMAPPED,
    UC_MODE_RISCV32,
    Uc,
    UcError,
)
from unicorn import riscv_const as R

from ..shared.lru import LRU
from . import decode as D
from .accel import Accelerator, UNIT_NAMES
from .encoding import decode as rvm_decode
from .encoding import disassemble
from .timing import TimingModel
from .toolchain import HARNESS_FILE, KERNEL_FILE, MEMORY_MAP

DEFAULT_BUDGET = 50_000_000

_XREGS = [getattr(R, f"UC_RISCV_REG_X{i}") for i in range(32)]


class SimulationError(Exception):
    """The program misbehaved: fault, illegal instruction, budget exhausted."""

    def __init__(self, kind: str, message: str, pc: int | None = None, c_line: int | None = None, c_file: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.pc = pc
        self.c_line = c_line
        self.c_file = c_file


# ---------------------------------------------------------------------------------------
# ELF


class ElfImage:
    """Everything the simulator needs from one ELF, parsed once."""

    def __init__(self, path: Path):
        from elftools.elf.elffile import ELFFile

        self.path = Path(path)
        with open(path, "rb") as f:
            elf = ELFFile(f)
            self.entry = elf.header["e_entry"]
            self.loads: list[tuple[int, bytes]] = []
            for sec in elf.iter_sections():
                if sec["sh_type"] == "SHT_PROGBITS" and sec["sh_flags"] & 2 and sec["sh_size"]:
                    self.loads.append((sec["sh_addr"], sec.data()))
            self.symbols: dict[str, tuple[int, int]] = {}
            self.functions: list[tuple[int, int, str]] = []
            for s in elf.get_section_by_name(".symtab").iter_symbols():
                if s.name:
                    self.symbols[s.name] = (s["st_value"], s["st_size"])
                    if s["st_info"]["type"] == "STT_FUNC":
                        self.functions.append((s["st_value"], s["st_size"], s.name))
            self.functions.sort()
            text = elf.get_section_by_name(".text")
            self.text_base = text["sh_addr"]
            self.text = text.data()
            self.lines = _line_table(elf)
        self.insns = D.decode_range(self.text, self.text_base)
        self.halt = self.symbols["_exo_halt"][0]
        self.uses_rvm = any(i.cls == D.RVM for i in self.insns.values())
        self._line_addrs = [a for a, _, _ in self.lines]

    def line_of(self, addr: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self._line_addrs, addr) - 1
        if i < 0:
            return None
        a, file, line = self.lines[i]
        if file is None:
            return None
        return file, line

    def function_of(self, addr: int) -> str | None:
        for a, n, name in self.functions:
            if a <= addr < a + max(n, 1):
                return name
        return None

    def where(self, addr: int) -> str:
        fn = self.function_of(addr)
        loc = self.line_of(addr)
        s = f"pc=0x{addr:08x}"
        if fn:
            s += f" in {fn}"
        if loc:
            s += f" ({loc[0]}:{loc[1]})"
        return s


def _line_table(elf) -> list[tuple[int, str | None, int]]:
    """Sorted (address, file basename, line); file None marks end of a sequence."""
    rows: list[tuple[int, str | None, int]] = []
    if not elf.has_dwarf_info():
        return rows
    dw = elf.get_dwarf_info()
    for cu in dw.iter_CUs():
        lp = dw.line_program_for_CU(cu)
        if lp is None:
            continue
        ver = lp.header["version"]
        fes = lp.header["file_entry"]

        def fname(idx, fes=fes, ver=ver):
            j = idx if ver >= 5 else idx - 1
            if 0 <= j < len(fes):
                n = fes[j].name
                return os.path.basename(n.decode() if isinstance(n, bytes) else n)
            return "?"

        for e in lp.get_entries():
            st = e.state
            if st is None:
                continue
            if st.end_sequence:
                rows.append((st.address, None, 0))
            else:
                rows.append((st.address, fname(st.file), st.line))
    # stable sort by address; for equal addresses keep the last real row; line 0
    # (compiler-generated code) inherits the line before it
    rows.sort(key=lambda r: r[0])
    prev = None
    for k, r in enumerate(rows):
        if r[1] is not None and r[2] == 0 and prev is not None and prev[1] == r[1]:
            rows[k] = (r[0], r[1], prev[2])
        elif r[1] is not None:
            prev = rows[k]
        else:
            prev = None
    dedup: list[tuple[int, str | None, int]] = []
    for r in rows:
        if dedup and dedup[-1][0] == r[0]:
            if r[1] is not None or dedup[-1][1] is None:
                dedup[-1] = r
        else:
            dedup.append(r)
    return dedup


# ---------------------------------------------------------------------------------------
# Run results


@dataclass
class RawRun:
    cycles_cpu_end: int
    counter_reads: list[tuple[str, int]]
    instret: int
    kernel_cycles: int
    kernel_instret: int
    kernel_start: int
    kernel_cpu_end: int
    accel_drain: int
    outputs: dict[str, bytes]
    #: (file, line) -> cycles / instructions (CPU cycles including stalls)
    line_cycles: dict[tuple[str, int], int]
    line_instrs: dict[tuple[str, int], int]
    line_stalls: dict[tuple[str, int], int]
    accel_busy: dict[str, int]
    accel_ops: int
    stalls: dict[str, int]
    stall_counts: dict[str, int]
    races: list[dict]
    guest_instructions: int = 0
    wall_seconds: float = 0.0
    trace: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Machine


TCG_BUFFER_BYTES = 64 << 20


class Machine:
    def __init__(self, image: ElfImage):
        self.image = image
        self.lock = threading.Lock()
        uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
        # Unicorn reserves 1 GB of address space for translated code by default: the
        # machines kept (MAX_MACHINES) then exceed a worker's RLIMIT_AS (memoryMb, 8 GB) and
        # the worker dies ("Could not allocate dynamic translator buffer") after about eight
        # distinct procs, as a schedule search simulates. Kernels are small; this is plenty.
        uc.ctl_set_tcg_buffer_size(TCG_BUFFER_BYTES)
        self.uc = uc
        self.regions = [(s, s + n) for s, n in MEMORY_MAP.values()]
        for s, n in MEMORY_MAP.values():
            uc.mem_map(s, n)
        il = MEMORY_MAP["ram_il"]
        self._il = (il[0], il[0] + il[1])
        self._install_hooks()

    # -- hooks --------------------------------------------------------------------------
    def _install_hooks(self) -> None:
        img = self.image
        uc = self.uc
        insns = img.insns
        blocks: dict[int, list] = {}
        self.blocks = blocks
        S = self  # run state lives on the machine; hot values in closure cells
        # hot state (closure cells are the fastest mutable state from a ctypes callback)
        SENTINEL = [0, 0, 0, 0, -1, 0, {}, [], 0]
        cyc = 0
        cur = SENTINEL
        next_due = 1 << 62
        next_check = 1 << 62
        next_event = 1 << 62
        budget = DEFAULT_BUDGET
        taken_pen = 2
        costs = None  # per-class cost table
        timing: TimingModel | None = None

        def build_block(addr: int, size: int) -> list:
            t = timing
            cost = 0
            n = 0
            prefix = {}
            lines = []
            prev = None
            a = addr
            end = addr + size
            last = None
            while a < end:
                i = insns.get(a)
                if i is None:
                    break
                prefix[a] = (cost, n)
                c = costs[i.cls]
                if i.cls == D.CSR:
                    c = t.csr_counter_read if i.csr in D.COUNTER_CSRS else t.csr_other
                if prev is not None:
                    if prev.cls == D.LOAD and prev.rd and (i.rs1 == prev.rd or i.rs2 == prev.rd):
                        c += t.load_use_hazard
                    if i.cls == D.JALR and prev.rd and i.rs1 == prev.rd:
                        c += t.jalr_hazard
                lines.append((a, c))
                cost += c
                n += 1
                prev = last = i
                a += i.size
            fall = -1
            if last is not None and last.cls == D.BRANCH:
                fall = last.addr + last.size
            # [size, cost, exec count, taken count, fallthrough, ninstr, prefix, per-insn costs, last addr]
            b = [size, cost, 0, 0, fall, n, prefix, lines, last.addr if last else addr]
            blocks[addr] = b
            return b

        def instret_total() -> int:
            """Instructions retired up to the start of the current block's execution."""
            n = 0
            for b in blocks.values():
                n += b[2] * b[5]
            return n - cur[5]

        def on_event(addr: int) -> None:
            nonlocal next_due, next_check, next_event
            if cyc >= next_due:
                next_due = S.accel.advance(cyc)
            if cyc >= next_check:
                n = instret_total()
                if n > budget:
                    S._fault = SimulationError(
                        "budget",
                        f"instruction budget of {budget:,} exhausted: the kernel does not halt "
                        f"(last block at {img.where(addr)})",
                        addr,
                        *_line_args(img, addr),
                    )
                    uc.emu_stop()
                next_check = cyc + (budget - n) + 1
            next_event = min(next_due, next_check)

        def on_block(h, addr, size, ud):
            # `cur` is the block that just finished: charge it, then check its exit branch
            nonlocal cyc, cur
            c = cur
            cyc += c[1]
            f = c[4]
            if addr != f and f >= 0:
                cyc += taken_pen
                c[3] += 1
            b = blocks.get(addr)
            if b is None or b[0] != size:
                try:
                    b = build_block(addr, size)
                except BaseException as e:  # pragma: no cover - defensive
                    S._fault = e
                    uc.emu_stop()
                    return
            b[2] += 1
            cur = b
            if cyc >= next_event:
                on_event(addr)

        def now_at(addr: int) -> int:
            p = cur[6].get(addr)
            if p is not None:
                return cyc + p[0]
            return cyc

        def instret_at(addr: int) -> int:
            n = instret_total()
            p = cur[6].get(addr)
            if p is not None:
                return n + p[1]
            return n

        def on_intr(uc_, intno, ud):
            nonlocal cyc, next_due, next_event
            pc = uc_.reg_read(R.UC_RISCV_REG_PC)
            if intno == 2:
                for ilen in (4, 2):
                    ia = pc - ilen
                    i = insns.get(ia)
                    if i is not None and i.size == ilen:
                        break
                else:
                    i = None
                d = rvm_decode(i.word) if i is not None and i.cls == D.RVM else None
                if d is not None:
                    now = now_at(ia)
                    rs1 = uc_.reg_read(_XREGS[d.operands[1]]) if d.op.form == "mem" else 0
                    rs2 = uc_.reg_read(_XREGS[d.operands[2]]) if d.op.form == "mem" else 0
                    stall = S.accel.issue(now, ia, d, rs1, rs2)
                    cyc += stall
                    nd = S.accel.next_due()
                    if nd < next_due:
                        next_due = nd
                        next_event = min(next_due, next_check)
                    return
                ia = i.addr if i is not None else pc - 4
                word = f"0x{i.word:08x}" if i is not None else "?"
                S._fault = SimulationError(
                    "illegal_instruction",
                    f"illegal instruction {word} at {img.where(ia)}",
                    ia,
                    *_line_args(img, ia),
                )
            else:
                S._fault = SimulationError(
                    "exception",
                    f"unexpected exception (cause {intno}) near {img.where(pc)}",
                    pc,
                    *_line_args(img, pc),
                )
            uc_.emu_stop()

        def on_mem_invalid(uc_, access, address, size, value, ud):
            pc = uc_.reg_read(R.UC_RISCV_REG_PC)
            what = {
                UC_MEM_READ_UNMAPPED: "read of unmapped",
                UC_MEM_WRITE_UNMAPPED: "write to unmapped",
                UC_MEM_FETCH_UNMAPPED: "jump to unmapped",
                UC_MEM_READ_PROT: "read of protected",
                UC_MEM_WRITE_PROT: "write to protected",
            }.get(access, "invalid access to")
            S._fault = SimulationError(
                "illegal_access",
                f"illegal memory access: {what} address 0x{address:08x} ({size} bytes) at "
                f"{img.where(pc)}",
                pc,
                *_line_args(img, pc),
            )
            return False

        # counter reads: value computed at the csrr, written into rd before the next insn
        self._counter_sites = []
        pending_counter = {}

        def on_counter_read(uc_, addr, size, ud):
            i = insns[addr]
            if i.csr in D.CYCLE_CSRS:
                val = now_at(addr)
                name = D.CYCLE_CSRS[i.csr]
            else:
                val = instret_at(addr)
                name = D.INSTRET_CSRS[i.csr]
            if name.endswith("h"):
                val >>= 32
            pending_counter[addr + i.size] = (i.rd, val & 0xFFFFFFFF)
            S._counter_reads.append((name, val))

        def on_counter_write(uc_, addr, size, ud):
            p = pending_counter.pop(addr, None)
            if p is not None and p[0]:
                uc_.reg_write(_XREGS[p[0]], p[1])

        def on_div(uc_, addr, size, ud):
            nonlocal cyc
            i = insns[addr]
            v = uc_.reg_read(_XREGS[i.rs2]) & 0xFFFFFFFF if i.rs2 else 0
            clz = 32 - v.bit_length()
            extra = timing.div_base + clz
            cyc += extra
            S._dyn_by_pc[addr] = S._dyn_by_pc.get(addr, 0) + extra

        def on_fence(uc_, addr, size, ud):
            nonlocal cyc
            now = now_at(addr)
            stall = S.accel.fence(now)
            if stall:
                cyc += stall
                st = S.accel.stats.cpu_stall_by_pc
                st[addr] = st.get(addr, 0) + stall
                S.accel.advance(now + stall)

        def on_mem_write(uc_, access, address, size, value, ud):
            acc = S.accel
            if acc.pending_loads:
                pc = uc_.reg_read(R.UC_RISCV_REG_PC)
                acc.check_cpu_store(pc, address, size, now_at(pc))

        def on_mem_read(uc_, access, address, size, value, ud):
            acc = S.accel
            if acc.pending_stores:
                pc = uc_.reg_read(R.UC_RISCV_REG_PC)
                acc.check_cpu_load(pc, address, size, now_at(pc))

        # raw ctypes block hook: the hottest path, bypassing the binding's wrapper
        from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

        CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_void_p)

        self._block_cb = CB(on_block)
        hh = uc_hook_h()
        err = uclib.uc_hook_add(
            uc._uch,
            ctypes.byref(hh),
            UC_HOOK_BLOCK,
            ctypes.cast(self._block_cb, ctypes.c_void_p),
            None,
            ctypes.c_uint64(1),
            ctypes.c_uint64(0),
        )
        if err:
            raise UcError(err)
        uc.hook_add(UC_HOOK_INTR, on_intr)
        uc.hook_add(UC_HOOK_MEM_INVALID | UC_HOOK_MEM_FETCH_UNMAPPED, on_mem_invalid)
        for a, i in insns.items():
            if i.cls == D.CSR and i.csr in D.COUNTER_CSRS and ((i.word >> 15) & 31) == 0:
                uc.hook_add(UC_HOOK_CODE, on_counter_read, begin=a, end=a)
                uc.hook_add(UC_HOOK_CODE, on_counter_write, begin=a + i.size, end=a + i.size)
                self._counter_sites.append(a)
            elif i.cls == D.DIV:
                uc.hook_add(UC_HOOK_CODE, on_div, begin=a, end=a)
            elif i.cls == D.OTHER and i.size == 4 and i.word & 0x7F == 0x0F and img.uses_rvm:
                uc.hook_add(UC_HOOK_CODE, on_fence, begin=a, end=a)
        if img.uses_rvm:
            for lo, hi in self.regions:
                uc.hook_add(UC_HOOK_MEM_WRITE, on_mem_write, begin=lo, end=hi - 1)
                uc.hook_add(UC_HOOK_MEM_READ, on_mem_read, begin=lo, end=hi - 1)

        def reset(t: TimingModel, bud: int) -> None:
            nonlocal cyc, cur, next_due, next_check, next_event, budget, taken_pen, costs, timing
            cyc = 0
            cur = SENTINEL
            next_due = 1 << 62
            budget = bud
            next_check = next_event = bud + 1
            if timing != t:
                blocks.clear()
            timing = t
            taken_pen = t.branch_taken - t.branch_not_taken
            costs = [0] * 13
            costs[D.ALU] = t.alu
            costs[D.LOAD] = t.load
            costs[D.STORE] = t.store
            costs[D.MUL] = t.mul
            costs[D.MULH] = t.mulh
            costs[D.DIV] = 0  # dynamic, see on_div
            costs[D.JAL] = t.jump
            costs[D.JALR] = t.jump
            costs[D.BRANCH] = t.branch_not_taken
            costs[D.CSR] = t.csr_other
            costs[D.RVM] = t.rvm_issue
            costs[D.OTHER] = t.alu
            costs[D.ILLEGAL] = t.alu
            for b in blocks.values():
                b[2] = b[3] = 0
            pending_counter.clear()

        def finish() -> tuple[int, int]:
            nonlocal cyc, cur
            cyc += cur[1]
            n = instret_total() + cur[5]
            cur = SENTINEL
            return cyc, n

        self._reset_core = reset
        self._finish_core = finish

    # -- running ------------------------------------------------------------------------
    def _is_interleaved(self, lo: int, hi: int) -> bool:
        return self._il[0] <= lo and hi <= self._il[1]

    def run(self, inputs: dict[str, bytes], outputs: list[str], timing: TimingModel, budget: int = DEFAULT_BUDGET, timeout_s: float = 60.0) -> RawRun:
        import time

        with self.lock:
            uc = self.uc
            img = self.image
            for lo, hi in self.regions:
                uc.mem_write(lo, bytes(hi - lo))
            for a, data in img.loads:
                uc.mem_write(a, data)
            for sym, data in inputs.items():
                addr, size = img.symbols[sym]
                if size and len(data) > size:
                    raise ValueError(f"{sym}: {len(data)} bytes do not fit in {size}")
                uc.mem_write(addr, data)
            for r in _XREGS:
                uc.reg_write(r, 0)
            self.accel = Accelerator(timing, uc.mem_read, uc.mem_write, self._is_interleaved)
            self._fault = None
            self._counter_reads = []
            self._dyn_by_pc = {}
            self._reset_core(timing, budget)
            t0 = time.perf_counter()
            try:
                uc.emu_start(img.entry, img.halt, timeout=int(timeout_s * 1e6))
            except UcError as e:
                if self._fault is None:
                    pc = uc.reg_read(R.UC_RISCV_REG_PC)
                    self._fault = SimulationError("emulator", f"emulation error {e} at {img.where(pc)}", pc, *_line_args(img, pc))
            wall = time.perf_counter() - t0
            cyc, ins = self._finish_core()
            if self._fault is not None:
                raise self._fault
            pc = uc.reg_read(R.UC_RISCV_REG_PC)
            if pc != img.halt:
                raise SimulationError(
                    "timeout",
                    f"simulation stopped after {timeout_s:.0f} s of wall time at {img.where(pc)} "
                    f"without halting",
                    pc,
                    *_line_args(img, pc),
                )
            acc = self.accel
            acc.drain_all()
            outs = {}
            for sym in outputs:
                addr, size = img.symbols[sym]
                outs[sym] = bytes(uc.mem_read(addr, size))
            return self._collect(cyc, ins, outs, wall)

    def _collect(self, cyc: int, ins: int, outs: dict[str, bytes], wall: float) -> RawRun:
        img = self.image
        acc = self.accel
        reads = self._counter_reads
        cyc_reads = [v for n, v in reads if n in ("mcycle", "cycle")]
        ins_reads = [v for n, v in reads if n in ("minstret", "instret")]
        if len(cyc_reads) >= 2:
            k0, k1 = cyc_reads[0], cyc_reads[-1]
        else:
            k0, k1 = 0, cyc
        drain = acc.stats.drain
        kernel_cycles = max(k1, drain) - k0
        kernel_instret = ins_reads[-1] - ins_reads[0] if len(ins_reads) >= 2 else ins
        line_cycles: dict[tuple[str, int], int] = {}
        line_instrs: dict[tuple[str, int], int] = {}
        line_stalls: dict[tuple[str, int], int] = {}
        taken_pen = acc.t.branch_taken - acc.t.branch_not_taken
        line_of = img.line_of
        lcache: dict[int, tuple[str, int] | None] = {}

        def loc(a):
            r = lcache.get(a, 0)
            if r == 0:
                r = lcache[a] = line_of(a)
            return r

        for b in self.blocks.values():
            cnt = b[2]
            if not cnt:
                continue
            for a, c in b[7]:
                L = loc(a)
                if L is None:
                    continue
                line_cycles[L] = line_cycles.get(L, 0) + c * cnt
                line_instrs[L] = line_instrs.get(L, 0) + cnt
            if b[3]:
                L = loc(b[8])
                if L is not None:
                    line_cycles[L] = line_cycles.get(L, 0) + b[3] * taken_pen
        for a, extra in list(self._dyn_by_pc.items()) + list(acc.stats.cpu_stall_by_pc.items()):
            L = loc(a)
            if L is not None:
                line_cycles[L] = line_cycles.get(L, 0) + extra
        for a, extra in acc.stats.cpu_stall_by_pc.items():
            L = loc(a)
            if L is not None:
                line_stalls[L] = line_stalls.get(L, 0) + extra
        races = []
        for r in acc.races:
            cl = img.line_of(r.cpu_pc)
            al = img.line_of(r.acc_pc)
            races.append(
                {
                    "kind": r.kind,
                    "cpu_pc": r.cpu_pc,
                    "cpu_line": cl[1] if cl and cl[0] == KERNEL_FILE else None,
                    "cpu_file": cl[0] if cl else None,
                    "acc_pc": r.acc_pc,
                    "acc_line": al[1] if al and al[0] == KERNEL_FILE else None,
                    "acc_insn": disassemble(img.insns[r.acc_pc].word) if r.acc_pc in img.insns else "?",
                    "address": r.address,
                    "cycle": r.cycle,
                    "acc_done": r.acc_done,
                }
            )
        st = acc.stats
        return RawRun(
            cycles_cpu_end=cyc,
            counter_reads=list(reads),
            instret=ins,
            kernel_cycles=kernel_cycles,
            kernel_instret=kernel_instret,
            kernel_start=k0,
            kernel_cpu_end=k1,
            accel_drain=drain,
            outputs=outs,
            line_cycles=line_cycles,
            line_instrs=line_instrs,
            line_stalls=line_stalls,
            accel_busy={UNIT_NAMES[u]: st.busy[u] for u in range(3)},
            accel_ops=st.ops,
            stalls=dict(st.stalls),
            stall_counts=dict(st.stall_counts),
            races=races,
            guest_instructions=ins,
            wall_seconds=wall,
            trace=acc.trace,
        )


def _line_args(img: ElfImage, pc: int) -> tuple[int | None, str | None]:
    loc = img.line_of(pc)
    if loc is None:
        return None, None
    return loc[1], loc[0]


# ---------------------------------------------------------------------------------------
# caches

MAX_MACHINES = 16
_MACHINES = LRU(MAX_MACHINES)  # ELF path -> Machine
_MACHINES_LOCK = threading.Lock()


def machine_for(elf_path: Path) -> Machine:
    key = str(elf_path)
    with _MACHINES_LOCK:
        m = _MACHINES.get(key)
        if m is not None:
            return m
    m = Machine(ElfImage(Path(elf_path)))
    with _MACHINES_LOCK:
        _MACHINES.put(key, m)
    return m


def kernel_file_lines(lines: dict[tuple[str, int], int]) -> dict[int, int]:
    return {ln: v for (f, ln), v in lines.items() if f == KERNEL_FILE}


__all__ = [
    "Machine",
    "ElfImage",
    "RawRun",
    "SimulationError",
    "machine_for",
    "DEFAULT_BUDGET",
    "HARNESS_FILE",
    "KERNEL_FILE",
]
_ = struct
