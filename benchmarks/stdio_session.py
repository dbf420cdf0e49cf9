"""A real ``python -m exo_lsp serve`` over stdio, driven as an editor would, for the latency
benchmarks: open a script, change it, wait for the run of a version, shut down."""

from __future__ import annotations

import asyncio
import pathlib
import sys

from lsprotocol import types as lsp

FINAL = ("ok", "errors", "crashed")


class StdioSession:
    def __init__(self, name: str, script: pathlib.Path) -> None:
        from pygls.lsp.client import LanguageClient

        self.client = LanguageClient(name, "1")
        self.uri = script.resolve().as_uri()
        self.script = script
        self._runs: dict[int, asyncio.Future] = {}

        @self.client.feature("exo/runStatus")
        def on_status(ls, params):
            state = getattr(params, "state", None)
            if state in FINAL:
                f = self._run(getattr(params, "version", None))
                if not f.done():
                    f.set_result(state)

        for method in ("exo/viewsChanged", lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):
            self.client.feature(method)(lambda ls, params: None)

    def _run(self, version) -> asyncio.Future:
        return self._runs.setdefault(version, asyncio.get_running_loop().create_future())

    async def start(self, text: str | None = None) -> str:
        """Start the server, open the script (version 1) and wait for its run's state."""
        await self.client.start_io(sys.executable, "-m", "exo_lsp", "serve")
        await self.client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), initialization_options={"trusted": True, "debounceMs": 50}))
        self.client.initialized(lsp.InitializedParams())
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
            uri=self.uri, language_id="python", version=1, text=text if text is not None else self.script.read_text())))
        return await self.finished(1)

    async def change(self, text: str, version: int) -> str:
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=self.uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
        return await self.finished(version)

    async def finished(self, version: int, timeout: float = 300) -> str:
        return await asyncio.wait_for(self._run(version), timeout)

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()
