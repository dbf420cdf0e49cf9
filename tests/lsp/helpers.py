"""Shared pieces of the end-to-end tests: a pytest-lsp client that records our custom
notifications, and helpers to open a script and wait for its run to finish."""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
from typing import Any

from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import make_test_lsp_client

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FINAL_STATES = {"ok", "errors", "crashed", "untrusted"}


def make_client() -> LanguageClient:
    client = make_test_lsp_client()
    client.run_status = []  # type: ignore[attr-defined]
    client.views_changed = []  # type: ignore[attr-defined]

    @client.feature("exo/runStatus")
    def on_status(ls, params):
        ls.run_status.append(_plain(params))

    @client.feature("exo/viewsChanged")
    def on_views(ls, params):
        ls.views_changed.append(_plain(params))

    return client


def server_config(**env: str) -> ClientServerConfig:
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "exo_lsp", "serve"],
        client_factory=make_client,
        server_env={**os.environ, **env} if env else None,
    )


def init_params(capabilities: lsp.ClientCapabilities | None = None, **options: Any) -> lsp.InitializeParams:
    return lsp.InitializeParams(
        capabilities=capabilities or lsp.ClientCapabilities(),
        initialization_options={"trusted": True, "debounceMs": 50, **options},
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


def editor_capabilities() -> lsp.ClientCapabilities:
    """What VS Code-like clients declare for the features the tests look at."""
    return lsp.ClientCapabilities(
        text_document=lsp.TextDocumentClientCapabilities(inlay_hint=lsp.InlayHintClientCapabilities())
    )
