"""Timing parameters of the cycle model, all in one place.

Every field is documented with its source. CPU figures come from the CV32E40X user manual
(instruction timing table) as summarised in the project's RVM reference; accelerator
figures follow the structure of the Quadrilatero RTL (input buffer, per-unit issue
queues, three units, a scoreboard per tile register) with latencies that are estimates,
calibrated so that the conv1d case study's published ratios are reproduced under the
reference compiler profile (see ``benchmarks/rvm_table.py``).

Pass a modified copy to the simulator: ``dataclasses.replace(DEFAULT_TIMING, blocking=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class TimingModel:
    # --- CPU: CV32E40X, in order, cycles per instruction type -------------------------
    alu: int = 1
    """Integer ALU ops, lui/auipc, compressed ALU ops (CV32E40X manual: 1)."""
    load: int = 1
    """Loads from single-cycle SRAM (CV32E40X manual: 1; X-HEEP SRAM has no wait states)."""
    store: int = 1
    """Stores (CV32E40X manual: 1)."""
    mul: int = 1
    """``mul`` (CV32E40X manual: 1)."""
    mulh: int = 5
    """``mulh``/``mulhsu``/``mulhu`` (CV32E40X manual: 5)."""
    div_base: int = 3
    """div/divu/rem/remu take ``div_base + leading zeros of the divisor`` cycles, i.e. 3..35
    (CV32E40X manual: 3-35)."""
    jump: int = 2
    """``jal``/``jalr`` and their compressed forms (CV32E40X manual: 2)."""
    branch_taken: int = 3
    """Conditional branch, taken (CV32E40X manual: 3)."""
    branch_not_taken: int = 1
    """Conditional branch, not taken (CV32E40X manual: 1)."""
    csr_counter_read: int = 4
    """Reading a counter CSR such as ``mcycle``/``minstret`` (CV32E40X manual: 4)."""
    csr_other: int = 1
    """Any other CSR access (CV32E40X manual: 1 for plain CSR instructions)."""
    load_use_hazard: int = 1
    """Extra cycle when an instruction uses the result of the load just before it
    (CV32E40X manual: +1). Modelled within a basic block."""
    jalr_hazard: int = 1
    """Extra cycle when ``jalr`` uses a register written by the instruction just before
    it (CV32E40X manual: +1). Modelled within a basic block."""
    rvm_issue: int = 1
    """CPU cycles to hand one RVM instruction to the accelerator over the eXtension
    interface when its input buffer has room (estimate: one pipeline slot)."""

    # --- Accelerator: Quadrilatero structure; latencies are calibrated estimates ------
    input_buffer_depth: int = 4
    """Entries of the accelerator's input buffer; the CPU stalls only when it is full
    (Quadrilatero RTL: 4)."""
    unit_queue_depth: int = 3
    """Issue-queue entries per unit (systolic array, LSU, register-file unit)
    (Quadrilatero RTL: 3)."""
    dispatch_latency: int = 1
    """Cycles from entering the input buffer to entering a unit's queue (estimate)."""
    lsu_setup: int = 2
    """Fixed cycles of a tile load/store before the first row moves (address generation,
    bus request; estimate)."""
    lsu_row_cycles_contiguous: int = 4
    """Cycles per 128-bit tile row from contiguous memory: the 4 words come from one bank,
    one per cycle (Quadrilatero: one row per beat over 4 ports; X-HEEP contiguous banks)."""
    lsu_row_cycles_interleaved: int = 1
    """Cycles per tile row from the word-interleaved banks (``.xheep_data_interleaved``):
    4 banks deliver the row in one beat, ~4x faster than contiguous (RVM reference)."""
    sa_occupancy: int = 4
    """Cycles the systolic array is busy per ``mmasa.w`` before it accepts the next one:
    it streams 4 rows; weights are double-buffered so back-to-back MACs overlap the weight
    load (estimate from the RTL structure)."""
    sa_latency: int = 8
    """Cycles from the start of a ``mmasa.w`` until its result is in the destination tile
    (4 streaming + array depth; estimate)."""
    rf_latency: int = 1
    """Cycles of the register-file unit for ``mzero`` (estimate)."""
    blocking: bool = False
    """Ablation: the CPU waits for each RVM instruction to complete (no overlap)."""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """Field name -> documentation (from the attribute docstrings above)."""
        import ast
        import inspect
        import textwrap

        src = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(src)
        docs: dict[str, str] = {}
        body = tree.body[0].body
        for a, b in zip(body, body[1:]):
            if (
                isinstance(a, ast.AnnAssign)
                and isinstance(a.target, ast.Name)
                and isinstance(b, ast.Expr)
                and isinstance(b.value, ast.Constant)
                and isinstance(b.value.value, str)
            ):
                docs[a.target.id] = " ".join(b.value.value.split())
        return docs


DEFAULT_TIMING = TimingModel()


def timing_from(value) -> TimingModel:
    """Accept None, a TimingModel, or a dict of overrides."""
    if value is None:
        return DEFAULT_TIMING
    if isinstance(value, TimingModel):
        return value
    if isinstance(value, dict):
        names = {f.name for f in fields(TimingModel)}
        bad = sorted(set(value) - names)
        if bad:
            raise ValueError(f"unknown timing parameter(s): {', '.join(bad)}")
        return TimingModel(**value)
    raise TypeError(f"timing must be None, TimingModel or dict, not {type(value).__name__}")
