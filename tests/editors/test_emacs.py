"""Emacs 28 + Eglot 1.9, in batch, with the shipped editors/emacs/exo-lsp.el, against this
tree's server: flymake diagnostics, hovers (rendered by Eglot), a code action applied
through `eglot-code-actions`, and compile & simulate. Eglot speaks UTF-16, so columns after
non-ASCII text are right today. One run (tests/editors/emacs_drive.el) feeds every test.

Fails today: the server sends window/workDoneProgress/create to Eglot, which does not
declare window.workDoneProgress, and simulate sends no window/showMessage summary.
"""

from __future__ import annotations

import json

import pytest

from .common import EDITORS, HERE, INSTALL_HINT, NON_ASCII, editor_env, find_emacs, make_workspace, run_editor, span

TIMEOUT_S = 90  # the whole scenario (about 20 s here)

EDITOR_RUN = None  # set by the fixture; tests/editors/conftest.py shows its logs on failures


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("emacs"))


@pytest.fixture(scope="module")
def plan(ws):
    conv = ws.lines(ws.conv1d)
    i_line = ws.line_of(ws.conv1d, 'p = divide_loop(p, "for i in _:_"')
    j_line = ws.line_of(ws.conv1d, f'{NON_ASCII}; p = divide_loop(p, "for j in _:_"')
    return {
        "files": {"noop": str(ws.noop), "broken": str(ws.broken), "conv1d": str(ws.conv1d)},
        "hover": [
            {"name": "ascii", "line": i_line, "col": conv[i_line].index('"for i in _:_"') + 3},
            # the last `_` of the pattern, after text whose UTF-16 length differs from its length
            {"name": "after_non_ascii", "line": j_line, "col": conv[j_line].index('"for j in _:_"') + len('"for j in _:')},
        ],
        "action": {
            "line": ws.line_of(ws.noop, "dst[i, j] = src[i, j]"),
            "col": 12,
            "title": "Stage dst[i, j] in a new buffer dst_tile",
            "replace_all_line": ws.line_of(ws.noop, "p = replace_all("),
        },
        "i_line": i_line,
        "j_line": j_line,
    }


@pytest.fixture(scope="module")
def emacs(ws, plan):
    global EDITOR_RUN
    binary, found = find_emacs()
    if binary is None:
        pytest.fail(f"no Emacs with Eglot ({found}): {INSTALL_HINT}", pytrace=False)
    plan_file = ws.root / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    out = ws.root / "emacs-results.json"
    logs = ws.root / "emacs-logs"
    logs.mkdir()
    env = editor_env(ws, EXO_E2E_PLAN=str(plan_file), EXO_E2E_OUT=str(out), EXO_E2E_LOGS=str(logs))
    cmd = [binary, "--batch", "-l", str(EDITORS / "emacs" / "exo-lsp.el"), "-l", str(HERE / "emacs_drive.el")]
    run = run_editor("emacs", cmd, env, ws.trusted, out, TIMEOUT_S, {})
    for log in sorted(logs.glob("*.log")):
        run.logs[log.name] = log.read_text(encoding="utf-8", errors="replace")
    EDITOR_RUN = run
    if not run.results:
        pytest.fail(f"Emacs wrote no results\n{run.report()}", pytrace=False)
    return run


def test_scenario_finishes_in_time(emacs):
    assert emacs.results.get("done"), f"the scenario stopped at {emacs.results.get('current')!r}"
    assert not emacs.timed_out and emacs.returncode == 0
    emacs.section("shutdown")
    assert emacs.seconds < 60, f"the Emacs scenario took {emacs.seconds:.1f} s"


def test_scripts_open_in_exo_python_mode(emacs):
    got = emacs.section("broken")
    assert got["mode"] == "exo-python-mode"
    assert got["markdown"] is True, "markdown-mode is missing: hovers would be raw Markdown"


def test_flymake_diagnostics_exact_ranges(emacs, ws):
    got = emacs.section("noop")["diagnostics"]
    lines = ws.lines(ws.noop)
    simplify, replace_all = ws.line_of(ws.noop, "p = simplify("), ws.line_of(ws.noop, "p = replace_all(")
    assert [(d["range"], d["type"]) for d in got] == [
        ([simplify, 4, simplify, len(lines[simplify])], "eglot-warning"),
        ([replace_all, 4, replace_all, len(lines[replace_all])], "eglot-warning"),
    ]
    assert "`simplify` changed nothing" in got[0]["message"]  # Eglot prefixes "exo [no-op]: "


def test_flymake_pattern_miss_after_non_ascii_text(emacs, ws):
    [d] = emacs.section("broken")["diagnostics"]
    line = ws.line_of(ws.broken, "for q in _:_")
    start, end = span(ws.lines(ws.broken)[line], '"for q in _:_"', "chars")
    assert d["range"] == [line, start, line, end]
    assert d["type"] == "eglot-error"
    assert "pattern 'for q in _:_' matched nothing in `scale`: no loop `q`" in d["message"]


@pytest.mark.parametrize("name,pattern,loop", [
    ("ascii", "for i in _:_", "for i in seq(0, 16):"),
    ("after_non_ascii", "for j in _:_", "for j in seq(0, 16):"),
])
def test_hover_on_pattern(emacs, ws, plan, name, pattern, loop):
    [h] = [h for h in emacs.section("hover") if h["name"] == name]
    assert h["kind"] == "markdown", h
    assert f"{loop}  # ◀ selected" in h["value"]
    assert f"{loop}  # ◀ selected" in h["rendered"]  # Eglot's own rendering (markdown-mode)
    line = plan["i_line"] if name == "ascii" else plan["j_line"]
    start, end = span(ws.lines(ws.conv1d)[line], f'"{pattern}"', "chars")
    assert h["range"] == [line, start, line, end]


def test_code_action_applies_and_flymake_follows(emacs, ws):
    got = emacs.section("action")
    lines = ws.lines(ws.noop)
    replace_all = ws.line_of(ws.noop, "p = replace_all(")
    new = got["text"].splitlines()
    inserted = 'p = stage_mem(p, "dst[_] = _", "dst[i, j]", "dst_tile")'
    assert inserted in new, got["text"]
    at = new.index(inserted)
    assert new[:at] + new[at + 1:] == lines, "the action inserts exactly one line"
    moved = replace_all + 1 if at <= replace_all else replace_all
    diags = [(d["range"], d["message"]) for d in got["diagnostics"]]
    assert [r for r, m in diags if "`replace_all` replaced nothing" in m] == [[moved, 4, moved, len(lines[replace_all])]], diags


def test_compile_and_simulate_from_emacs(emacs):
    got = emacs.section("simulate")
    assert got["error"] is None
    assert got["ok"] is True and got["correct"] is True
    assert "# Compile & simulate: `conv1d_rvm`" in got["report"]
    assert got["report_buffer"] and "Compile & simulate" in got["report_buffer"]


def test_no_progress_requests_to_a_client_without_work_done_progress(emacs):
    """Eglot 1.9 does not declare window.workDoneProgress: no progress token is asked for."""
    requests = emacs.section("simulate")["requests"]
    assert "window/workDoneProgress/create" not in requests, requests


def test_simulate_sends_a_summary_message(emacs):
    """A one-line summary is shown, not only returned as the command's result."""
    messages = emacs.section("simulate")["messages"]
    summaries = [m for m in messages if "conv1d_rvm" in m["message"]]
    assert summaries, f"no window/showMessage summary: {messages}"
    assert summaries[0]["type"] == 3
