"""Compile & simulate: build a proc and its unscheduled algorithm for RV32IMC + RVM, run
both on the cycle-model simulator with the same seeded inputs, compare outputs bit for bit
and report cycles, speedup, accelerator use, stalls, races and per-line costs.

Entry points: :func:`compile_and_simulate` (returns a
:class:`exo_lsp_protocol.simulate.SimulationResult`, never raises for problems of the
user's code) and :func:`render_report` (Markdown).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping

from exo_lsp_protocol.simulate import (
    LineCost,
    Mismatch,
    Race,
    RunStats,
    SimulationResult,
    Stall,
    StmtCost,
    UnitUse,
)

from ..worker.exo import procs
from .harness import Harness, HarnessError, make_harness
from .isa import reset_rvm_state
from .emulator import DEFAULT_BUDGET, RawRun, SimulationError, machine_for
from .timing import TimingModel, timing_from
from .toolchain import KERNEL_FILE, CompileError, CompilerNotFound, ToolchainError, build_elf, get_profile

__all__ = [
    "compile_and_simulate",
    "simulate_proc",
    "render_report",
    "ProcRun",
    "SimulationResult",
    "TimingModel",
]

MAX_MISMATCHES = 10
ProgressFn = Callable[[str, float], None]
LineMap = Mapping[int, str] | Callable[[int], "str | None"]


class _Failure(Exception):
    def __init__(self, kind: str, message: str, *, c_line=None, pc=None, output=None):
        super().__init__(message)
        self.kind = kind
        self.c_line = c_line
        self.pc = pc
        self.output = output


@dataclass
class ProcRun:
    """One proc compiled and simulated."""

    name: str
    c_text: str
    harness: Harness
    raw: RawRun
    elf_cached: bool
    compile_seconds: float

    def output_values(self) -> dict[str, list]:
        return {
            a.name: self.harness.unpack(a.name, self.raw.outputs[a.symbol][: a.nbytes])
            for a in self.harness.tensors
        }


def _c_text(proc) -> str:
    try:
        return proc.c_code_str()
    except Exception as e:
        reset_rvm_state()
        raise _Failure("codegen", f"C code generation failed: {e}") from e


def simulate_proc(
    proc,
    *,
    compiler: str = "zig",
    seed: int = 0,
    timing: TimingModel | dict | None = None,
    sizes: dict[str, int] | None = None,
    budget: int = DEFAULT_BUDGET,
) -> ProcRun:
    """Compile and run one proc. Raises HarnessError, ToolchainError, SimulationError."""
    t = timing_from(timing)
    c_text = _c_text(proc)
    harness = make_harness(proc, sizes)
    build = build_elf(c_text, harness.c_text, compiler)
    m = machine_for(build.elf_path)
    inputs = {f"exo_arg_{k}": v for k, v in harness.inputs(seed).items()}
    raw = m.run(inputs, [a.symbol for a in harness.tensors], t, budget=budget)
    return ProcRun(harness.proc_name, c_text, harness, raw, build.cached, build.seconds)


def _run(proc, role: str, **kw) -> ProcRun:
    try:
        return simulate_proc(proc, **kw)
    except _Failure as f:
        f.args = (f"{role}: {f.args[0]}",)
        raise
    except HarnessError as e:
        raise _Failure("harness", f"{role}: {e}") from e
    except CompilerNotFound as e:
        raise _Failure("compiler_missing", str(e)) from e
    except CompileError as e:
        line = next((d.line for d in e.diagnostics if d.file == KERNEL_FILE), None)
        where = f" (C line {line})" if line else ""
        raise _Failure("compile", f"{role}: {e}{where}", c_line=line, output=e.output) from e
    except ToolchainError as e:
        raise _Failure("toolchain", f"{role}: {e}") from e
    except SimulationError as e:
        line = e.c_line if e.c_file == KERNEL_FILE else None
        raise _Failure(e.kind, f"{role}: {e}", c_line=line, pc=e.pc) from e


def _stats(run: ProcRun) -> RunStats:
    r = run.raw
    return RunStats(
        proc=run.name,
        cycles=r.kernel_cycles,
        cpu_cycles=r.kernel_cpu_end - r.kernel_start,
        accelerator_drain_cycles=max(0, r.accel_drain - r.kernel_cpu_end),
        instructions=r.kernel_instret,
        rvm_instructions=r.accel_ops,
        elf_cached=run.elf_cached,
        compile_seconds=round(run.compile_seconds, 4),
        simulate_seconds=round(r.wall_seconds, 4),
        guest_instructions=r.guest_instructions,
    )


def _unravel(i: int, shape: tuple[int, ...]) -> list[int]:
    idx = []
    for d in reversed(shape):
        idx.append(i % d)
        i //= d
    return list(reversed(idx)) if shape else []


def _compare(sched: ProcRun, base: ProcRun) -> tuple[list[Mismatch], int, str | None]:
    sv = sched.output_values()
    bv = base.output_values()
    if set(sv) != set(bv):
        return [], 0, (
            f"the procs have different arguments: {sorted(sv)} vs {sorted(bv)}"
        )
    mism: list[Mismatch] = []
    count = 0
    for a in base.harness.tensors:
        sa = next((x for x in sched.harness.tensors if x.name == a.name), None)
        if sa is None or sa.shape != a.shape or sa.basetype != a.basetype:
            return [], 0, f"argument '{a.name}' differs in type or shape between the procs"
        raw_s = sched.raw.outputs[sa.symbol][: sa.nbytes]
        raw_b = base.raw.outputs[a.symbol][: a.nbytes]
        if raw_s == raw_b:
            continue
        for i, (x, y) in enumerate(zip(sv[a.name], bv[a.name])):
            if raw_s[i * a.elem_size : (i + 1) * a.elem_size] != raw_b[i * a.elem_size : (i + 1) * a.elem_size]:
                count += 1
                if len(mism) < MAX_MISMATCHES:
                    mism.append(Mismatch(arg=a.name, index=_unravel(i, a.shape), expected=y, actual=x))
    return mism, count, None


def _line_costs(run: ProcRun) -> list[LineCost]:
    src = run.c_text.splitlines()
    r = run.raw
    out = []
    for (f, ln), cyc in sorted(r.line_cycles.items(), key=lambda kv: kv[0][1]):
        if f != KERNEL_FILE or ln <= 0:
            continue
        out.append(
            LineCost(
                c_line=ln,
                cycles=cyc,
                instructions=r.line_instrs.get((f, ln), 0),
                stall_cycles=r.line_stalls.get((f, ln), 0),
                text=src[ln - 1].strip() if ln <= len(src) else "",
            )
        )
    return out


def _stmt_costs(lines: list[LineCost], mapping: LineMap | None) -> list[StmtCost]:
    if mapping is None:
        return []
    get = mapping if callable(mapping) else mapping.get
    acc: dict[str, list] = {}
    for lc in lines:
        s = get(lc.c_line)
        if s is None:
            continue
        e = acc.setdefault(str(s), [0, 0, []])
        e[0] += lc.cycles
        e[1] += lc.instructions
        e[2].append(lc.c_line)
    return [StmtCost(stmt=k, cycles=v[0], instructions=v[1], c_lines=v[2]) for k, v in acc.items()]


def _race_msg(r: dict) -> str:
    cl = f"C line {r['cpu_line']}" if r["cpu_line"] else f"pc 0x{r['cpu_pc']:x}"
    al = f"C line {r['acc_line']}" if r["acc_line"] else f"pc 0x{r['acc_pc']:x}"
    if r["kind"] == "cpu_store_before_acc_load":
        return (
            f"CPU store at {cl} (cycle {r['cycle']}) overwrites 0x{r['address']:x} before the "
            f"queued `{r['acc_insn']}` at {al} reads it (cycle {r['acc_done']})"
        )
    return (
        f"CPU load at {cl} (cycle {r['cycle']}) reads 0x{r['address']:x} before the queued "
        f"`{r['acc_insn']}` at {al} writes it (cycle {r['acc_done']})"
    )


def compile_and_simulate(
    proc,
    algorithm,
    *,
    compiler: str = "zig",
    seed: int = 0,
    timing: TimingModel | dict | None = None,
    sizes: dict[str, int] | None = None,
    c_line_to_stmt: LineMap | None = None,
    budget: int = DEFAULT_BUDGET,
    progress: ProgressFn | None = None,
) -> SimulationResult:
    """Compile and simulate ``proc`` and ``algorithm`` the same way and compare them.

    ``proc``/``algorithm``: ``exo.Procedure`` with the same arguments. ``compiler``: "zig"
    or "gcc". ``timing``: a :class:`TimingModel`, a dict of overrides or None. ``sizes``:
    values for ``size`` arguments. ``c_line_to_stmt``: dict or callable mapping a line of
    ``proc.c_code_str()`` to a statement id. ``progress(message, fraction)`` is called as
    the work advances. Problems with the user's code are reported in the result
    (``ok=False``, ``error``), not raised.
    """
    t0 = time.perf_counter()
    tm = timing_from(timing)
    prof = None
    try:
        prof = get_profile(compiler)
    except ToolchainError as e:
        return SimulationResult(
            proc=procs.proc_label(proc), algorithm=procs.proc_label(algorithm), compiler=compiler,
            compiler_description="", seed=seed, ok=False, error=str(e), error_kind="toolchain",
            timing=tm.as_dict(), wall_seconds=time.perf_counter() - t0,
        )  # fmt: skip
    common = dict(
        proc=procs.proc_label(proc),
        algorithm=procs.proc_label(algorithm),
        compiler=compiler,
        compiler_description=prof.description,
        seed=seed,
        timing=tm.as_dict(),
    )
    kw = dict(compiler=compiler, seed=seed, timing=tm, sizes=sizes, budget=budget)

    def step(msg, frac):
        if progress is not None:
            progress(msg, frac)

    try:
        step(f"compiling and simulating {common['algorithm']} (algorithm)", 0.0)
        base = _run(algorithm, "algorithm", **kw)
        step(f"compiling and simulating {common['proc']}", 0.5)
        sched = _run(proc, "scheduled proc", **kw)
    except _Failure as f:
        return SimulationResult(
            **common, ok=False, error=str(f), error_kind=f.kind, error_c_line=f.c_line,
            error_pc=f.pc, compiler_output=f.output, wall_seconds=time.perf_counter() - t0,
        )  # fmt: skip
    step("comparing outputs", 0.9)
    mism, count, cmp_err = _compare(sched, base)
    correct = cmp_err is None and count == 0
    st_s = _stats(sched)
    st_b = _stats(base)
    r = sched.raw
    kc = max(1, r.kernel_cycles)
    units = [UnitUse(unit=u, busy_cycles=b, utilisation=round(min(1.0, b / kc), 4)) for u, b in r.accel_busy.items()]
    stalls = sorted(
        (Stall(reason=k, cycles=v, count=r.stall_counts.get(k, 0)) for k, v in r.stalls.items()),
        key=lambda s: -s.cycles,
    )
    races = [
        Race(
            kind=x["kind"], cpu_pc=x["cpu_pc"], cpu_c_line=x["cpu_line"], acc_pc=x["acc_pc"],
            acc_c_line=x["acc_line"], acc_instruction=x["acc_insn"], address=x["address"],
            cycle=x["cycle"], acc_done_cycle=x["acc_done"], message=_race_msg(x),
        )  # fmt: skip
        for x in r.races
    ]
    lines = _line_costs(sched)
    stmts = _stmt_costs(lines, c_line_to_stmt)
    step("done", 1.0)
    return SimulationResult(
        **common,
        ok=correct,
        error=cmp_err,
        error_kind="compare" if cmp_err else None,
        scheduled=st_s,
        baseline=st_b,
        speedup=round(st_b.cycles / max(1, st_s.cycles), 3),
        correct=correct if cmp_err is None else None,
        mismatches=mism,
        mismatch_count=count,
        units=units,
        stalls=stalls,
        races=races,
        lines=lines,
        stmts=stmts,
        wall_seconds=round(time.perf_counter() - t0, 4),
    )


# ---------------------------------------------------------------------------------------
# Markdown report


def render_report(result: SimulationResult, *, top_lines: int = 15) -> str:
    r = result
    out = [f"# Compile & simulate: `{r.proc}`", ""]
    out.append(f"Compiler: **{r.compiler}** ({r.compiler_description}); seed {r.seed}; "
               f"reference: algorithm `{r.algorithm}`.")  # fmt: skip
    out.append("")
    if r.error and r.scheduled is None:
        out += ["## Error", "", f"**{r.error_kind}**: {r.error}", ""]
        if r.error_c_line:
            out.append(f"C line: {r.error_c_line}")
        if r.error_pc is not None:
            out.append(f"PC: `0x{r.error_pc:08x}`")
        if r.compiler_output:
            out += ["", "```", r.compiler_output.strip()[:4000], "```"]
        return "\n".join(out) + "\n"
    s, b = r.scheduled, r.baseline
    verdict = "correct (bit-exact)" if r.correct else (
        "**WRONG**" if r.correct is False else f"not compared: {r.error}"
    )
    out += [
        "## Summary",
        "",
        "| | scheduled | algorithm |",
        "|---|---:|---:|",
        f"| cycles | {s.cycles:,} | {b.cycles:,} |",
        f"| instructions | {s.instructions:,} | {b.instructions:,} |",
        f"| RVM instructions | {s.rvm_instructions:,} | {b.rvm_instructions:,} |",
        f"| accelerator drain after CPU | {s.accelerator_drain_cycles:,} | {b.accelerator_drain_cycles:,} |",
        "",
        f"**Speedup: {r.speedup:.2f}x** — outputs {verdict}.",
        "",
    ]
    if r.mismatch_count:
        out += [f"{r.mismatch_count} mismatching element(s); first ones:", "",
                "| arg | index | expected | actual |", "|---|---|---:|---:|"]  # fmt: skip
        for m in r.mismatches:
            out.append(f"| {m.arg} | {m.index} | {m.expected:g} | {m.actual:g} |")
        out.append("")
    if r.races:
        out += [f"## Races ({len(r.races)})", ""]
        for x in r.races[:20]:
            out.append(f"- {x.message}")
        out.append("")
    if s.rvm_instructions:
        out += ["## Accelerator", "", "| unit | busy cycles | utilisation |", "|---|---:|---:|"]
        for u in r.units:
            out.append(f"| {u.unit} | {u.busy_cycles:,} | {100 * u.utilisation:.1f}% |")
        out.append("")
    if r.stalls:
        out += [
            "## Stalls",
            "",
            "`cpu:` rows delay the CPU (they add to the total). `accelerator:` rows are summed over "
            "the queued RVM instructions that waited, which wait at the same time: they show where "
            "the accelerator is the bottleneck and can exceed the total.",
            "",
            "| reason | cycles | instructions |",
            "|---|---:|---:|",
        ]
        for st in r.stalls:
            out.append(f"| {st.reason} | {st.cycles:,} | {st.count:,} |")
        out.append("")
    if r.stmts:
        out += ["## Cycles per statement", "", "| statement | cycles | % | C lines |", "|---|---:|---:|---|"]
        for sc in sorted(r.stmts, key=lambda x: -x.cycles)[:top_lines]:
            pct = 100 * sc.cycles / max(1, s.cpu_cycles)
            out.append(f"| {sc.stmt} | {sc.cycles:,} | {pct:.1f} | {', '.join(map(str, sc.c_lines))} |")
        out.append("")
    if r.lines:
        out += ["## Hottest C lines", "", "| line | cycles | % | stall | code |", "|---:|---:|---:|---:|---|"]
        for lc in sorted(r.lines, key=lambda x: -x.cycles)[:top_lines]:
            pct = 100 * lc.cycles / max(1, s.cpu_cycles)
            code = lc.text.replace("|", "\\|")[:90]
            out.append(f"| {lc.c_line} | {lc.cycles:,} | {pct:.1f} | {lc.stall_cycles:,} | `{code}` |")
        out.append("")
    out.append(
        f"_Simulated in {r.wall_seconds:.2f} s; ELF {'cached' if s.elf_cached else 'built'}. "
        f"CPU model: CV32E40X costs; accelerator: asynchronous, buffer "
        f"{int(r.timing.get('input_buffer_depth', 0))}"
        f"{', blocking (ablation)' if r.timing.get('blocking') else ''}._"
    )
    return "\n".join(out) + "\n"
