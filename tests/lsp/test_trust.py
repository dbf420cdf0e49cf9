"""Trust any editor can see: with no ``trusted`` initialization option the server runs
nothing until the user answers its question for the folder, remembers the answer per
user, and says why nothing runs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from .helpers import EXAMPLES, make_client

HEADER = "from __future__ import annotations\nfrom exo import proc\nfrom exo.stdlib.scheduling import *\n\n"
OP_FAILS = (EXAMPLES / "broken" / "op_fails.py").read_text()


async def start(tmp_path, answer: str | None, trusted=None) -> LanguageClient:
    env = {**os.environ, "EXO_LSP_TRUST_FILE": str(tmp_path / "trust.json")}
    config = ClientServerConfig(server_command=[sys.executable, "-m", "exo_lsp", "serve"], client_factory=make_client, server_env=env)
    client = await config.start()
    client.asked = []  # type: ignore[attr-defined]

    @client.feature(lsp.WINDOW_SHOW_MESSAGE_REQUEST)
    def on_request(ls, params: lsp.ShowMessageRequestParams):
        ls.asked.append(params)
        return None if answer is None else lsp.MessageActionItem(title=answer)

    options = {"debounceMs": 50} if trusted is None else {"debounceMs": 50, "trusted": trusted}
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    await client.initialize_session(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(), root_uri=folder.as_uri(),
        workspace_folders=[lsp.WorkspaceFolder(uri=folder.as_uri(), name="project")],
        initialization_options=options,
    ))
    return client


async def ran(client: LanguageClient, uri: str, timeout: float = 60) -> dict:
    async def poll():
        while True:
            for st in client.run_status:
                if st["uri"] == uri and st["state"] in ("ok", "errors", "crashed"):
                    return st
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


def open_doc(client: LanguageClient, path, text: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    return uri


async def settle(client: LanguageClient, uri: str, seconds: float = 2.0) -> list[str]:
    await asyncio.sleep(seconds)
    return [s["state"] for s in client.run_status if s["uri"] == uri]


@pytest.mark.asyncio
async def test_without_the_option_nothing_runs_until_the_user_says_so(tmp_path):
    client = await start(tmp_path, answer="Not now")
    try:
        marker = tmp_path / "ran.txt"
        uri = open_doc(client, tmp_path / "project" / "a.py", HEADER + f"open({str(marker)!r}, 'w').write('ran')\n")
        assert await settle(client, uri) == ["untrusted"]
        folder = str((tmp_path / "project").resolve())
        [asked] = client.asked
        assert asked.message.startswith(f"Run the Exo scripts in {folder}?")
        assert [a.title for a in asked.actions] == ["Trust", "Not now"]
        assert any(f"the scripts in {folder} are not run, because the folder is not trusted" in m.message
                   for m in client.messages)
        assert not marker.exists() and not (tmp_path / "trust.json").exists()
        # asked once per folder and session
        uri2 = open_doc(client, tmp_path / "project" / "b.py", OP_FAILS)
        assert await settle(client, uri2) == ["untrusted"] and len(client.asked) == 1
        # a buffer that is no file is never run, and there is no folder to ask about
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
            uri="untitled:Untitled-1", language_id="python", version=1, text=OP_FAILS)))
        assert await settle(client, "untitled:Untitled-1", 1.0) == ["untrusted"] and len(client.asked) == 1
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_trust_runs_the_open_scripts_and_is_remembered(tmp_path):
    client = await start(tmp_path, answer="Trust")
    folder = str((tmp_path / "project").resolve())
    try:
        uri = open_doc(client, tmp_path / "project" / "a.py", OP_FAILS)
        status = await ran(client, uri)
        assert status["state"] == "errors"
        assert "cannot perfectly divide" in client.diagnostics[uri][0].message
        assert json.loads((tmp_path / "trust.json").read_text()) == {"folders": [folder]}
    finally:
        await client.shutdown_session()
        await client.stop()
    # a new session does not ask again
    client = await start(tmp_path, answer=None)
    try:
        uri = open_doc(client, tmp_path / "project" / "a.py", OP_FAILS)
        assert (await ran(client, uri))["state"] == "errors"
        assert client.asked == []
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_a_client_that_cannot_ask_is_told_why_nothing_runs(tmp_path):
    client = await start(tmp_path, answer=None)
    try:
        uri = open_doc(client, tmp_path / "project" / "a.py", OP_FAILS)
        assert await settle(client, uri) == ["untrusted"]
        assert any("not trusted" in m.message for m in client.messages)
        assert client.diagnostics.get(uri, []) == []
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_pretrusted_with_the_cli_for_ci(tmp_path):
    (tmp_path / "project").mkdir()
    env = {**os.environ, "EXO_LSP_TRUST_FILE": str(tmp_path / "trust.json")}
    out = subprocess.run([sys.executable, "-m", "exo_lsp", "trust", str(tmp_path / "project")],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.startswith(f"trusted: {(tmp_path / 'project').resolve()}")
    client = await start(tmp_path, answer="Not now")
    try:
        uri = open_doc(client, tmp_path / "project" / "a.py", OP_FAILS)
        assert (await ran(client, uri))["state"] == "errors"
        assert client.asked == []
        # a script outside the trusted folder is not run
        other = tmp_path / "elsewhere"
        other.mkdir()
        uri2 = open_doc(client, other / "b.py", OP_FAILS)
        assert await settle(client, uri2) == ["untrusted"]
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_the_client_saying_untrusted_is_final(tmp_path):
    client = await start(tmp_path, answer="Trust", trusted=False)
    try:
        uri = open_doc(client, tmp_path / "project" / "a.py", OP_FAILS)
        assert await settle(client, uri) == ["untrusted"] and client.asked == []
    finally:
        await client.shutdown_session()
        await client.stop()
