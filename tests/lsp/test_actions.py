"""Code actions over stdio: offered only where they apply, each inserting one schedule line
that, applied and re-run, yields exactly the previewed proc."""

from __future__ import annotations

import pathlib

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, change_script, close_script, document_edits, open_script

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.lsp_session(init_options={"actionBudgetMs": 0}),  # no time budget: every candidate is validated before the answer
]

CONV1D = EXAMPLES / "conv1d.py"
MATMUL = EXAMPLES / "matmul.py"


def lines_of(path: pathlib.Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def line_no(path: pathlib.Path, text: str, nth: int = 0) -> int:
    """0-based line of the nth line of `path` that contains `text`."""
    hits = [i for i, line in enumerate(lines_of(path)) if text in line]
    return hits[nth]


def prefix(path: pathlib.Path, upto: int) -> str:
    """The script up to and including 0-based line `upto` (a shorter schedule)."""
    return "".join(lines_of(path)[: upto + 1])


async def actions_at(client: LanguageClient, uri: str, line: int, character: int) -> list[lsp.CodeAction]:
    got = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=lsp.Range(start=lsp.Position(line, character), end=lsp.Position(line, character)),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    return list(got or [])


def col(text: str, needle: str) -> int:
    return text.index(needle) + 1


def edit_form_matches(client: LanguageClient, action: lsp.CodeAction) -> bool:
    declared = client.editor == "vscode"  # capabilities/*.json: only VS Code declares documentChanges
    return (action.edit.document_changes is not None) == declared and (action.edit.changes is not None) != declared


def apply_edit(text: str, action: lsp.CodeAction) -> tuple[str, int]:
    """The text with the action's edit applied, and the 0-based line it inserted."""
    [change] = document_edits(action)
    [edit] = change.edits
    lines = text.splitlines(keepends=True)
    at = edit.range.start.line
    assert edit.range.start == edit.range.end and edit.range.start.character == 0
    new_lines = lines[:at] + [edit.new_text] + lines[at:]
    return "".join(new_lines), at


async def resolve(client: LanguageClient, action: lsp.CodeAction) -> dict:
    resolved = await client.code_action_resolve_async(action)
    return resolved.data["preview"]


async def view_after_line(client: LanguageClient, path: pathlib.Path, uri: str, line: int, proc: str) -> str:
    steps = await client.protocol.send_request_async("exo/steps", {"uri": uri})
    [step] = [s for s in steps.steps if s.line == line and s.parent is None]
    assert step.ok
    view = await client.protocol.send_request_async(
        "exo/viewText", {"uri": f"exo-proc:{path.resolve()}?proc={proc}&step={step.index}"}
    )
    return view.text


async def check_every_action(client, path: pathlib.Path, text: str, uri: str, actions, proc: str, version: int) -> int:
    """Apply each action's edit, re-run, and compare the proc after the new line with the preview."""
    for a in actions:
        preview = await resolve(client, a)
        assert preview["before"] != preview["after"], a.title
        assert preview["diff"].startswith("---"), a.title
        assert edit_form_matches(client, a), a.edit
        new_text, at = apply_edit(text, a)
        assert new_text.splitlines()[at].strip() == a.data["line"]
        version += 1
        status = await change_script(client, uri, new_text, version)
        assert status["state"] in ("ok", "errors"), status
        got = await view_after_line(client, path, uri, at, proc)
        assert got == preview["after"], a.title
    version += 1
    await change_script(client, uri, text, version)
    return version


def calls(actions) -> list[str]:
    # the transforms' calls ("Bind what <op> created" actions, joined in, insert cursor lines)
    return [a.data["call"] for a in actions if "call" in a.data]


# ----------------------------------------------------------------------------- RVM instructions


async def test_rvm_replacements_are_offered_exactly_where_the_case_study_applies_them(client: LanguageClient):
    uri, status = await open_script(client, CONV1D)
    assert status["state"] == "ok"
    text = CONV1D.read_text()
    first = line_no(CONV1D, 'p = set_memory(p, "data_tile : _", RVM_TILE)')
    # on the op name: actions for the whole proc after the last set_memory
    actions = await actions_at(client, uri, first, col(lines_of(CONV1D)[first], "set_memory"))
    replaces = [a for a in actions if a.data["group"] == "replace"]
    assert calls(replaces) == [
        'replace(p, "for ii in _:_ #0", rvm_mzero)',
        'replace(p, "for i0 in _:_ #0", rvm_mld)',
        'replace(p, "for i0 in _:_ #1", rvm_mld)',
        'replace(p, "for ii in _:_ #1", rvm_mmasa)',
        'replace(p, "for ii in _:_ #2", rvm_mst)',
    ]
    assert all(a.kind == "refactor.rewrite.exo.instr" for a in replaces)
    assert actions[: len(replaces)] == replaces  # instruction replacements come first
    # each replace line of the case study is one of the offered actions at the step before it
    replace_lines = [i for i, line in enumerate(lines_of(CONV1D)) if line.startswith("p = replace(")]
    assert len(replace_lines) == 5
    for before, line in zip([first] + replace_lines[:-1], replace_lines):
        offered = await actions_at(client, uri, before, 4)
        steps = await client.protocol.send_request_async("exo/steps", {"uri": uri})
        [step] = [s for s in steps.steps if s.line == line]
        want = await client.protocol.send_request_async(
            "exo/viewText", {"uri": f"exo-proc:{CONV1D.resolve()}?proc=conv1d_rvm&step={step.index}"}
        )
        instr = lines_of(CONV1D)[line].split(", ")[-1].rstrip(")\n")
        matching = [a for a in offered if a.data["group"] == "replace" and a.data["call"].endswith(f", {instr})")]
        previews = [(await resolve(client, a))["after"] for a in matching]
        assert want.text in previews, (line, calls(matching))
    close_script(client, uri)


async def test_memory_annotation_obstacle_offers_set_memory_first(client: LanguageClient):
    at = line_no(CONV1D, 'p = stage_mem(p, "for ioi in _:_ #1", "y[0:4, 0:4]", "data_tile")') + 1  # the simplify after
    text = prefix(CONV1D, at)
    uri, status = await open_script(client, CONV1D, text)
    assert status["state"] == "ok"
    actions = await actions_at(client, uri, at, 4)
    assert not [a for a in actions if a.data["group"] == "replace"]  # replace_all would do nothing here
    fixes = [a for a in actions if a.data["group"] == "memory_fix"]
    assert calls(fixes) == [
        'set_memory(p, "acc : _", RVM_TILE)',
        'set_memory(p, "data_tile : _", RVM_TILE)',
        'set_memory(p, "kernel_tile : _", RVM_TILE)',
    ]
    assert actions[:3] == fixes
    assert fixes[0].title == "Put acc in RVM_TILE so that rvm_mzero, rvm_mmasa, rvm_mst can replace the loops that use it"
    assert "rvm_mzero matches `for ii in seq(0, 4):` but its memories differ" in fixes[0].data["note"]
    await check_every_action(client, CONV1D, text, uri, fixes[:1], "conv1d_rvm", 1)
    close_script(client, uri)


# ----------------------------------------------------------------------------- every action, applied


async def test_conv1d_outer_nest_actions_apply_as_previewed(client: LanguageClient):
    at = line_no(CONV1D, 'p = reorder_loops(p, "ioi jo")')
    text = prefix(CONV1D, at)
    uri, status = await open_script(client, CONV1D, text)
    assert status["state"] == "ok"
    line = lines_of(CONV1D)[at]
    actions = await actions_at(client, uri, at, col(line, '"ioi jo"'))
    got = calls(actions)
    assert got[:3] == [
        'divide_loop(p, "for ioi in _:_", 2, ["ioio", "ioii"], perfect=True)',
        'reorder_loops(p, "ioi ii")',
        'reorder_loops(p, "jo ioi")',
    ]
    assert 'unroll_loop(p, "for ioi in _:_")' in got
    assert got.index('reorder_loops(p, "jo ioi")') < got.index('unroll_loop(p, "for ioi in _:_")')
    assert got[-1] == "simplify(p)"
    kinds = [a.kind for a in actions]
    assert kinds == sorted(kinds, key=lambda k: kinds.index(k))
    await check_every_action(client, CONV1D, text, uri, actions, "conv1d_rvm", 1)
    close_script(client, uri)


async def test_conv1d_algorithm_statement_and_proc_view(client: LanguageClient):
    uri, status = await open_script(client, CONV1D)
    text = CONV1D.read_text()
    # on the algorithm's `y: i32`: what it became at the end (y : i32[4, 4, 4] @ DRAM_STATIC)
    y_line = line_no(CONV1D, "y: i32")
    actions = await actions_at(client, uri, y_line, 22)
    got = calls(actions)
    end = max(i for i, line in enumerate(lines_of(CONV1D)) if line.startswith("p = "))  # the last step
    assert {document_edits(a)[0].edits[0].range.start.line for a in actions} == {end + 1}, calls(actions)
    assert 'set_memory(p, "y : _", DRAM_INTERLEAVED)' in got  # every memory class in scope but its own
    assert 'set_memory(p, "y : _", DRAM_STATIC)' not in got  # it is there already
    assert 'lift_alloc(p, "y : _")' in got
    assert not [c for c in got if c.startswith("reorder_loops")]
    # the proc view after simplify (step 6): the line of `for c in seq(0, 4):`
    view_uri = f"exo-proc:{CONV1D.resolve()}?proc=conv1d_rvm&step=6"
    view = await client.protocol.send_request_async("exo/viewText", {"uri": view_uri})
    c_line = [i for i, line in enumerate(view.text.splitlines()) if "for c in seq(0, 4):" in line][0]
    in_view = await actions_at(client, view_uri, c_line, 10)
    assert in_view
    simplify_line = line_no(CONV1D, "p = simplify(p)")
    assert all(document_edits(a)[0].edits[0].range.start.line == simplify_line + 1 for a in in_view)
    assert all(document_edits(a)[0].text_document.uri == uri for a in in_view)
    view_calls = calls(in_view)
    assert 'unroll_loop(p, "for c in _:_")' in view_calls
    assert 'reorder_loops(p, "c r")' in view_calls
    assert not [c for c in view_calls if c.startswith('reorder_loops(p, "ji c')]  # a statement is between them
    close_script(client, uri)
    short = prefix(CONV1D, simplify_line)
    uri, _ = await open_script(client, CONV1D, short)
    in_view = await actions_at(client, view_uri, c_line, 10)
    await check_every_action(client, CONV1D, short, uri, in_view, "conv1d_rvm", 1)
    close_script(client, uri)


async def test_matmul_places(client: LanguageClient):
    text = MATMUL.read_text()
    uri, status = await open_script(client, MATMUL)
    assert status["state"] == "ok"
    # the cursor argument of the fission: the gap after `C[_] = 0.0`, i.e. that statement
    at = line_no(MATMUL, 'p = fission(p, p.find("C[_] = 0.0").after(), n_lifts=2)')
    actions = await actions_at(client, uri, at, col(lines_of(MATMUL)[at], "p.find"))
    got = calls(actions)
    assert 'stage_mem(p, "C[_] = _", "C[4 * io + ii, 4 * jo + ji]", "C_tile")' in got
    # known-invalid transforms are never offered
    at_ii_jo = line_no(MATMUL, 'p = reorder_loops(p, "ii jo")')
    nest = await actions_at(client, uri, at_ii_jo, col(lines_of(MATMUL)[at_ii_jo], '"ii jo"'))
    nest_calls = calls(nest)
    assert 'reorder_loops(p, "ji k")' not in nest_calls  # `C[i, j] = 0.0` sits between them
    assert not [c for c in nest_calls if ", 5, " in c and "perfect=True" in c]
    for c in nest_calls:
        if c.startswith("divide_loop") and "perfect=True" in c:
            assert int(c.split(", ")[2]) in (2,)  # ii runs 4 times: only 2 divides it
    # algorithm statement: `C[i, j] += A[i, k] * B[k, j]`
    acc = line_no(MATMUL, "C[i, j] += A[i, k] * B[k, j]")
    algo = await actions_at(client, uri, acc, 16)
    # what it became at the end: four unrolled copies (ji #1 was unrolled); actions for the first three
    assert [c for c in calls(algo) if c.startswith("bind_expr")] == [
        'bind_expr(p, "A[ii + 4 * io, k] * B[k, 4 * jo]", "prod")',
        'bind_expr(p, "A[ii + 4 * io, k] * B[k, 1 + 4 * jo]", "prod")',
        'bind_expr(p, "A[ii + 4 * io, k] * B[k, 2 + 4 * jo]", "prod")',
    ]
    assert 'stage_mem(p, "C[_] += _ #1", "B[k, 4 * jo + 1]", "B_tile")' in calls(algo)
    last = line_no(MATMUL, "p = simplify(p)")
    assert {document_edits(a)[0].edits[0].range.start.line for a in algo} == {last + 1}
    close_script(client, uri)
    short = prefix(MATMUL, at_ii_jo)
    uri, _ = await open_script(client, MATMUL, short)
    nest = await actions_at(client, uri, at_ii_jo, col(lines_of(MATMUL)[at_ii_jo], '"ii jo"'))
    await check_every_action(client, MATMUL, short, uri, nest, "matmul", 1)
    close_script(client, uri)
