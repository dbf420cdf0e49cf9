"""Pins the view line maps (worker/exo/printing.py) to exo-lang 1.0.0: Exo's printer
layout, the yapf alignment, the C compiler's statement emission and statement forwarding."""

from __future__ import annotations

import pathlib
import re
import runpy

import pytest
from exo import DRAM, proc
from exo.backend import LoopIR_compiler
from exo.core import LoopIR_pprint
from exo.core.LoopIR import LoopIR
from exo.stdlib.scheduling import divide_loop, rename

from exo_lsp.worker.exo import printing
from exo_lsp.rvm import rvm_mld

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@proc
def tiny(n: size, x: f32[n] @ DRAM, y: f32[n] @ DRAM):
    assert n >= 4
    for i in seq(0, n):
        t: f32[4] @ DRAM
        t[0] = x[i]
        if i < 2:
            y[i] = t[0]
        else:
            y[i] += t[0]
            pass


@proc
def caller(x: f32[8] @ DRAM, y: f32[8] @ DRAM):
    tiny(8, x, y)
    for k in seq(0, 8):
        y[k] = 1.0


@pytest.fixture(scope="module")
def conv1d():
    return runpy.run_path(str(EXAMPLES / "conv1d.py"))["conv1d_rvm"]


def _node(p, path):
    n = p._loopir_proc
    for attr, i in path:
        n = getattr(n, attr)[i]
    return n


def _squeeze(s: str) -> str:
    return "".join(s.split())


def _formatted_map(p):
    printed = printing.print_proc_map(p)
    text = str(p)
    lines = text.split("\n")
    al = printing.align_lines(printed.raw, lines)
    assert al is not None
    return printed, lines, al


def test_raw_print_is_exos_printer_and_counts_its_lines(conv1d):
    for p in (conv1d, tiny, caller, rvm_mld):
        printed = printing.print_proc_map(p)
        assert printed.raw == LoopIR_pprint._print_proc(p._loopir_proc, LoopIR_pprint.PrintEnv(), "")
        assert printed.stmts[0].path == () and printed.stmts[0].kind == "proc"
        assert [s.path for s in printed.stmts[1:]] == printing.stmt_paths(p)


def test_header_covers_signature_instr_comment_and_asserts():
    printed = printing.print_proc_map(rvm_mld)
    head = printed.stmts[0]
    assert head.raw == (0, 4)  # def, the @instr template comment, 2 asserts
    assert printed.raw[1].strip().startswith('# @instr asm volatile("mld.w ')
    assert printed.raw[3].strip() == "assert stride(md, 1) == 1"
    assert printed.stmts[1].raw == (4, 5) and printed.stmts[1].text == "for i in seq(0, 4):"
    printed = printing.print_proc_map(tiny)
    assert printed.stmts[0].raw == (0, 2)


def test_tiny_raw_lines_per_statement():
    printed = printing.print_proc_map(tiny)
    got = [(s.path, s.kind, s.raw, s.raw_extent, s.raw_else, s.text) for s in printed.stmts[1:]]
    assert got == [
        ((("body", 0),), "loop", (2, 3), (2, 10), None, "for i in seq(0, n):"),
        ((("body", 0), ("body", 0)), "alloc", (3, 4), (3, 4), None, "t : f32[4] @DRAM"),
        ((("body", 0), ("body", 1)), "assign", (4, 5), (4, 5), None, "t[0] = x[i]"),
        ((("body", 0), ("body", 2)), "if", (5, 6), (5, 10), 7, "if i < 2:"),
        ((("body", 0), ("body", 2), ("body", 0)), "assign", (6, 7), (6, 7), None, "y[i] = t[0]"),
        ((("body", 0), ("body", 2), ("orelse", 0)), "reduce", (8, 9), (8, 9), None, "y[i] += t[0]"),
        ((("body", 0), ("body", 2), ("orelse", 1)), "pass", (9, 10), (9, 10), None, "pass"),
    ]


def test_alignment_maps_every_conv1d_statement_to_its_formatted_lines(conv1d):
    printed, lines, al = _formatted_map(conv1d)
    assert al[0] == (0, 2)  # yapf wrapped the signature
    for st in printed.stmts[1:]:
        start, end = al[st.raw[0]][0], al[st.raw[1] - 1][1]
        own = _squeeze("".join(lines[start:end]))
        exo_line = str(_node(conv1d, st.path)).split("\n")
        # Exo's own print of the statement alone: its first line is the statement's line
        first = _squeeze(exo_line[0]) if st.kind in ("loop", "if") else _squeeze("".join(exo_line))
        assert own == first, st.path
    # the wrapped calls take two formatted lines
    wrapped = [st.text for st in printed.stmts[1:] if al[st.raw[0]][1] - al[st.raw[0]][0] == 2]
    assert len(wrapped) == 12 and all(w.startswith(("rvm_mld(kernel", "rvm_mmasa(", "rvm_mst(")) for w in wrapped)


def test_alignment_refuses_different_text():
    assert printing.align_lines(["x = 1", "y = 2"], ["x = 1", "y = 3"]) is None
    assert printing.align_lines(["f(a, b)"], ["f(a,", "  b)"]) == [(0, 2)]


def test_c_map_on_conv1d(conv1d):
    printed = printing.print_proc_map(conv1d)
    text, ranges = printing.c_code_map(conv1d)
    assert text == conv1d.c_code_str()
    c = text.split("\n")
    assert set(ranges) == {s.path for s in printed.stmts}
    sig, close = ranges[()]
    assert c[sig[0]] == "// conv1d_rvm(" and c[sig[1] - 1].startswith("void conv1d_rvm( void *ctxt,")
    assert c[close[0]] == "}" and c[close[0] + 1] == ""
    for st in printed.stmts[1:]:
        node = _node(conv1d, st.path)
        first, *rest = ranges[st.path]
        line = c[first[0]].strip()
        if st.kind == "loop":
            assert line.startswith(f"for (int_fast32_t {node.iter} = "), st.path
            assert c[first[1] - 1].strip() == "}"
        elif st.kind == "if":
            assert line.startswith("if (") and c[first[1] - 1].strip() == "}"
        elif st.kind == "alloc":
            name = str(node.name)
            assert line in (f'#define {name} "m{line[-2]}"', f"static int32_t {name}[4 * 4 * 4];"), line
            assert [c[a].strip() for a, _ in rest] == ([f"#undef {name}"] if node.mem.name() == "RVM_TILE" else [])
        elif st.kind == "call":
            opcode = re.match(r'asm volatile\("(\S+) ', node.f.instr.c_instr)[1]
            assert line.startswith(f'asm volatile("{opcode} '), (line, opcode)
            assert first[1] - first[0] == 1
        elif st.kind == "assign":
            assert line.startswith(f"{node.name}["), line
        else:
            raise AssertionError(st.kind)
        # nested inside the parent's extent
        if len(st.path) > 1:
            parent = ranges[st.path[:-1]][0]
            assert parent[0] < first[0] and first[1] < parent[1]
    # every line of the body belongs to some statement
    body = range(ranges[(("body", 0),)][0][0], ranges[(("body", 0),)][0][1])
    covered = {n for path, rs in ranges.items() if path for a, b in rs for n in range(a, b)}
    assert set(body) <= covered


def test_c_map_frees_asserts_subprocs_and_else():
    text, ranges = printing.c_code_map(caller)
    c = text.split("\n")
    assert text == caller.c_code_str()
    [(a, b)] = ranges[(("body", 0),)]
    assert c[a].strip() == "tiny(ctxt,8,x,y);" and b == a + 1
    [(a, b)] = ranges[(("body", 1),)]
    assert c[a].strip().startswith("for (int_fast32_t k = 0; k < 8; k++)") and b == a + 3
    text, ranges = printing.c_code_map(tiny)
    c = text.split("\n")
    sig = ranges[()][0]
    assert c[sig[1] - 1].strip() == "EXO_ASSUME(n >= 4);"
    alloc = ranges[(("body", 0), ("body", 0))]
    assert [c[x].strip() for x, _ in alloc] == ["float *t = (float*) malloc(4 * sizeof(*t));", "free(t);"]
    [(a, b)] = ranges[(("body", 0), ("body", 2))]
    assert c[a].strip() == "if (i < 2) {" and c[b - 1].strip() == "}"
    assert "} else {" in [c[n].strip() for n in range(a, b)]
    assert c[ranges[(("body", 0), ("body", 2), ("orelse", 1))][0][0]].strip() == "; // NO-OP"


def test_compiler_is_restored_after_mapping():
    before = (LoopIR_compiler.Compiler.comp_s, LoopIR_compiler.Compiler.__init__)
    printing.c_code_map(tiny)
    assert (LoopIR_compiler.Compiler.comp_s, LoopIR_compiler.Compiler.__init__) == before


def test_forward_statement_paths():
    p = divide_loop(tiny, "for i in _:_", 2, ["io", "ii"], tail="guard")
    fwd = printing.forward_stmt_paths(tiny, p)
    assert fwd[(("body", 0),)] == (("body", 0),)
    assert fwd[(("body", 0), ("body", 1))] == (("body", 0), ("body", 0), ("body", 0), ("body", 1))
    assert len(fwd) == 7
    assert printing.forward_stmt_paths(p, tiny) is None  # wrong direction
    assert printing.forward_stmt_paths(caller, p) is None
    renamed = rename(tiny, "tiny2")
    assert printing.forward_stmt_paths(tiny, renamed) == {path: path for path in printing.stmt_paths(tiny)}


def test_statement_kinds_cover_loopir():
    stmt_classes = {name for name in dir(LoopIR) if isinstance(getattr(LoopIR, name), type)
                    and issubclass(getattr(LoopIR, name), LoopIR.stmt) and getattr(LoopIR, name) is not LoopIR.stmt}
    assert stmt_classes == set(printing._STMT_KIND)
