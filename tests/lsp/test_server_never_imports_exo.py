"""The server process never imports Exo (exo_lsp/lsp/__init__.py: everything about procs is
asked of the worker). The server is started over stdio as an editor starts it, serves a session
on conv1d that touches every feature (the run, hover, views and their source map, code actions,
inlay hints, semantic tokens, code lenses, compile & simulate), and when it exits it writes the
names of the modules it loaded to a file."""

from __future__ import annotations

import json
import sys

from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig

from .helpers import EXAMPLES, _plain, close_script, initialize_params, make_client, open_script

CONV1D = EXAMPLES / "conv1d.py"

# `python -m exo_lsp serve`, then the loaded modules into argv[1] once the server has exited
SERVE_AND_LIST_MODULES = """\
import json, sys
from exo_lsp.cli import main
try:
    main(["serve"])
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(sorted(sys.modules), out)
"""


def doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def test_server_never_imports_exo(tmp_path):
    listing = tmp_path / "server-modules.json"
    config = ClientServerConfig(
        server_command=[sys.executable, "-c", SERVE_AND_LIST_MODULES, str(listing)], client_factory=make_client
    )
    client = await config.start()
    try:
        await client.initialize_session(initialize_params("vscode"))
        uri, status = await open_script(client, CONV1D)
        assert status["state"] == "ok", status
        pattern = CONV1D.read_text().split("\n").index('p = divide_loop(p, "for j in _:_", 4, ["jo", "ji"], perfect=True)')
        hover = await client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(uri), position=lsp.Position(line=pattern, character=25))
        )
        assert hover is not None and "for j in seq(0, 16):" in hover.contents.value
        view = f"exo-proc:{CONV1D.resolve()}?proc=conv1d_rvm&step=last"
        text = await client.protocol.send_request_async("exo/viewText", {"uri": view})
        assert "def conv1d_rvm(" in text.text
        view_map = await client.protocol.send_request_async("exo/viewMap", {"uri": view})
        assert view_map.statements
        in_view = await client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(view), position=lsp.Position(line=3, character=10))
        )
        assert in_view is not None
        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=doc(uri),
                range=lsp.Range(start=lsp.Position(pattern, 4), end=lsp.Position(pattern, 4)),
                context=lsp.CodeActionContext(diagnostics=[]),
            )
        )
        assert actions
        await client.code_action_resolve_async(actions[0])
        hints = await client.text_document_inlay_hint_async(
            lsp.InlayHintParams(text_document=doc(uri), range=lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(400, 0)))
        )
        assert hints
        assert (await client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(text_document=doc(uri)))).data
        assert await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=doc(uri)))
        simulated = await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="exo.compileAndSimulate", arguments=[{"uri": uri}])
        )
        assert _plain(simulated)["error"] is None, _plain(simulated)["error"]
        close_script(client, uri)
        await client.shutdown_session()
    finally:
        await client.stop()

    modules = json.loads(listing.read_text())
    assert "exo_lsp.lsp.server" in modules  # the listing is the server's
    exo = [name for name in modules if name == "exo" or name.startswith("exo.")]
    assert exo == [], f"{len(exo)} Exo modules; the worker's modules loaded: {[n for n in modules if n.startswith('exo_lsp.worker')]}"
