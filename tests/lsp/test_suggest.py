"""Suggest Schedule over stdio: `exo.suggestSchedule` searches from a step in a worker of its
own, with `$/progress`, streams `exo/suggestions`, stops on cancel (command or progress
cancel), goes stale on an edit above its step (and keeps the evaluations it made), and its
results are inserted as versioned edits that run and simulate correct and faster."""

from __future__ import annotations

import asyncio
import pathlib
import re

import msgspec
import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from exo_lsp_protocol import messages as m

from .helpers import change_script, close_script, open_script

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCRIPT = '''"""A small product on the RVM (the suggestions tests' script)."""

from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *

from exo_lsp.rvm import *


@proc
def prod(lhs: i32[8, 8], rhs: i32[8, 8], acc: i32[8, 8]):
    for u in seq(0, 8):
        for v in seq(0, 8):
            acc[u, v] = 0
            for w in seq(0, 8):
                acc[u, v] += lhs[u, w] * rhs[w, v]


# Name the scheduled proc.
p = rename(prod, "prod_rvm")
p = simplify(p)

prod_rvm = p
'''
RENAME_LINE = 20  # 0-based: p = rename(prod, "prod_rvm")
SIMPLIFY_LINE = 21
LOOP_LINES = (12, 13, 15)  # the loops: code actions there are of the proc after the last step


async def command(client: LanguageClient, name: str, args: dict):
    return await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command=name, arguments=[args]))


async def suggest(client: LanguageClient, **args) -> m.SuggestResult:
    return msgspec.convert(await command(client, "exo.suggestSchedule", args), m.SuggestResult)


async def final(client: LanguageClient, uri: str, since: int, states=("done", "cancelled", "failed", "stale"), timeout=300):
    """The first `exo/suggestions` of `uri` in one of `states`, after the `since`-th."""

    async def poll():
        while True:
            for p in client.suggestions[since:]:
                if p["uri"] == uri and p["state"] in states:
                    return msgspec.convert(p, m.SuggestionsParams)
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


def progress_kinds(client: LanguageClient, title_part: str) -> list[list[str]]:
    out = []
    for reports in client.progress_reports.values():
        if reports and reports[0].kind == "begin" and title_part in reports[0].title:
            out.append([r.kind for r in reports])
    return out


@pytest.fixture
def script(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "prod.py"
    path.write_text(SCRIPT)
    return path


def apply_to(text: str, edit: lsp.WorkspaceEdit) -> str:
    if edit.document_changes is not None:
        [change] = edit.document_changes
        edits = change.edits
    else:
        [edits] = edit.changes.values()
    lines = text.splitlines(keepends=True)
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        assert e.range.start == e.range.end and e.range.start.character == 0  # an insertion before a line
        lines.insert(e.range.start.line, e.new_text)
    return "".join(lines)


async def test_suggest_streams_ranked_steps_and_the_schedule_inserted_runs_faster(client: LanguageClient, script):
    uri, status = await open_script(client, script)
    assert status["state"] == "ok"
    since = len(client.suggestions)
    started = await suggest(client, uri=uri, line=RENAME_LINE, budget=8, seed=1)
    assert (started.started, started.step, started.line, started.version, started.error) == (True, 0, RENAME_LINE, 1, None)
    done = await final(client, uri, since)
    assert done.state == "done", done.message
    stream = [msgspec.convert(p, m.SuggestionsParams) for p in client.suggestions[since:] if p["uri"] == uri]
    assert stream[0].state == "running" and stream[0].evaluations == 0
    evals = [p.evaluations for p in stream]
    assert evals == sorted(evals) and done.evaluations == 8
    assert len([p for p in stream if p.state == "running"]) >= 3  # results streamed while it ran
    assert (done.step, done.line, done.version, done.proc) == (0, RENAME_LINE, 1, "prod_rvm")
    # ranked: the best complete schedule through each next step, best first
    assert done.steps and done.steps[0].cycles is not None
    correct = [s.cycles for s in done.steps if s.cycles is not None]
    assert correct == sorted(correct)
    assert all(s.correct == (s.cycles is not None) for s in done.steps)
    best = done.schedules[0]
    assert best.cycles == correct[0] == min(s.cycles for s in done.schedules)
    assert done.start_cycles is not None and best.cycles < done.start_cycles and best.speedup > 1
    assert done.steps[0].schedule == best.calls and best.calls[: len(done.steps[0].calls)] == done.steps[0].calls
    if client.editor == "vscode":  # our extension shows them in its view
        assert started.file is None and done.file is None
    else:  # a Markdown file kept current, opened with window/showDocument
        assert started.file and started.file in [d.uri for d in client.shown_documents] and done.file == started.file
        md = pathlib.Path(started.file[len("file://"):]).read_text()
        assert md.startswith(f"# Suggestions for prod.py, after line {RENAME_LINE + 1} (step 0, `prod_rvm`)\n")
        assert "**done** · 8 of 8 evaluations" in md
        assert f"| 1 | `{done.steps[0].label}` | {done.steps[0].cycles:,} cycles, {done.steps[0].speedup:.2f}x | bit-exact |" in md
        assert "```python\n" + best.text in md
    # progress: begin, reports, end, cancellable
    [kinds] = progress_kinds(client, "suggesting schedules for prod.py (line 21)")
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds and kinds.count("end") == 1

    # the next step's text, in the script's variable
    first = done.steps[0]
    assert first.text == "".join(f"p = {c}\n" for c in first.calls)
    # the whole schedule goes into a fresh variable: `p = simplify(p)` goes on from `p`
    calls = best.calls
    want = [f"# Suggested by exo-lsp search from line {RENAME_LINE + 1}: {best.cycles:,} cycles, {best.speedup:.2f}x over the algorithm.",
            'p_searched = rename(p, "prod_rvm_searched")']  # told apart from the script's proc
    want += ["p_searched = " + re.sub(r"(?<![\w.\"'])p(?=[,).])", "p_searched", c) for c in calls]
    assert [c for c in calls if not re.match(r"\w+\(p[,)]", c)] == []  # every call is on `p`
    assert best.text == "\n".join(want) + "\n"

    text = SCRIPT
    client.apply_edit = lambda edit: None
    got = msgspec.convert(await command(client, "exo.insertSuggestion", {"uri": uri, "what": "schedule", "index": 0}),
                          m.SuggestInsertResult)
    assert (got.applied, got.version, got.line, got.text, got.error) == (True, 1, RENAME_LINE + 1, best.text, None)
    [params] = client.applied_edits[-1:]
    edit = params.edit
    if client.editor == "vscode":  # documentChanges declared: versioned
        [change] = edit.document_changes
        assert (change.text_document.uri, change.text_document.version) == (uri, 1)
        [e] = change.edits
    else:
        assert edit.document_changes is None
        [e] = edit.changes[uri]
    assert (e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character) == (RENAME_LINE + 1, 0, RENAME_LINE + 1, 0)
    assert e.new_text == best.text
    text = apply_to(text, edit)
    assert text.splitlines()[RENAME_LINE + 1: RENAME_LINE + 3 + len(calls)] == want
    status = await change_script(client, uri, text, 2)
    assert status["state"] == "ok" and status["errors"] == 0
    # the edit was below the step: the results stay, re-versioned
    assert client.suggestions[-1]["version"] == 2 and client.suggestions[-1]["state"] == "done"

    # the inserted schedule's proc, simulated: bit-exact, the reported cycles
    steps = await client.protocol.send_request_async("exo/steps", {"uri": uri})
    last_line = RENAME_LINE + 2 + len(calls)
    [last] = [s for s in steps.steps if s.line == last_line and s.parent is None]
    assert last.op == calls[-1].split("(")[0] and last.ok and last.proc == "prod_rvm_searched"
    sim = msgspec.convert(await command(client, "exo.compileAndSimulate", {"uri": uri, "proc": "prod_rvm_searched"}),
                          m.SimulateResponse)
    assert sim.error is None and sim.result.correct is True and sim.result.proc == "prod_rvm_searched"
    assert sim.result.scheduled.cycles == best.cycles
    assert sim.result.speedup > 1
    client.apply_edit = None
    close_script(client, uri)


async def test_cancel_by_command_and_by_progress(client: LanguageClient, script):
    uri, _ = await open_script(client, script)
    for how in ("command", "progress"):
        since = len(client.suggestions)
        tokens = set(client.progress_reports)
        started = await suggest(client, uri=uri, line=SIMPLIFY_LINE, budget=500)
        assert started.started and started.step == 1

        async def first_result():
            while not any(p["uri"] == uri and p["evaluations"] >= 1 for p in client.suggestions[since:]):
                await asyncio.sleep(0.05)

        await asyncio.wait_for(first_result(), 120)
        if how == "command":
            got = await command(client, "exo.cancelSuggestions", {"uri": uri})
            assert got["cancelled"] is True
        else:
            [token] = [t for t in client.progress_reports if t not in tokens]
            client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
        done = await final(client, uri, since)
        assert done.state == "cancelled" and done.evaluations < 500
        [new] = [t for t in client.progress_reports if t not in tokens]
        assert client.progress_reports[new][-1].kind == "end"
    # nothing left to cancel
    assert (await command(client, "exo.cancelSuggestions", {"uri": uri}))["cancelled"] is False
    close_script(client, uri)


async def test_an_edit_above_the_step_makes_results_stale_and_the_cache_survives(client: LanguageClient, script):
    uri, _ = await open_script(client, script)
    since = len(client.suggestions)
    assert (await suggest(client, uri=uri, line=SIMPLIFY_LINE, budget=3)).started
    done = await final(client, uri, since)
    assert done.state == "done" and done.evaluations == 3 and done.cached == 0
    # the comment above the step changes: the results belong to an older script
    since = len(client.suggestions)
    edited = SCRIPT.replace("# Name the scheduled proc.", "# Name the scheduled proc (edited).")
    await change_script(client, uri, edited, 2)
    stale = await final(client, uri, since, states=("stale",))
    assert stale.version == 1 and "line 22" in stale.message
    got = await command(client, "exo.insertSuggestion", {"uri": uri, "what": "step", "index": 0})
    assert got["applied"] is False and "stale" in got["error"]
    # the same search again: every proc it simulates was simulated before the edit
    since = len(client.suggestions)
    assert (await suggest(client, uri=uri, line=SIMPLIFY_LINE, budget=3)).started
    again = await final(client, uri, since)
    assert again.state == "done" and again.version == 2
    assert again.cached == again.evaluations == 3
    assert [s.cycles for s in again.schedules] == [s.cycles for s in done.schedules]
    # a search already running goes stale too, and stops
    since = len(client.suggestions)
    assert (await suggest(client, uri=uri, line=SIMPLIFY_LINE, budget=500)).started
    await change_script(client, uri, edited.replace("(edited)", "(edited twice)"), 3)
    stale = await final(client, uri, since)
    assert stale.state == "stale" and stale.evaluations < 500
    close_script(client, uri)


async def test_lenses_and_action_titles(client: LanguageClient, script):
    uri, _ = await open_script(client, script)
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    mine = [(lens.range.start.line, lens.range.start.character, lens.command.title, list(lens.command.arguments))
            for lens in lenses if lens.command.command == "exo.suggestSchedule"]
    assert mine == [(RENAME_LINE, 4, "Suggest schedule", [{"uri": uri, "step": 0}]),
                    (SIMPLIFY_LINE, 4, "Suggest schedule", [{"uri": uri, "step": 1}])]
    since = len(client.suggestions)
    assert (await suggest(client, uri=uri, step=1, budget=6, seed=1)).started
    done = await final(client, uri, since)
    assert done.state == "done"
    # an action's estimate: the best schedule found that starts with its call (a ranked step,
    # or the first call of a recipe or of a whole schedule)
    ranked = {}
    for s in [*done.steps, *done.schedules]:
        if s.cycles is not None and s.calls and (s.calls[0] not in ranked or s.cycles < ranked[s.calls[0]].cycles):
            ranked[s.calls[0]] = s
    all_rated = []
    for line in LOOP_LINES:
        actions = await client.text_document_code_action_async(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=lsp.Range(start=lsp.Position(line, 8), end=lsp.Position(line, 8)),
            context=lsp.CodeActionContext(diagnostics=[])))
        assert actions and all(a.data["step"] == 1 for a in actions)
        rated = [a for a in actions if " → best found " in a.title]
        for a in rated:
            s = ranked[a.data["call"]]
            assert a.title == f"{a.data['title']} → best found {s.cycles:,} cycles, {s.speedup:.1f}x"
        assert list(actions[: len(rated)]) == rated  # rated first, by cycles
        assert [ranked[a.data["call"]].cycles for a in rated] == sorted(ranked[a.data["call"]].cycles for a in rated)
        assert not any(a.data["call"] in ranked for a in actions[len(rated):])
        all_rated += rated
    assert all_rated, f"no action is one of the ranked steps {list(ranked)}"
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    [lens] = [lens for lens in lenses if lens.command.command == "exo.suggestSchedule" and lens.range.start.line == SIMPLIFY_LINE]
    best = done.steps[0]
    assert lens.command.title == f"Suggest schedule (done: best {best.cycles:,} cycles, {best.speedup:.1f}x)"
    close_script(client, uri)


async def test_closing_the_script_stops_its_search(client: LanguageClient, script):
    uri, _ = await open_script(client, script)
    since = len(client.suggestions)
    assert (await suggest(client, uri=uri, line=SIMPLIFY_LINE, budget=500)).started

    async def first_result():
        while not any(p["uri"] == uri and p["evaluations"] >= 1 for p in client.suggestions[since:]):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(first_result(), 120)
    close_script(client, uri)
    stopped = await final(client, uri, since)
    assert stopped.state == "cancelled" and stopped.evaluations < 500
    await asyncio.sleep(3)
    assert client.suggestions[-1]["state"] == "cancelled"  # and nothing after it
    # the script is not open any more: nothing to insert
    got = await command(client, "exo.insertSuggestion", {"uri": uri, "what": "step", "index": 0})
    assert got["applied"] is False and got["error"]


async def test_bad_requests_are_answered(client: LanguageClient, script):
    uri, _ = await open_script(client, script)
    got = await suggest(client, uri=uri, line=2)  # above every step
    assert (got.started, got.error) == (False, "no scheduling step that ran at or above that line")
    got = await suggest(client, uri=uri, step=99)
    assert (got.started, got.error) == (False, "step 99 does not exist or did not run")
    got = await suggest(client, uri=uri + ".not-open.py", line=3)
    assert (got.started, got.error) == (False, "the script is not open")
    with pytest.raises(Exception, match="Invalid params|invalid params"):
        await command(client, "exo.suggestSchedule", {"line": 3})
    close_script(client, uri)
