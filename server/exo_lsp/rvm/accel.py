"""The RVM accelerator: functional tile-register file plus an asynchronous timing model.

Timing (see :mod:`exo_lsp.rvm.timing` for the parameters). The CPU issues RVM
instructions in order into an input buffer; from there each goes, in order, to the issue
queue of its unit (LSU for ``mld``/``mst``, systolic array for the MACs, register-file
unit for ``mzero``); each unit executes its queue in order; a scoreboard per tile register
holds back an instruction until the tiles it reads are written and the tile it writes is
no longer being read. Instructions on different units overlap and complete out of order.
The CPU stalls only when the input buffer is full (or, in the ``blocking`` ablation, until
each instruction completes). Because issue is in order and no later instruction can delay
an earlier one, every instruction's timeline is computed exactly when it is issued.

Function. Tile registers are 8 x (4x4 int32). Memory effects happen at their modelled
times: the LSU reads (or writes) row r of a tile ``lsu_setup + (r+1) * row cycles`` after
the instruction starts. A RISC-V ``fence`` makes the CPU wait for all of them.
Effects are applied in program order as the CPU's clock passes them, so a CPU store to a
buffer a queued ``mld.w`` has not yet read really changes what it loads, as on hardware;
such overlaps are reported as races.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field

from .encoding import RVM_OPS, Decoded
from .timing import TimingModel

LSU, SA, RFU = 0, 1, 2
UNIT_NAMES = ["lsu", "systolic_array", "register_file_unit"]
_UNIT_OF_KIND = {"load": LSU, "store": LSU, "zero": RFU}
M32 = 0xFFFFFFFF

STALL_BUFFER_FULL = "cpu: accelerator input buffer full"
STALL_BLOCKING = "cpu: waiting for blocking accelerator"
STALL_QUEUE_FULL = "accelerator: unit issue queue full"
STALL_UNIT_BUSY = "accelerator: unit busy"
STALL_SCOREBOARD = "accelerator: tile-register dependency (scoreboard)"
STALL_FENCE = "cpu: fence waiting for accelerator memory operations"


def _s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


@dataclass
class RaceRecord:
    kind: str  # "cpu_store_before_acc_load" | "cpu_load_before_acc_store"
    cpu_pc: int
    acc_pc: int
    address: int
    cycle: int
    acc_done: int


@dataclass
class OpRecord:
    pc: int
    mnemonic: str
    issue: int
    enter: int
    dispatch: int
    start: int
    finish: int


@dataclass
class AccelStats:
    ops: int = 0
    busy: list[int] = field(default_factory=lambda: [0, 0, 0])
    stalls: dict[str, int] = field(default_factory=dict)
    stall_counts: dict[str, int] = field(default_factory=dict)
    cpu_stall_by_pc: dict[int, int] = field(default_factory=dict)
    drain: int = 0
    first_issue: int = -1

    def add_stall(self, reason: str, cycles: int) -> None:
        if cycles > 0:
            self.stalls[reason] = self.stalls.get(reason, 0) + cycles
            self.stall_counts[reason] = self.stall_counts.get(reason, 0) + 1


class Accelerator:
    def __init__(self, timing: TimingModel, mem_read, mem_write, is_interleaved):
        self.t = timing
        self._mem_read = mem_read
        self._mem_write = mem_write
        self._is_interleaved = is_interleaved
        self.reset()

    def reset(self) -> None:
        self.tiles = [[0] * 16 for _ in range(8)]
        self.stats = AccelStats()
        depth = max(1, self.t.input_buffer_depth)
        qd = max(1, self.t.unit_queue_depth)
        self._buf_leave: deque[int] = deque([0] * depth, maxlen=depth)
        self._unit_starts = [deque([0] * qd, maxlen=qd) for _ in range(3)]
        self._unit_free = [0, 0, 0]
        self._last_dispatch = 0
        self._tile_ready = [0] * 8
        self._tile_read_done = [0] * 8
        # functional effects not yet applied: (due_cycle, fn)
        self.pending: deque = deque()
        # race bookkeeping: (lo, hi, done_cycle, pc)
        self.pending_loads: list[tuple[int, int, int, int]] = []
        self.pending_stores: list[tuple[int, int, int, int]] = []
        self.races: list[RaceRecord] = []
        self._race_keys: set = set()
        self.trace: list[OpRecord] = []
        self.mem_done = 0

    # -- timing -------------------------------------------------------------------------
    def issue(self, now: int, pc: int, d: Decoded, rs1_val: int, rs2_val: int) -> int:
        """The CPU issues ``d`` at cycle ``now``. Returns the CPU stall in cycles."""
        t = self.t
        st = self.stats
        kind = d.op.kind
        unit = _UNIT_OF_KIND.get(kind, SA)
        if st.first_issue < 0:
            st.first_issue = now
        st.ops += 1
        # input buffer: room when the instruction `depth` places earlier has left it
        enter = max(now, self._buf_leave[0])
        stall = enter - now
        # in-order dispatch to the unit queue, which must have room
        ready_dispatch = enter + t.dispatch_latency
        dispatch = max(ready_dispatch, self._last_dispatch, self._unit_starts[unit][0])
        st.add_stall(STALL_QUEUE_FULL, dispatch - ready_dispatch)
        # operands
        reads: tuple[int, ...]
        writes: tuple[int, ...]
        rows_lo: list[tuple[int, int]] = []
        if kind in ("load", "store"):
            tile = d.operands[0]
            base = rs1_val & M32
            stride = _s32(rs2_val)
            rows_lo = [((base + r * stride) & M32, 16) for r in range(4)]
            inter = all(self._is_interleaved(a, a + 16) for a, _ in rows_lo)
            per_row = t.lsu_row_cycles_interleaved if inter else t.lsu_row_cycles_contiguous
            latency = occupancy = t.lsu_setup + 4 * per_row
            if kind == "load":
                reads, writes = (), (tile,)
            else:
                reads, writes = (tile,), ()
        elif kind == "zero":
            reads, writes = (), (d.operands[0],)
            latency = occupancy = t.rf_latency
        else:
            md, ms2, ms1 = d.operands
            reads, writes = (md, ms1, ms2), (md,)
            latency, occupancy = t.sa_latency, t.sa_occupancy
        deps = 0
        for r in reads:
            deps = max(deps, self._tile_ready[r])
        for w in writes:
            deps = max(deps, self._tile_ready[w], self._tile_read_done[w])
        unit_free = self._unit_free[unit]
        start = max(dispatch, unit_free, deps)
        st.add_stall(STALL_UNIT_BUSY, max(0, unit_free - dispatch))
        st.add_stall(STALL_SCOREBOARD, max(0, deps - max(dispatch, unit_free)))
        finish = start + latency
        self._unit_free[unit] = start + occupancy
        st.busy[unit] += occupancy
        read_end = start + (occupancy if unit == SA else latency)
        for r in reads:
            self._tile_read_done[r] = max(self._tile_read_done[r], read_end)
        for w in writes:
            self._tile_ready[w] = finish
        self._buf_leave.append(dispatch)
        self._last_dispatch = dispatch
        self._unit_starts[unit].append(start)
        st.drain = max(st.drain, finish)
        if len(self.trace) < 20000:
            self.trace.append(OpRecord(pc, d.op.mnemonic, now, enter, dispatch, start, finish))

        # functional effect, applied in program order once the CPU clock reaches `due`;
        # the LSU moves one row per beat, so row r is read/written at its own cycle
        if kind in ("load", "store"):
            row0 = start + t.lsu_setup
            fn = self._fn_load_row if kind == "load" else self._fn_store_row
            lst = self.pending_loads if kind == "load" else self.pending_stores
            for r, (a, n) in enumerate(rows_lo):
                due = row0 + (r + 1) * per_row
                lst.append((a, a + n, due, pc))
                self.pending.append((due, fn, (d.operands[0], r, a)))
            self.mem_done = max(self.mem_done, finish)
        elif kind == "zero":
            self.pending.append((0, self._fn_zero, (d.operands[0],)))
        else:
            self.pending.append((0, self._fn_mac, (kind, *d.operands)))

        if t.blocking:
            cpu_resume = max(enter, finish)
            st.add_stall(STALL_BLOCKING, cpu_resume - now)
            stall = cpu_resume - now
        else:
            st.add_stall(STALL_BUFFER_FULL, stall)
        if stall:
            st.cpu_stall_by_pc[pc] = st.cpu_stall_by_pc.get(pc, 0) + stall
        return stall

    def next_due(self) -> int:
        return self.pending[0][0] if self.pending else 1 << 62

    def advance(self, now: int) -> int:
        """Apply functional effects due by ``now``; returns the next due cycle."""
        p = self.pending
        while p and p[0][0] <= now:
            _, fn, args = p.popleft()
            fn(*args)
        if self.pending_loads:
            self.pending_loads = [x for x in self.pending_loads if x[2] > now]
        if self.pending_stores:
            self.pending_stores = [x for x in self.pending_stores if x[2] > now]
        return p[0][0] if p else 1 << 62

    def drain_all(self) -> None:
        p = self.pending
        while p:
            _, fn, args = p.popleft()
            fn(*args)
        self.pending_loads = []
        self.pending_stores = []

    # -- race checks (called from CPU memory hooks) -------------------------------------
    def check_cpu_store(self, pc: int, addr: int, size: int, now: int) -> None:
        end = addr + size
        for lo, hi, done, apc in self.pending_loads:
            if addr < hi and lo < end and now < done:
                self._race("cpu_store_before_acc_load", pc, apc, addr, now, done)

    def check_cpu_load(self, pc: int, addr: int, size: int, now: int) -> None:
        end = addr + size
        for lo, hi, done, apc in self.pending_stores:
            if addr < hi and lo < end and now < done:
                self._race("cpu_load_before_acc_store", pc, apc, addr, now, done)

    def _race(self, kind, pc, apc, addr, now, done) -> None:
        key = (kind, pc, apc)
        if key in self._race_keys:
            return
        self._race_keys.add(key)
        if len(self.races) < 100:
            self.races.append(RaceRecord(kind, pc, apc, addr, now, done))

    # -- semantics ---------------------------------------------------------------------
    def _fn_load_row(self, tile: int, r: int, a: int) -> None:
        tv = list(self.tiles[tile])
        tv[4 * r : 4 * r + 4] = struct.unpack("<4i", self._mem_read(a, 16))
        self.tiles[tile] = tv

    def _fn_store_row(self, tile: int, r: int, a: int) -> None:
        tv = self.tiles[tile]
        self._mem_write(a, struct.pack("<4i", *tv[4 * r : 4 * r + 4]))

    def fence(self, now: int) -> int:
        """A RISC-V ``fence`` waits until the accelerator's memory operations are done
        (modelling choice: the only way a program can order CPU and accelerator memory
        accesses). Returns the CPU stall."""
        stall = max(0, self.mem_done - now)
        self.stats.add_stall(STALL_FENCE, stall)
        return stall

    def _fn_zero(self, tile: int) -> None:
        self.tiles[tile] = [0] * 16

    def _fn_mac(self, kind: str, md: int, ms2: int, ms1: int) -> None:
        # md[i][j] += sum_k ms1[i][k] * ms2[j][k]   (assembly order: md, ms2, ms1)
        a = self.tiles[ms1]
        b = self.tiles[ms2]
        d = list(self.tiles[md])
        if kind == "mac_w":
            for i in range(4):
                ai = a[4 * i : 4 * i + 4]
                for j in range(4):
                    bj = b[4 * j : 4 * j + 4]
                    d[4 * i + j] = _s32(
                        d[4 * i + j] + ai[0] * bj[0] + ai[1] * bj[1] + ai[2] * bj[2] + ai[3] * bj[3]
                    )
        elif kind in ("mac_h", "mac_b"):
            lanes, fmt = (2, "<2h") if kind == "mac_h" else (4, "<4b")
            ua = [struct.unpack(fmt, struct.pack("<i", v)) for v in a]
            ub = [struct.unpack(fmt, struct.pack("<i", v)) for v in b]
            for i in range(4):
                for j in range(4):
                    s = d[4 * i + j]
                    for k in range(4):
                        x, y = ua[4 * i + k], ub[4 * j + k]
                        s += sum(x[q] * y[q] for q in range(lanes))
                    d[4 * i + j] = _s32(s)
        else:  # mac_f: fp32
            fa = [struct.unpack("<f", struct.pack("<i", v))[0] for v in a]
            fb = [struct.unpack("<f", struct.pack("<i", v))[0] for v in b]
            fd = [struct.unpack("<f", struct.pack("<i", v))[0] for v in d]
            for i in range(4):
                for j in range(4):
                    s = fd[4 * i + j]
                    for k in range(4):
                        s = _f32(s + _f32(fa[4 * i + k] * fb[4 * j + k]))
                    fd[4 * i + j] = s
            d = [struct.unpack("<i", struct.pack("<f", v))[0] for v in fd]
        self.tiles[md] = d


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


assert set(RVM_OPS) >= {"mld.w", "mst.w", "mzero", "mmasa.w"}
