"""Neovim 0.11, headless, with the shipped editors/neovim/exo_lsp.lua, against this tree's
server: diagnostics, hover, definition, inlay hints, code lenses, compile & simulate and a
code action, as Neovim itself sees them (byte columns, converted with the negotiated
position encoding). One scenario run (tests/editors/neovim_scenario.lua) feeds every test.

What editors other than VS Code need from the server is checked here as Neovim sees it:
columns in the encoding it negotiates, server-side view commands (`exo.showProc` writes the
view as a read-only file under the user cache dir and opens it with window/showDocument),
views reachable as files, simulate's report opened as a document with a summary message.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from .common import EDITORS, HERE, INSTALL_HINT, NON_ASCII, ROOT, byte_col, editor_env, find_nvim, make_workspace, run_editor, span

TIMEOUT_S = 90  # the whole scenario (it takes 15-25 s here)

EDITOR_RUN = None  # set by the fixture; tests/editors/conftest.py shows its logs on failures


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("nvim"))


@pytest.fixture(scope="module")
def plan(ws):
    conv = ws.lines(ws.conv1d)
    i_line = ws.line_of(ws.conv1d, 'p = divide_loop(p, "for i in _:_"')
    j_line = ws.line_of(ws.conv1d, f'{NON_ASCII}; p = divide_loop(p, "for j in _:_"')
    i_col = byte_col(conv[i_line], conv[i_line].index('"for i in _:_"') + 3)
    # the last `_` of the pattern: after the non-ASCII text, bytes and UTF-16 units differ by 5
    j_col = byte_col(conv[j_line], conv[j_line].index('"for j in _:_"') + len('"for j in _:'))
    probes = [{"name": "ascii", "line": i_line, "col": i_col}, {"name": "after_non_ascii", "line": j_line, "col": j_col}]
    return {
        "files": {"noop": str(ws.noop), "broken": str(ws.broken), "conv1d": str(ws.conv1d), "untrusted": str(ws.untrusted)},
        "hover": probes,
        "definition": probes,
        "lens_line": ws.line_of(ws.conv1d, "for i in seq(0, 16):"),
        "suggest_line": ws.line_of(ws.conv1d, "p = rename("),
        "suggest_budget": 1,  # the search worker runs the script, simulates once: the scenario stays short
        "action": {
            "line": ws.line_of(ws.noop, "dst[i, j] = src[i, j]"),
            "col": 12,
            "title": "Stage dst[i, j] in a new buffer dst_tile",
        },
        "i_line": i_line,
        "j_line": j_line,
    }


@pytest.fixture(scope="module")
def nvim(ws, plan, request):
    global EDITOR_RUN
    binary, found = find_nvim()
    if binary is None:
        pytest.fail(f"no Neovim >= 0.11 ({found}): {INSTALL_HINT}", pytrace=False)
    plan_file = ws.root / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    out = ws.root / "nvim-results.json"
    env = editor_env(ws, EXO_E2E_PLAN=str(plan_file), EXO_E2E_OUT=str(out))
    cmd = [binary, "--headless", "-i", "NONE", "-u", str(EDITORS / "neovim" / "exo_lsp.lua"),
           "-c", f"luafile {HERE / 'neovim_scenario.lua'}"]
    run = run_editor("neovim", cmd, env, ws.trusted, out, TIMEOUT_S,
                     {"lsp.log": ws.root / "xdg" / "state" / "nvim" / "lsp.log"})
    EDITOR_RUN = run
    if not run.results:
        pytest.fail(f"Neovim wrote no results\n{run.report()}", pytrace=False)
    return run


def cache_dir(ws) -> str:
    return str(ws.root / "xdg" / "cache")


# ----------------------------------------------------------------------------- the run


def test_scenario_finishes_in_time(nvim):
    assert nvim.results.get("done"), f"the scenario stopped at {nvim.results.get('current')!r}"
    assert not nvim.timed_out
    assert nvim.section("shutdown")["stopped"], "exo_lsp did not stop within 10 s of shutdown"
    assert nvim.seconds < 60, f"the Neovim scenario took {nvim.seconds:.1f} s"


# ----------------------------------------------------------------------------- diagnostics


def test_diagnostics_exact_ranges(nvim, ws):
    got = nvim.section("noop")
    assert got["status"]["state"] == "ok" and got["status"]["warnings"] == 2, got["status"]
    lines = ws.lines(ws.noop)
    simplify, replace_all = ws.line_of(ws.noop, "p = simplify("), ws.line_of(ws.noop, "p = replace_all(")
    assert [(d["range"], d["severity"], d["source"]) for d in got["diagnostics"]] == [
        ([simplify, 4, simplify, len(lines[simplify])], 2, "exo"),
        ([replace_all, 4, replace_all, len(lines[replace_all])], 2, "exo"),
    ]
    assert got["diagnostics"][0]["message"].startswith("`simplify` changed nothing")
    assert "the body matches at `for i in seq(0, 4):` but the memories differ" in got["diagnostics"][1]["message"]


def test_pattern_miss_is_reported_on_its_line(nvim, ws):
    got = nvim.section("broken")
    assert got["status"]["state"] == "errors"
    [d] = got["diagnostics"]
    line = ws.line_of(ws.broken, "for q in _:_")
    assert d["range"][0] == d["range"][2] == line
    assert d["severity"] == 1
    assert d["message"].startswith(
        "pattern 'for q in _:_' matched nothing in `scale`: no loop `q`; loops in `scale` at this step: io, ii"
    )


def test_pattern_miss_range_after_non_ascii_text(nvim, ws):
    """Columns in UTF-8, the encoding negotiated with Neovim (UTF-16 columns were sent once)."""
    [d] = nvim.section("broken")["diagnostics"]
    line = ws.line_of(ws.broken, "for q in _:_")
    start, end = span(ws.lines(ws.broken)[line], '"for q in _:_"')
    assert d["range"] == [line, start, line, end], "the diagnostic must cover exactly the pattern string"


def test_related_proc_view_is_reachable(nvim):
    """Related information points at a view file Neovim can open (not an `exo-proc:` URI)."""
    related = nvim.section("related")
    assert related, "the pattern miss relates the proc at that step"
    for r in related:
        assert r["uri"].startswith("file:"), f"{r['uri']} cannot be opened outside VS Code"
        assert r.get("exists"), r
        assert "for io in seq(0, n / 4):" in r["text"]


def test_untrusted_folder_runs_nothing(nvim):
    got = nvim.section("untrusted")
    assert got["status"]["state"] == "untrusted"
    assert got["diagnostics"] == []


# ----------------------------------------------------------------------------- hover, definition


def _hover_check(nvim, ws, name: str, line: int, pattern: str, loop: str):
    h = nvim.section("hover")[name]
    assert h.get("value"), f"no hover on {pattern}: {h}"
    assert h["kind"] == "markdown"
    assert f"{loop}  # ◀ selected" in h["value"]
    assert "def conv1d_rvm(" in h["value"]
    start, end = span(ws.lines(ws.conv1d)[line], f'"{pattern}"')
    assert h["range"] == [line, start, line, end]


def test_hover_on_pattern(nvim, ws, plan):
    _hover_check(nvim, ws, "ascii", plan["i_line"], "for i in _:_", "for i in seq(0, 16):")


def test_hover_on_pattern_after_non_ascii_text(nvim, ws, plan):
    """A position after non-ASCII text is read as UTF-8 (read as UTF-16 it landed past the string)."""
    _hover_check(nvim, ws, "after_non_ascii", plan["j_line"], "for j in _:_", "for j in seq(0, 16):")


def test_definition_of_pattern(nvim, ws):
    d = nvim.section("definition")["ascii"]
    assert d["moved"], d
    assert d["file"] == str(ws.conv1d)
    assert (d["line"], d["col"]) == (ws.line_of(ws.conv1d, "for i in seq(0, 16):"), 4)


def test_definition_of_pattern_after_non_ascii_text(nvim, ws):
    """As for hover."""
    d = nvim.section("definition")["after_non_ascii"]
    assert d["moved"], d
    assert (d["line"], d["col"]) == (ws.line_of(ws.conv1d, "for j in seq(0, 16):"), 8)


# ----------------------------------------------------------------------------- inlay hints, lenses


def _hint_at(nvim, line: int) -> list[dict]:
    return [h for h in nvim.section("inlay") if h["line"] == line]


def test_inlay_hints_preview_steps(nvim, ws, plan):
    line = plan["i_line"]
    assert _hint_at(nvim, line) == [
        {"line": line, "col": len(ws.lines(ws.conv1d)[line].encode()), "label": "→ for i in seq(0, 16)"}
    ]
    labels = [h["label"] for h in nvim.section("inlay")]
    assert "→ for ioi in seq(0, 4)" in labels


def test_inlay_hint_after_non_ascii_text_is_at_the_end_of_the_call(nvim, ws, plan):
    """The hint sits at the call's end in UTF-8 bytes (a UTF-16 column was 5 bytes short)."""
    line = plan["j_line"]
    assert _hint_at(nvim, line) == [
        {"line": line, "col": len(ws.lines(ws.conv1d)[line].encode()), "label": "→ for j in seq(0, 16)"}
    ]


def test_code_lenses_on_the_algorithm(nvim, ws, plan):
    every = nvim.section("lenses")
    lenses = [lens for lens in every if lens["command"] == "exo.showProc"]
    rename = ws.line_of(ws.conv1d, "p = rename(")
    assert lenses and all(lens["line"] < rename for lens in lenses), "Neovim shows inlay hints: no step lenses"
    suggest = [lens for lens in every if lens["command"] == "exo.suggestSchedule"]
    assert suggest and suggest[0]["line"] == rename and suggest[0]["title"] == "Suggest schedule"
    assert suggest[0]["arguments"] == [{"uri": ws.conv1d.as_uri(), "step": 0}]
    [first] = [lens for lens in lenses if lens["line"] == plan["lens_line"]]
    assert first["command"] == "exo.showProc"
    assert first["title"].startswith("scheduled by ")
    [arg] = first["arguments"]
    assert (arg["uri"], arg["proc"]) == (ws.conv1d.as_uri(), "conv1d_rvm") and isinstance(arg["step"], int)


def test_running_a_code_lens_opens_the_proc_as_a_read_only_file(nvim, ws, plan):
    """`exo.showProc` is a server command (it was a VS Code client command only)."""
    commands = nvim.section("noop")["commands"]
    assert "exo.showProc" in commands, f"the server's commands: {commands}"
    got = nvim.section("run_lens")
    assert not [n for n in got["notes"] if "does not support command" in n["msg"]], got["notes"]
    assert got["arrived"], "no window/showDocument after running the lens"
    [doc] = got["documents"]
    assert doc["uri"].startswith("file:") and doc["exists"], doc
    assert doc["path"].startswith(cache_dir(ws) + os.sep), f"{doc['path']} is not under the user cache dir"
    assert doc["mode"] & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0, "the view file must be read-only"
    assert got["current_file"] == doc["path"] and got["readonly"]
    [lens] = [lens for lens in nvim.section("lenses") if lens["line"] == plan["lens_line"]]
    step = lens["arguments"][0]["step"]
    want = subprocess.run(
        [sys.executable, "-m", "exo_lsp", "show", str(ws.conv1d), "--proc", "conv1d_rvm", "--step", str(step)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": f"{ROOT / 'server'}:{ROOT / 'protocol'}"},
    )
    assert want.returncode == 0, want.stderr
    assert doc["text"].strip() == want.stdout.strip()


# ----------------------------------------------------------------------------- commands, actions


def test_suggest_opens_the_suggestions_file_kept_current(nvim, ws, plan):
    """:ExoSuggest (exo.suggestSchedule) opens a Markdown file under the user cache folder,
    rewritten while the search runs until it is done."""
    got = nvim.section("suggest")
    doc = got["document"]
    assert doc["uri"].startswith("file:") and doc["exists"] and doc["path"].endswith(".md"), doc
    assert doc["path"].startswith(cache_dir(ws) + os.sep) and f"{os.sep}suggestions{os.sep}" in doc["path"]
    assert got["current_file"] == doc["path"]
    line = plan["suggest_line"]
    head = f"# Suggestions for {ws.conv1d.name}, after line {line + 1} (step 0, `conv1d_rvm`)"
    assert doc["text"].startswith(head + "\n") and "**searching…**" in doc["text"]
    assert got["done"], got["final_text"]
    text = got["final_text"]
    assert text.startswith(head) and f"**done** · {plan['suggest_budget']} of {plan['suggest_budget']} evaluations" in text
    assert "## Next steps" in text and "## Best whole schedules" in text



def test_compile_and_simulate_command_runs(nvim):
    got = nvim.section("simulate")
    assert got["err"] is None, got["err"]
    assert got["error"] is None
    assert got["ok"] is True and got["correct"] is True
    assert got["speedup"] > 4


def test_compile_and_simulate_opens_its_report(nvim, ws):
    """The report opens as a file (the command's result alone is discarded by Neovim)."""
    got = nvim.section("simulate")
    reports = [d for d in got["documents"] if d.get("path", "").endswith(".md")]
    assert reports, f"no Markdown report opened with window/showDocument: {got['documents']}"
    [doc] = reports
    assert doc["exists"] and doc["path"].startswith(cache_dir(ws) + os.sep), doc
    assert "# Compile & simulate: `conv1d_rvm`" in doc["text"]
    assert "outputs correct (bit-exact)" in doc["text"]
    summaries = [m for m in got["messages"] if "conv1d_rvm" in m["message"]]
    assert summaries, f"no window/showMessage summary: {got['messages']}"
    assert summaries[0]["type"] == 3  # Info: a correct simulation


def test_code_action_applies_and_diagnostics_follow(nvim, ws):
    got = nvim.section("action")
    lines = ws.lines(ws.noop)
    replace_all = ws.line_of(ws.noop, "p = replace_all(")
    new = got["text"].splitlines()
    inserted = 'p = stage_mem(p, "dst[_] = _", "dst[i, j]", "dst_tile")'
    assert inserted in new, got["text"]
    at = new.index(inserted)
    assert new[:at] + new[at + 1:] == lines, "the action inserts exactly one line"
    assert got["status"]["state"] == "ok"
    # re-run: the warnings follow the text (the replace_all one moved below the new line)
    diags = [(d["range"], d["message"].split(":")[0]) for d in got["diagnostics"]]
    moved = replace_all + 1 if at <= replace_all else replace_all
    assert ([moved, 4, moved, len(lines[replace_all])], "`replace_all` replaced nothing") in diags, diags
