"""compile_and_simulate on the examples and on bad input."""

from __future__ import annotations

import msgspec
import pytest
from exo import DRAM, instr, proc

from exo_lsp.rvm import evaluate as S
from exo_lsp.rvm import toolchain as TC
from exo_lsp_protocol.simulate import SimulationResult

BLOCKING = {"blocking": True}


def _check_exact(r: SimulationResult):
    assert r.error is None, r.error
    assert r.correct is True and r.mismatch_count == 0 and r.ok


@pytest.mark.parametrize("name", ["scalar", "tiled", "unrolled"])
def test_variants_bit_exact_with_blocking_accelerator(variants, name):
    # no overlap, no races: the RVM emulation must reproduce the algorithm exactly
    r = S.compile_and_simulate(variants["VARIANTS"][name], variants["conv1d"], timing=BLOCKING)
    _check_exact(r)
    assert r.races == []


def test_case_study_final_proc_bit_exact_with_blocking_accelerator(case_study):
    r = S.compile_and_simulate(case_study["conv1d_rvm"], case_study["conv1d"], timing=BLOCKING)
    _check_exact(r)


@pytest.mark.parametrize("name", ["scalar", "tiled", "unrolled", "case_study"])
def test_overlapped_runs_are_exact_or_races_explain_it(variants, case_study, name):
    p = case_study["conv1d_rvm"] if name == "case_study" else variants["VARIANTS"][name]
    r = S.compile_and_simulate(p, variants["conv1d"])
    assert r.correct is not None
    if not r.correct:
        assert r.races, "outputs differ without a detected race"
        assert all(x.cpu_c_line and x.acc_c_line for x in r.races)


def test_report_and_result_shape(variants):
    lines = {}
    r = S.compile_and_simulate(
        variants["conv1d_unrolled"], variants["conv1d"], c_line_to_stmt=lambda ln: f"s{ln // 10}",
        progress=lambda m, f: lines.setdefault(f, m),
    )  # fmt: skip
    # per jo: 4 mzero + 4 c * (5 mld + 4 mmasa) + 4 mst
    assert r.scheduled.rvm_instructions == 4 * (4 + 4 * 9 + 4)
    assert r.baseline.cycles > r.scheduled.cycles > 0
    assert r.speedup == pytest.approx(r.baseline.cycles / r.scheduled.cycles, rel=1e-3)
    assert sum(lc.cycles for lc in r.lines) <= r.scheduled.cpu_cycles + 8
    assert sum(lc.cycles for lc in r.lines) >= 0.8 * r.scheduled.cpu_cycles
    assert {u.unit for u in r.units} == {"lsu", "systolic_array", "register_file_unit"}
    assert r.stmts and sum(s.cycles for s in r.stmts) == sum(lc.cycles for lc in r.lines)
    assert 0.0 in lines and 1.0 in lines
    back = msgspec.json.decode(msgspec.json.encode(r), type=SimulationResult)
    assert back == r
    md = S.render_report(r)
    assert "Speedup" in md and "Hottest C lines" in md


def test_speed_ordering_under_default_profile(variants):
    v, alg = variants["VARIANTS"], variants["conv1d"]
    cyc = {n: S.compile_and_simulate(v[n], alg).scheduled.cycles for n in v}
    assert cyc["scalar"] > cyc["tiled"] > cyc["unrolled"]
    blocking = S.compile_and_simulate(v["unrolled"], alg, timing=BLOCKING).scheduled.cycles
    assert blocking > cyc["unrolled"]


def test_gcc_profile_reference_numbers_or_missing_message(variants):
    v, alg = variants["VARIANTS"], variants["conv1d"]
    r = S.compile_and_simulate(v["unrolled"], alg, compiler="gcc")
    if not TC.get_profile("gcc").available():
        assert not r.ok and r.error_kind == "compiler_missing"
        assert "gcc-riscv64-unknown-elf" in r.error and "--install-gcc" in r.error
        return
    _check_exact(r)
    tiled = S.compile_and_simulate(v["tiled"], alg, compiler="gcc")
    _check_exact(tiled)
    assert 3.2 <= tiled.speedup <= 4.8
    assert 12.8 <= r.speedup <= 19.2


def test_missing_compiler_message_path(variants, monkeypatch):
    monkeypatch.setattr(TC, "GCC_EXE", "/nonexistent/riscv64-unknown-elf-gcc")
    r = S.compile_and_simulate(variants["conv1d_tiled"], variants["conv1d"], compiler="gcc")
    assert not r.ok and r.error_kind == "compiler_missing"
    assert "apt" in r.error or "--install-gcc" in r.error
    assert "Error" in S.render_report(r)


def test_unknown_compiler(variants):
    r = S.compile_and_simulate(variants["conv1d_tiled"], variants["conv1d"], compiler="msvc")
    assert r.error_kind == "toolchain" and "zig" in r.error


@proc
def sized(n: size, x: i32[n], y: i32[n]):
    for i in seq(0, n):
        y[i] = x[i] + 1


@proc
def sized2(n: size, x: i32[n], y: i32[n]):
    for i in seq(0, n):
        y[i] = 1 + x[i]


def test_symbolic_size_needs_a_value():
    r = S.compile_and_simulate(sized2, sized)
    assert r.error_kind == "harness" and "'n'" in r.error and "sizes=" in r.error
    r = S.compile_and_simulate(sized2, sized, sizes={"n": 24})
    _check_exact(r)


@proc
def with_index(x: i32[4], k: index):
    assert k >= 0
    assert k < 4
    x[k] = 0


def test_unsupported_argument_type():
    r = S.compile_and_simulate(with_index, with_index)
    assert r.error_kind == "harness" and "'k'" in r.error and "not supported" in r.error


@instr("this is not C {x_data};")
def bad_instr(x: [i32][4] @ DRAM):
    for i in seq(0, 4):
        x[i] = 0


@proc
def zero4(x: i32[4]):
    for i in seq(0, 4):
        x[i] = 0


def test_compiler_error_reports_c_line():
    from exo.API_scheduling import replace

    p = replace(zero4, "for i in _:_", bad_instr)
    r = S.compile_and_simulate(p, zero4)
    assert r.error_kind == "compile"
    lines = p.c_code_str().splitlines()
    assert r.error_c_line and "this is not C" in lines[r.error_c_line - 1]
    assert r.compiler_output and "error" in r.compiler_output
