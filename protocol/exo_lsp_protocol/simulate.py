"""Result types of "compile & simulate" on the RVM target (sent over LSP unchanged).

All fields are plain serialisable values; encode with ``msgspec.json.encode(result)`` and
decode with ``msgspec.json.decode(data, type=SimulationResult)``.
"""

from __future__ import annotations

import msgspec


class Mismatch(msgspec.Struct, frozen=True, kw_only=True):
    """One output element where the scheduled proc differs from the algorithm."""

    arg: str
    """Name of the output argument."""
    index: list[int]
    """Multi-dimensional index of the element."""
    expected: float
    """Value computed by the unscheduled algorithm."""
    actual: float
    """Value computed by the scheduled proc."""


class Race(msgspec.Struct, frozen=True, kw_only=True):
    """A CPU access that overlaps an accelerator memory operation still in flight."""

    kind: str
    """``cpu_store_before_acc_load``: the CPU wrote memory that a queued ``mld.w`` had not
    read yet; ``cpu_load_before_acc_store``: the CPU read memory a queued ``mst.w`` had not
    written yet."""
    cpu_pc: int
    """Address of the CPU load/store."""
    cpu_c_line: int | None
    """Line of the CPU access in the generated C (``proc.c_code_str()``), if in the kernel."""
    acc_pc: int
    """Address of the RVM instruction involved."""
    acc_c_line: int | None
    """Line of the RVM instruction in the generated C."""
    acc_instruction: str
    """Disassembly of the RVM instruction."""
    address: int
    """Memory address of the conflicting access."""
    cycle: int
    """Modelled cycle of the CPU access."""
    acc_done_cycle: int
    """Modelled cycle at which the accelerator access completes."""
    message: str
    """Human-readable description."""


class LineCost(msgspec.Struct, frozen=True, kw_only=True):
    """Cost attributed to one line of the generated C."""

    c_line: int
    """1-based line in ``proc.c_code_str()``."""
    cycles: int
    """CPU cycles spent on the line's instructions, including stalls."""
    instructions: int
    """Instructions retired on the line."""
    stall_cycles: int
    """Of ``cycles``, those the CPU waited for the accelerator."""
    text: str
    """The C source line (stripped)."""


class StmtCost(msgspec.Struct, frozen=True, kw_only=True):
    """Cost attributed to one proc statement through the C line -> statement map."""

    stmt: str
    """Statement identifier as given by the ``c_line_to_stmt`` map."""
    cycles: int
    """CPU cycles of all C lines mapped to the statement."""
    instructions: int
    """Instructions retired on those lines."""
    c_lines: list[int]
    """The C lines mapped to the statement."""


class Stall(msgspec.Struct, frozen=True, kw_only=True):
    """Cycles lost for one reason. ``cpu:`` reasons delay the CPU; ``accelerator:`` reasons
    delay accelerator instructions (and show where the accelerator is the bottleneck)."""

    reason: str
    """What was waited for."""
    cycles: int
    """Total cycles waited."""
    count: int
    """Number of instructions that waited."""


class UnitUse(msgspec.Struct, frozen=True, kw_only=True):
    """Busy time of one accelerator unit during the kernel."""

    unit: str
    """``lsu``, ``systolic_array`` or ``register_file_unit``."""
    busy_cycles: int
    """Cycles the unit was occupied."""
    utilisation: float
    """``busy_cycles / kernel cycles`` (0..1)."""


class RunStats(msgspec.Struct, frozen=True, kw_only=True):
    """Measurements of one simulated run (the scheduled proc or the algorithm)."""

    proc: str
    """Name of the proc."""
    cycles: int
    """Kernel cycles: from the first ``mcycle`` read to max(CPU at the second read,
    accelerator drained)."""
    cpu_cycles: int
    """Cycles between the two ``mcycle`` reads (CPU view)."""
    accelerator_drain_cycles: int
    """Cycles the accelerator kept working after the CPU's second ``mcycle`` read."""
    instructions: int
    """Instructions between the two ``minstret`` reads."""
    rvm_instructions: int
    """RVM instructions issued."""
    elf_cached: bool
    """True when the ELF came from the build cache."""
    compile_seconds: float
    """Wall time spent compiling (0 when cached)."""
    simulate_seconds: float
    """Wall time spent in the emulator."""
    guest_instructions: int
    """All instructions executed, start-up and harness included."""


class SimulationResult(msgspec.Struct, frozen=True, kw_only=True):
    """Outcome of compiling and simulating a proc against its unscheduled algorithm."""

    proc: str
    """Name of the scheduled proc."""
    algorithm: str
    """Name of the reference (unscheduled) proc."""
    compiler: str
    """Compiler profile: ``zig`` or ``gcc``."""
    compiler_description: str
    """Human-readable compiler and flags."""
    seed: int
    """Seed of the random inputs."""
    ok: bool
    """True when both runs completed and the outputs are bit-identical."""
    error: str | None = None
    """Why the run could not complete (compile error, fault, budget, harness), if any."""
    error_kind: str | None = None
    """``compile``, ``harness``, ``compiler_missing``, ``budget``, ``illegal_access``,
    ``illegal_instruction``, ``timeout``, ... ."""
    error_c_line: int | None = None
    """C line of the error (fault PC or first compiler diagnostic), if known."""
    error_pc: int | None = None
    """Program counter of a fault, if any."""
    compiler_output: str | None = None
    """Compiler messages for compile errors."""
    scheduled: RunStats | None = None
    """Measurements of the scheduled proc."""
    baseline: RunStats | None = None
    """Measurements of the algorithm."""
    speedup: float | None = None
    """``baseline.cycles / scheduled.cycles``."""
    correct: bool | None = None
    """Outputs equal bit for bit (None if a run failed)."""
    mismatches: list[Mismatch] = []
    """The first mismatching elements (at most 10)."""
    mismatch_count: int = 0
    """Total number of mismatching elements."""
    units: list[UnitUse] = []
    """Accelerator utilisation of the scheduled run."""
    stalls: list[Stall] = []
    """Stall reasons of the scheduled run, largest first."""
    races: list[Race] = []
    """Races found in the scheduled run."""
    lines: list[LineCost] = []
    """Cycles per line of the scheduled proc's C, in line order."""
    stmts: list[StmtCost] = []
    """Cycles per proc statement (empty without a ``c_line_to_stmt`` map)."""
    timing: dict[str, int | float | bool] = {}
    """The timing parameters used (``TimingModel`` fields)."""
    wall_seconds: float = 0.0
    """Total wall time of compile & simulate."""
