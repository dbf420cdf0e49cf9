"""Shared pieces of the end-to-end tests: the test client and the editors it impersonates
(the `client` fixture is in conftest.py), helpers to open a script and wait for its run."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import sys
from typing import Any

import pytest
from lsprotocol import types as lsp
from lsprotocol.converters import get_converter
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import make_test_lsp_client

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FINAL_STATES = {"ok", "errors", "crashed", "untrusted"}
CAPABILITIES = pathlib.Path(__file__).parent / "capabilities"
EDITORS = {"vscode": CAPABILITIES / "vscode.json", "neovim": CAPABILITIES / "neovim-0.11.json"}
DEFAULT_INIT_OPTIONS = {"trusted": True, "debounceMs": 50}
# what each editor's client sends on top: our VS Code extension reads views as virtual documents
EDITOR_INIT_OPTIONS = {"vscode": {"virtualDocuments": True}, "neovim": {}}

# A test or module that runs as VS Code only (the `client` fixture's indirect parametrisation).
VSCODE_ONLY = pytest.mark.parametrize("client", ["vscode"], indirect=True)
NEOVIM_ONLY = pytest.mark.parametrize("client", ["neovim"], indirect=True)


def make_client() -> LanguageClient:
    """pytest-lsp's client, also recording our custom notifications (as plain dicts)."""
    client = make_test_lsp_client()
    client.run_status = []  # type: ignore[attr-defined]
    client.views_changed = []  # type: ignore[attr-defined]

    @client.feature("exo/runStatus")
    def on_status(ls, params):
        ls.run_status.append(_plain(params))

    @client.feature("exo/viewsChanged")
    def on_views(ls, params):
        ls.views_changed.append(_plain(params))

    client.suggestions = []  # type: ignore[attr-defined]

    @client.feature("exo/suggestions")
    def on_suggestions(ls, params):
        ls.suggestions.append(_plain(params))

    # workspace/applyEdit: recorded; a test that set `client.apply_edit` applies it itself
    client.applied_edits = []  # type: ignore[attr-defined]
    client.apply_edit = None  # type: ignore[attr-defined]

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def on_apply_edit(ls, params: lsp.ApplyWorkspaceEditParams):
        ls.applied_edits.append(params)
        if ls.apply_edit is not None:
            ls.apply_edit(params.edit)
        return lsp.ApplyWorkspaceEditResult(applied=ls.apply_edit is not None)

    # Both editors declare refreshSupport for these, so the server sends them after each run.
    client.refreshes = []  # type: ignore[attr-defined]
    for method in (lsp.WORKSPACE_INLAY_HINT_REFRESH, lsp.WORKSPACE_SEMANTIC_TOKENS_REFRESH, lsp.WORKSPACE_CODE_LENS_REFRESH):
        client.feature(method)(_recorder(method))

    return client


def _recorder(method: str):
    def on_refresh(ls, params):
        ls.refreshes.append(method)

    return on_refresh


def server_config(**env: str) -> ClientServerConfig:
    """`python -m exo_lsp serve` over stdio, with `env` added to the server's environment."""
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "exo_lsp", "serve"],
        client_factory=make_client,
        server_env={**os.environ, **env} if env else None,
    )


def init_params(capabilities: lsp.ClientCapabilities | None = None, **options: Any) -> lsp.InitializeParams:
    """For tests with a session of their own: no capabilities, trusted, the default options."""
    return lsp.InitializeParams(
        capabilities=capabilities or lsp.ClientCapabilities(),
        initialization_options={**DEFAULT_INIT_OPTIONS, **options},
    )


def editor_json(editor: str, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """The editor's ``{"clientInfo", "capabilities"}`` with the `without` paths removed."""
    data = json.loads(EDITORS[editor].read_text(encoding="utf-8"))
    for path in without:
        *parents, leaf = path.split(".")
        node = data["capabilities"]
        for key in parents:
            node = node[key]
        del node[leaf]  # a KeyError: the path is not in the capabilities
    return data


def initialize_params(editor: str, init_options: dict[str, Any] | None = None, without: tuple[str, ...] = ()) -> lsp.InitializeParams:
    data = editor_json(editor, tuple(without))
    converter = get_converter()
    return lsp.InitializeParams(
        capabilities=converter.structure(data["capabilities"], lsp.ClientCapabilities),
        client_info=converter.structure(data["clientInfo"], lsp.ClientInfo),
        initialization_options={**DEFAULT_INIT_OPTIONS, **EDITOR_INIT_OPTIONS[editor], **(init_options or {})},
    )


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return {k: _plain(v) for k, v in vars(obj).items()}
    return obj


async def wait_for_run(client: LanguageClient, uri: str, version: int, since: int = 0, timeout: float = 120) -> dict:
    """The final run status of `uri` at `version`, among those after the `since`-th."""

    async def poll():
        while True:
            for st in reversed(client.run_status[since:]):
                if st["uri"] == uri and st["version"] == version and st["state"] in FINAL_STATES:
                    return st
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


async def open_script(client: LanguageClient, path: pathlib.Path, text: str | None = None, version: int = 1) -> tuple[str, dict]:
    uri = path.resolve().as_uri()
    since = len(client.run_status)
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=text if text is not None else path.read_text()
            )
        )
    )
    return uri, await wait_for_run(client, uri, version, since)


async def change_script(client: LanguageClient, uri: str, text: str, version: int) -> dict:
    since = len(client.run_status)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    return await wait_for_run(client, uri, version, since)


def close_script(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))


def rng(d: lsp.Diagnostic) -> tuple[int, int, int, int]:
    r = d.range
    return (r.start.line, r.start.character, r.end.line, r.end.character)


def document_edits(action: lsp.CodeAction) -> list[lsp.TextDocumentEdit]:
    """The action's edits per document, as `documentChanges` (VS Code declares them) or from
    plain `changes` (Neovim does not: the server must not send documentChanges to it)."""
    edit = action.edit
    if edit.document_changes is not None:
        assert edit.changes is None
        return list(edit.document_changes)
    return [lsp.TextDocumentEdit(text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None), edits=edits)
            for uri, edits in edit.changes.items()]
