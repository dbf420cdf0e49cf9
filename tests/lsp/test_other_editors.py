"""What editors without our VS Code extension get: server-side commands for everything a
lens does, views as read-only files opened with window/showDocument, the simulation report
as a Markdown file with a one-line summary, and only the capabilities they declared
(no progress tokens, plain `changes` edits)."""

from __future__ import annotations

import pathlib
import stat
import tempfile

import msgspec
import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from exo_lsp_protocol import messages as m

from .helpers import EXAMPLES, change_script, close_script, open_script, server_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

CACHE = pathlib.Path(tempfile.mkdtemp(prefix="exo-lsp-cache-"))
PATTERN_NO_MATCH = EXAMPLES / "broken" / "pattern_no_match.py"


def capabilities() -> lsp.ClientCapabilities:
    """A Neovim-like client: show documents yes; progress, documentChanges, inlay hints no."""
    return lsp.ClientCapabilities(
        window=lsp.WindowClientCapabilities(show_document=lsp.ShowDocumentClientCapabilities(support=True)),
        workspace=lsp.WorkspaceClientCapabilities(workspace_edit=lsp.WorkspaceEditClientCapabilities(document_changes=False)),
    )


@pytest_lsp.fixture(config=server_config(EXO_LSP_CACHE_DIR=str(CACHE)), scope="module")
async def client(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=capabilities(), initialization_options={"trusted": True, "debounceMs": 50})
    )
    lsp_client.commands = result.capabilities.execute_command_provider.commands  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def command(client: LanguageClient, name: str, **args):
    return await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command=name, arguments=[args]))


async def view_text(client: LanguageClient, view_uri: str) -> str:
    raw = await client.protocol.send_request_async("exo/viewText", {"uri": view_uri})
    return raw.text


def file_of(uri: str) -> pathlib.Path:
    assert uri.startswith("file://"), uri
    return pathlib.Path(uri[len("file://"):])


async def test_every_lens_command_is_a_server_command(client: LanguageClient):
    assert {"exo.showProc", "exo.showC", "exo.showDiff", "exo.compileAndSimulate"} <= set(client.commands)
    uri, status = await open_script(client, EXAMPLES / "conv1d.py")
    assert status["state"] == "ok"
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    assert lenses and {lens.command.command for lens in lenses} == {"exo.showProc", "exo.suggestSchedule"}
    assert "exo.suggestSchedule" in client.commands
    lens = [lens for lens in lenses if lens.command.command == "exo.showProc"][0]
    shown_before = len(client.shown_documents)
    got = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=lens.command.command, arguments=lens.command.arguments)
    )
    assert got["shown"] is True
    assert [d.uri for d in client.shown_documents[shown_before:]] == [got["uri"]]
    file = file_of(got["uri"])
    assert str(file).startswith(str(CACHE))
    assert not file.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # read-only
    arg = lens.command.arguments[0]
    view = f"exo-proc:{file_of(uri)}?proc={arg['proc']}&step={arg['step']}"
    assert file.read_text() == await view_text(client, view)
    close_script(client, uri)


async def test_show_c_and_diff_files(client: LanguageClient):
    uri, status = await open_script(client, EXAMPLES / "conv1d.py")
    c = await command(client, "exo.showC", uri=uri, step=3)
    assert c["uri"].endswith(".c")
    assert file_of(c["uri"]).read_text() == await view_text(client, f"exo-c:{file_of(uri)}?step=3")
    d = await command(client, "exo.showDiff", uri=uri, step=3)
    text = file_of(d["uri"]).read_text()
    assert d["uri"].endswith(".diff") and text.startswith("--- ")
    with pytest.raises(Exception, match="step 999 does not exist"):
        await command(client, "exo.showProc", uri=uri, step=999)
    close_script(client, uri)


async def test_related_information_is_a_file_kept_current(client: LanguageClient):
    text = PATTERN_NO_MATCH.read_text()
    uri, status = await open_script(client, PATTERN_NO_MATCH, text)
    [diag] = client.diagnostics[uri]
    [related] = diag.related_information
    file = file_of(related.location.uri)
    first = file.read_text()
    assert "for io in seq(0, n / 4):" in first  # the proc at the step, as a file
    assert related.location.range.start.line < len(first.splitlines())
    # a hover inside the view file answers like the view
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=related.location.uri, language_id="python", version=1, text=first)))
    line = first.splitlines().index("    for io in seq(0, n / 4):")
    hover = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=related.location.uri), position=lsp.Position(line, 8)))
    assert hover is not None and "divide_loop" in hover.contents.value
    # an edit re-runs the script: the file follows
    status = await change_script(client, uri, text.replace('"for i in _:_", 4', '"for i in _:_", 2'), 2)
    assert status["state"] == "errors"
    for _ in range(100):
        if file.read_text() != first:
            break
        await __import__("asyncio").sleep(0.05)
    assert "for io in seq(0, n / 2):" in file.read_text()
    close_script(client, related.location.uri)
    close_script(client, uri)


async def test_code_action_edits_use_changes_without_document_changes(client: LanguageClient):
    uri, status = await open_script(client, EXAMPLES / "matmul.py")
    line = next(i for i, t in enumerate((EXAMPLES / "matmul.py").read_text().splitlines()) if "divide_loop(" in t)
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=lsp.Range(start=lsp.Position(line, 8), end=lsp.Position(line, 8)),
        context=lsp.CodeActionContext(diagnostics=[]),
    ))
    assert actions
    for a in actions:
        assert a.edit.document_changes is None and list(a.edit.changes) == [uri]
    close_script(client, uri)


async def test_simulation_report_is_a_file_with_a_summary(client: LanguageClient):
    uri, status = await open_script(client, EXAMPLES / "conv1d.py")
    shown_before, messages_before = len(client.shown_documents), len(client.messages)
    raw = await command(client, "exo.compileAndSimulate", uri=uri)
    answer = msgspec.convert(raw, m.SimulateResponse)
    assert answer.result.correct is True
    assert client.progress_reports == {}  # no workDoneProgress capability: no progress token asked for
    [summary] = [x.message for x in client.messages[messages_before:]]
    assert summary == (f"Exo: conv1d_rvm: {answer.result.scheduled.cycles:,} cycles, "
                       f"{answer.result.speedup:.2f}x over the algorithm; outputs bit-exact with the algorithm")
    [shown] = client.shown_documents[shown_before:]
    report = file_of(shown.uri)
    assert report.suffix == ".md" and report.read_text() == answer.report
    close_script(client, uri)


async def test_quick_fix_offers_the_near_misses_that_apply(client: LanguageClient):
    uri, status = await open_script(client, PATTERN_NO_MATCH)
    [diag] = client.diagnostics[uri]
    assert diag.code == "pattern-no-match"
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=diag.range,
        context=lsp.CodeActionContext(diagnostics=[diag], only=[lsp.CodeActionKind.QuickFix]),
    ))
    # io and ii are the near misses; unroll_loop needs a constant bound, so only ii applies
    assert [(a.title, a.kind, a.is_preferred) for a in actions] == [('Replace with "for ii in _:_"', "quickfix", True)]
    [edit] = actions[0].edit.changes[uri]
    assert (edit.range, edit.new_text) == (diag.range, '"for ii in _:_"')
    fixed = PATTERN_NO_MATCH.read_text().replace('"for q in _:_"', '"for ii in _:_"')
    status = await change_script(client, uri, fixed, 2)
    assert status["state"] == "ok" and list(client.diagnostics[uri]) == []
    close_script(client, uri)
