"""The command line: compiler-style check output and exit codes, trace lines, simulate."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def exo_lsp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "exo_lsp", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_check_valid_examples_is_silent_and_succeeds():
    r = exo_lsp("check", "examples/conv1d.py", "examples/matmul.py", "examples/conv1d_variants.py")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr


def test_check_broken_examples_compiler_style():
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples" / "broken").glob("*.py"))
    r = exo_lsp("check", *files)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "examples/broken/noop_steps.py:16:5: warning: `simplify` changed nothing: the proc is the same before and after this step",
        "examples/broken/noop_steps.py:17:5: warning: `replace_all` replaced nothing: the proc is the same before and after this step; the body matches at `for i in seq(0, 4):` but the memories differ from the instruction's (set_memory the buffers first)",
        "examples/broken/op_fails.py:13:40: error: divide_loop failed: cannot perfectly divide '16' by 5",
        "examples/broken/pattern_no_match.py:15:20: error: pattern 'for q in _:_' matched nothing in `scale`: no loop `q`; loops in `scale` at this step: io, ii",
        "examples/broken/proc_body_error.py:10:24: error: ParseError in @proc: variable 'z' undefined",
        "examples/broken/python_error.py:14:43: error: NameError: name 'factors' is not defined",
        "examples/broken/replace_fails.py:16:5: error: replace failed: cannot unify a For statement (isa.py:72:8) with a Assign statement (replace_fails.py:13:12)",
    ]


def test_check_warnings_alone_exit_zero():
    r = exo_lsp("check", "examples/broken/noop_steps.py")
    assert r.returncode == 0
    assert r.stdout.count(": warning: ") == 2


def test_trace_prints_one_line_per_step():
    r = exo_lsp("trace", "examples/matmul.py")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    steps = [line.split() for line in lines if line[:5].strip().isdigit()]
    assert [(s[0], s[1]) for s in steps] == [
        ("18", "divide_loop"),
        ("19", "divide_loop"),
        ("20", "reorder_loops"),
        ("21", "fission"),
        ("22", "reorder_loops"),
        ("23", "reorder_loops"),
        ("24", "unroll_loop"),
        ("25", "simplify"),
    ]
    assert "for i in seq(0, 16):" in lines[0] and lines[0].rstrip().endswith("ms")
    assert lines[-1].startswith("8 steps, ") and lines[-1].endswith(" 0 problems")


def test_trace_of_a_failing_script_says_where():
    r = exo_lsp("trace", "examples/broken/op_fails.py")
    assert r.returncode == 1
    assert "FAILED: divide_loop: cannot perfectly divide '16' by 5" in r.stdout
    assert r.stdout.splitlines()[-1] == "examples/broken/op_fails.py:13:40: error: divide_loop failed: cannot perfectly divide '16' by 5"


def test_simulate_conv1d_json():
    r = exo_lsp("simulate", "examples/conv1d.py", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert (result["proc"], result["algorithm"], result["ok"], result["correct"]) == ("conv1d_rvm", "conv1d", True, True)
    assert result["races"] == []
    assert result["speedup"] > 4
    assert "[100%] done" in r.stderr
