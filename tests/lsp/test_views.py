"""Views over stdio: the proc and its C at several steps of conv1d equal what Exo prints,
the source maps hold on every statement of the final proc, diffs, live updates."""

from __future__ import annotations

import difflib
import os
import pathlib
import re
import runpy
from urllib.parse import quote

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInternalError
from pytest_lsp import LanguageClient

from exo_lsp.worker.exo import printing, procs

from .helpers import EXAMPLES, VSCODE_ONLY, _plain, change_script, close_script, open_script

pytestmark = pytest.mark.asyncio(loop_scope="module")

CONV1D = EXAMPLES / "conv1d.py"
CONV1D_PATH = str(CONV1D.resolve())


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> dict[int, object]:
    """conv1d run in this process, keeping `p` after every scheduling line (0-based line ->
    proc): the expected views, made by Exo alone."""
    lines = CONV1D.read_text().split("\n")
    for i, line in enumerate(lines):
        if re.match(r"p = \w+\(", line):
            lines[i] = f"{line}; __snap[{i}] = p"
    copy = tmp_path_factory.mktemp("conv1d") / "conv1d_snap.py"
    copy.write_text("\n".join(lines))
    snap: dict[int, object] = {}
    ns = runpy.run_path(str(copy), init_globals={"__snap": snap})
    snap[-1] = ns["conv1d"]
    return snap


def c_text(p) -> str:
    try:
        return p.c_code_str()
    finally:
        procs.reset_exo_state()


async def request(client: LanguageClient, method: str, params: dict):
    return _plain(await client.protocol.send_request_async(method, params))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def conv1d(client: LanguageClient):
    uri, status = await open_script(client, CONV1D)
    assert status["state"] == "ok", status
    steps = (await request(client, "exo/steps", {"uri": uri}))["steps"]
    assert len(steps) == 47
    return uri, steps


def view(scheme: str, step) -> str:
    return f"{scheme}:{CONV1D_PATH}?proc=conv1d_rvm&step={step}"


@pytest.mark.parametrize("step", [0, 3, 7, 20, 33, 44, "last"])
async def test_views_equal_exos_print_and_c(client, conv1d, snapshots, step):
    _, steps = conv1d
    line = steps[-1 if step == "last" else step]["line"]
    want = snapshots[line]
    got = await request(client, "exo/viewText", {"uri": view("exo-proc", step)})
    assert got["text"] == str(want)
    try:
        want_c = c_text(want)
    except Exception as exc:  # e.g. tile buffers not yet unrolled: the C view says why
        with pytest.raises(JsonRpcInternalError) as err:
            await request(client, "exo/viewText", {"uri": view("exo-c", step)})
        message = str(exc).replace(str(exc.args[0]).split(":")[0], CONV1D_PATH)  # the snapshot's copy
        assert f"{type(exc).__name__}: {message}" in str(err.value)
        assert step == 33
    else:
        got_c = await request(client, "exo/viewText", {"uri": view("exo-c", step)})
        assert got_c["text"] == want_c


async def test_the_proc_as_defined(client, conv1d, snapshots):
    got = await request(client, "exo/viewText", {"uri": f"exo-proc:{CONV1D_PATH}?proc=conv1d&step=-1"})
    assert got["text"] == str(snapshots[-1])


async def test_vscode_encoded_uri(client, conv1d, snapshots):
    _, steps = conv1d
    uri = f"exo-proc:{quote(CONV1D_PATH)}?proc%3Dconv1d_rvm%26step%3D5"
    got = await request(client, "exo/viewText", {"uri": uri})
    assert got["text"] == str(snapshots[steps[5]["line"]])


def _node(p, path: str):
    n = p._loopir_proc
    for attr, i in re.findall(r"(\w+)\[(\d+)\]", path):
        n = getattr(n, attr)[int(i)]
    return n


def stmt_path_text(path) -> str:
    return ".".join(f"{a}[{i}]" for a, i in path)


def _squeeze(s: str) -> str:
    return "".join(s.split())


async def test_proc_map_on_every_statement_of_the_final_proc(client, conv1d, snapshots):
    _, steps = conv1d
    final = snapshots[steps[-1]["line"]]
    text = str(final).split("\n")
    vm = await request(client, "exo/viewMap", {"uri": view("exo-proc", "last")})
    assert vm["kind"] == "proc" and vm["proc"] == "conv1d_rvm" and vm["step"] == 46 and vm["aligned"]
    assert vm["chain"] == list(range(47))
    stmts = vm["statements"]
    assert stmts[0]["path"] == "" and stmts[0]["procLines"] == {"start": 0, "end": 2}
    paths = [s["path"] for s in stmts[1:]]
    assert len(paths) == 34 and paths == [stmt_path_text(q) for q in printing.stmt_paths(final)]
    covered = set()
    for st in stmts[1:]:
        node = _node(final, st["path"])
        a, b = st["procLines"]["start"], st["procLines"]["end"]
        covered.update(range(a, b))
        # the view's lines of the statement are the statement as Exo prints it alone
        alone = str(node).split("\n")
        own = alone[0] if st["kind"] in ("loop", "if") else "".join(alone)
        assert _squeeze("".join(text[a:b])) == _squeeze(own), st["path"]
        # proc statement -> algorithm line: Exo's srcinfo
        si = node.srcinfo
        o = st["origin"]
        assert o["uri"] == CONV1D.resolve().as_uri()
        assert o["range"]["start"] == {"line": si.lineno - 1, "character": si.col_offset}
        # the step that last changed it printed this line
        if st["changedStep"] is not None:
            after = _squeeze(str(snapshots[steps[st["changedStep"]]["line"]]))
            assert _squeeze(st["text"]).replace(" ", "") in after
            assert st["changedAt"]["range"]["start"]["line"] == steps[st["changedStep"]]["line"]
            assert st["createdStep"] is None or st["createdStep"] <= st["changedStep"]
    # every line but `else:` belongs to one statement
    assert sorted(covered | {0, 1}) == [n for n in range(len(text)) if text[n].strip() != "else:"]


EXPECTED_MAKERS = {
    # own line -> (made by: script line 1-based or None for the algorithm, last changed by)
    "rvm_mld(data_tile[0:4, 0:4], y[c, 0:4, 0:4])": (78, 94),
    "acc_0 : i32[4, 4] @RVM_TILE": (88, 88),
    "y : i32[4, 4, 4] @DRAM_STATIC": (None, 94),
    "data_tile : i32[4, 4] @RVM_TILE": (69, 76),
    "for ji in seq(0, 4):": (48, 48),
    "for c in seq(0, 4):": (None, None),
    "rvm_mzero(acc_0[0:4, 0:4])": (84, 88),
}


async def test_proc_statement_goes_to_algorithm_and_schedule_lines(client, conv1d, snapshots):
    _, steps = conv1d
    final = snapshots[steps[-1]["line"]]
    vm = await request(client, "exo/viewMap", {"uri": view("exo-proc", "last")})
    by_text = {st["text"]: st for st in vm["statements"]}
    script = CONV1D.read_text().split("\n")
    for text, (made, changed) in EXPECTED_MAKERS.items():
        st = by_text[text]
        line = st["procLines"]["start"]
        defs = await client.text_document_definition_async(
            lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=view("exo-proc", "last")),
                                 position=lsp.Position(line=line, character=8))
        )
        got = [(d.uri, d.range.start.line) for d in defs]
        si = _node(final, st["path"]).srcinfo
        want = [(CONV1D.resolve().as_uri(), si.lineno - 1)]
        for ln in (made, changed):
            if ln is not None and (CONV1D.resolve().as_uri(), ln - 1) not in want:
                want.append((CONV1D.resolve().as_uri(), ln - 1))
        assert got == want, text
        for d in defs[1:]:  # schedule lines: the whole call
            assert script[d.range.start.line][d.range.start.character:].startswith("p = ") is False
            assert script[d.range.start.line][d.range.start.character:].split("(")[0] in {
                steps[i]["op"] for i in range(47)}


# definitions from a view into a view are view URIs for VS Code; other editors get view
# files (tested in test_other_editors.py)
@VSCODE_ONLY
async def test_every_c_line_of_a_statement_goes_to_its_proc_statement(client, conv1d, snapshots):
    _, steps = conv1d
    final = snapshots[steps[-1]["line"]]
    c = c_text(final).split("\n")
    proc_text = str(final).split("\n")
    vm = await request(client, "exo/viewMap", {"uri": view("exo-c", "last")})
    assert vm["kind"] == "c"
    for st in vm["statements"]:
        assert st["cLines"], st["path"]
        # the innermost statement's own C line: a loop's header, an alloc's #define, ...
        line = st["cLines"][0]["start"]
        defs = await client.text_document_definition_async(
            lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=view("exo-c", "last")),
                                 position=lsp.Position(line=line, character=0))
        )
        target = defs[0]
        assert target.uri == view("exo-proc", "last")
        a, b = st["procLines"]["start"], st["procLines"]["end"]
        indent = len(proc_text[a]) - len(proc_text[a].lstrip())
        assert (target.range.start.line, target.range.start.character) == (a, indent), (c[line], st["path"])
        assert (target.range.end.line, target.range.end.character) == (b - 1, len(proc_text[b - 1]))
        if st["path"]:
            si = _node(final, st["path"]).srcinfo
            assert defs[1].range.start.line == si.lineno - 1
    # the frees of tile registers go to their allocation
    undef = c.index("    #undef acc_0")
    defs = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=view("exo-c", "last")),
                             position=lsp.Position(line=undef, character=4))
    )
    assert proc_text[defs[0].range.start.line].strip() == "acc_0: i32[4, 4] @ RVM_TILE"


async def test_hover_in_views(client, conv1d):
    vm = await request(client, "exo/viewMap", {"uri": view("exo-c", "last")})
    st = next(s for s in vm["statements"] if s["text"].startswith("rvm_mmasa(acc_0"))
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=view("exo-c", "last")),
                        position=lsp.Position(line=st["cLines"][0]["start"], character=10))
    )
    assert hover.contents.value == "  \n".join([
        "**call** `rvm_mmasa(acc_0[0:4, 0:4], data_tile[0:4, 0:4], kernel_tile_0[0:4, 0:4])`",
        "algorithm: line 19 of `conv1d.py`",
        "made by: step 39 `unroll_loop` (script line 85)",
        "last changed by: step 43 `unroll_buffer` (script line 89)",
        f"proc view: lines {st['procLines']['start'] + 1}–{st['procLines']['end']}",
    ])
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=view("exo-proc", "last")),
                        position=lsp.Position(line=3, character=10))
    )
    assert hover.contents.value == "  \n".join([
        "**loop** `for jo in seq(0, 4):`",
        "algorithm: line 20 of `conv1d.py`",
        "made by: the algorithm",
        "last changed by: step 2 `divide_loop` (script line 36)",
    ])


async def test_script_hover_still_reaches_the_script_features(client, conv1d):
    uri, _ = conv1d
    line = CONV1D.read_text().split("\n").index('p = divide_loop(p, "for j in _:_", 4, ["jo", "ji"], perfect=True)')
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=line, character=25))
    )
    assert hover is not None and "for j in seq(0, 16):" in hover.contents.value


async def test_step_diff_from_the_algorithm(client, conv1d, snapshots):
    uri, steps = conv1d
    got = await request(client, "exo/stepDiff", {"uri": uri, "fromStep": -1, "toStep": 1})
    assert got["fromUri"] == f"exo-proc:{CONV1D_PATH}?proc=conv1d&step=-1"
    assert got["toUri"] == f"exo-proc:{CONV1D_PATH}?proc=conv1d_rvm&step=1"
    old, new = str(snapshots[-1]).split("\n"), str(snapshots[steps[1]["line"]]).split("\n")
    want = "\n".join(difflib.unified_diff(old, new, "conv1d (as defined)", "after step 1 divide_loop (line 35)", lineterm=""))
    assert got["diff"] == want
    # renamed, and every line moved in under the new outer loop
    assert got["removed"] == [{"start": 0, "end": len(old)}]
    assert got["added"] == [{"start": 0, "end": len(new)}]
    # both sides open as views
    left = await request(client, "exo/viewText", {"uri": got["fromUri"]})
    right = await request(client, "exo/viewText", {"uri": got["toUri"]})
    assert left["text"] == str(snapshots[-1]) and right["text"] == str(snapshots[steps[1]["line"]])


async def test_what_a_line_changed(client, conv1d, snapshots):
    uri, steps = conv1d
    line = CONV1D.read_text().split("\n").index('p = set_memory(p, "acc : _", RVM_TILE)')
    got = await request(client, "exo/stepChange", {"uri": uri, "line": line})
    assert got["step"] == 30 and got["op"] == "set_memory" and got["ok"]
    assert got["beforeUri"] == f"exo-proc:{CONV1D_PATH}?proc=conv1d_rvm&step=29"
    assert got["afterUri"] == f"exo-proc:{CONV1D_PATH}?proc=conv1d_rvm&step=30"
    old, new = str(snapshots[line - 1]).split("\n"), str(snapshots[line]).split("\n")
    diff = list(difflib.unified_diff(old, new, lineterm=""))
    assert [d for d in got["diff"].split("\n") if d[:1] in "+-" and d[:3] not in ("+++", "---")] == [
        d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")
    ]
    assert [d[0] + d[1:].strip() for d in got["diff"].split("\n") if d.startswith(("-", "+")) and d[:3] not in ("+++", "---")] == [
        "-acc: i32[4, 4, 4] @ DRAM",
        "+acc: i32[4, 4, 4] @ RVM_TILE",
    ]
    [removed] = got["removed"]
    assert old[removed["start"]].strip() == "acc: i32[4, 4, 4] @ DRAM"
    none = await request(client, "exo/stepChange", {"uri": uri, "line": 0})
    assert none["step"] is None and none["diff"] == ""


async def test_cli_show_prints_the_views():
    import subprocess
    import sys

    exe = [sys.executable, "-m", "exo_lsp", "show", str(EXAMPLES / "matmul.py")]
    ns = runpy.run_path(str(EXAMPLES / "matmul.py"))
    out = subprocess.run(exe + ["--c"], capture_output=True, text=True, check=True).stdout
    assert out == c_text(ns["matmul_tiled"])
    out = subprocess.run(exe + ["--step", "-1", "--proc", "matmul"], capture_output=True, text=True, check=True).stdout
    assert out == str(ns["matmul"]) + "\n"
    bad = subprocess.run(exe + ["--step", "99"], capture_output=True, text=True)
    assert bad.returncode == 2 and "step 99 does not exist (the script has 8 steps)" in bad.stderr


async def test_an_open_view_follows_script_changes(client, tmp_path):
    src = (EXAMPLES / "matmul.py").read_text()
    script = EXAMPLES / "matmul.py"
    uri, status = await open_script(client, script, src)
    assert status["state"] == "ok"
    vuri = f"exo-proc:{script.resolve()}?proc=matmul&step=last"
    first = await request(client, "exo/viewText", {"uri": vuri})
    seen = len(client.views_changed)
    edited = src.replace('p = divide_loop(p, "for j in _:_", 4,', 'p = divide_loop(p, "for j in _:_", 8,')
    assert edited != src
    status = await change_script(client, uri, edited, 2)
    assert status["state"] == "ok"
    assert {"scriptUri": uri} in client.views_changed[seen:]
    second = await request(client, "exo/viewText", {"uri": vuri})
    assert second["version"] > first["version"]
    assert "for jo in seq(0, 2):" in second["text"] and "for jo in seq(0, 4):" in first["text"]
    # the expected text, from Exo in this process
    copy = tmp_path / "matmul_edit.py"
    copy.write_text(edited)
    assert second["text"] == str(runpy.run_path(str(copy))["matmul_tiled"])
    vm = await request(client, "exo/viewMap", {"uri": vuri})
    assert vm["version"] == second["version"]
    close_script(client, uri)
