"""Pins the proc signatures (worker/exo/signatures.py; what the compile & simulate harness
reads) to exo-lang 1.0.0: argument kinds, element types, shapes as plain size expressions,
memories, and the report label of a proc."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from exo import DRAM, proc

from exo_lsp.worker.exo import procs, signatures
from exo_lsp.worker.exo.signatures import FnArgInfo, ProcSignature, SizeOp
from exo_lsp.rvm import RVM_TILE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def conv1d_ns():
    return runpy.run_path(str(EXAMPLES / "conv1d.py"))


@proc
def symbolic(n: size, m: size, x: f32[n + 1, 2 * m, (n + 8) / 4, n % 3 + 1, n + 2 - 1] @ DRAM, s: i8,
             w: [i32][4, m] @ DRAM, i: index, b: bool, t: i32[4, 4] @ RVM_TILE):  # fmt: skip
    assert n > 1
    pass


def test_conv1d_algorithm_signature(conv1d_ns):
    assert signatures.proc_signature(conv1d_ns["conv1d"]) == ProcSignature(
        name="conv1d",
        args=[
            FnArgInfo("data", "tensor", "i32[4, 16]", "i32", [4, 16], False, "DRAM"),
            FnArgInfo("kernels", "tensor", "i32[16, 4, 4]", "i32", [16, 4, 4], False, "DRAM"),
            FnArgInfo("out", "tensor", "i32[16, 16]", "i32", [16, 16], False, "DRAM"),
        ],
    )


def test_scheduled_proc_keeps_the_signature_under_its_new_name(conv1d_ns):
    sig = signatures.proc_signature(conv1d_ns["conv1d_rvm"])
    assert sig.name == "conv1d_rvm"
    assert sig.args == signatures.proc_signature(conv1d_ns["conv1d"]).args


def test_instruction_signature_has_windows_in_tile_memory(conv1d_ns):
    assert signatures.proc_signature(conv1d_ns["rvm_mld"]) == ProcSignature(
        name="rvm_mld",
        args=[
            FnArgInfo("md", "tensor", "[i32][4, 4]", "i32", [4, 4], True, "RVM_TILE"),
            FnArgInfo("src", "tensor", "[i32][4, 4]", "i32", [4, 4], True, "DRAM"),
        ],
    )


def test_symbolic_sizes_are_plain_expressions():
    n_plus_2 = SizeOp("+", "n", 2, "n + 2")
    assert signatures.proc_signature(symbolic) == ProcSignature(
        name="symbolic",
        args=[
            FnArgInfo("n", "size", "size", None, [], False, "DRAM"),
            FnArgInfo("m", "size", "size", None, [], False, "DRAM"),
            FnArgInfo(
                "x",
                "tensor",
                "f32[n + 1, 2 * m, (n + 8) / 4, n % 3 + 1, n + 2 - 1]",
                "f32",
                [
                    SizeOp("+", "n", 1, "n + 1"),
                    SizeOp("*", 2, "m", "2 * m"),
                    SizeOp("/", SizeOp("+", "n", 8, "n + 8"), 4, "(n + 8) / 4"),
                    SizeOp("+", SizeOp("%", "n", 3, "n % 3"), 1, "n % 3 + 1"),
                    SizeOp("-", n_plus_2, 1, "n + 2 - 1"),
                ],
                False,
                "DRAM",
            ),
            FnArgInfo("s", "scalar", "i8", "i8", [], False, "DRAM"),
            FnArgInfo("w", "tensor", "[i32][4, m]", "i32", [4, "m"], True, "DRAM"),
            FnArgInfo("i", "other", "index", None, [], False, "DRAM"),
            FnArgInfo("b", "other", "bool", None, [], False, "DRAM"),
            FnArgInfo("t", "tensor", "i32[4, 4]", "i32", [4, 4], False, "RVM_TILE"),
        ],
    )


def test_loopir_proc_gives_the_same_signature():
    # make_harness has always accepted a Procedure's LoopIR proc too
    assert signatures.proc_signature(symbolic._loopir_proc) == signatures.proc_signature(symbolic)


def test_proc_label():
    assert procs.proc_label(symbolic) == "symbolic"
    assert procs.proc_label(symbolic._loopir_proc) == "?"
    assert procs.proc_label(None) == "?"
