"""A client without inlay hints gets each step's preview as a code lens instead."""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, VSCODE_ONLY, close_script, open_script

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    VSCODE_ONLY,  # nothing here depends on what differs between the editors: one run keeps the suite short
    pytest.mark.lsp_session(without=["textDocument.inlayHint", "workspace.inlayHint"]),  # declares no inlay hint support
]


async def test_step_previews_become_code_lenses(client: LanguageClient):
    uri, status = await open_script(client, EXAMPLES / "matmul.py")
    assert status["state"] == "ok"
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=lsp.TextDocumentIdentifier(uri=uri)))
    steps = [(lens.range.start.line, lens.range.start.character, lens.command.title, lens.command.arguments[0]["step"])
             for lens in lenses if lens.range.start.line >= 17 and lens.command.command == "exo.showProc"]
    assert steps == [
        (17, 4, "→ for i in seq(0, 16)", 0),
        (18, 4, "→ for j in seq(0, 16)", 1),
        (19, 4, "→ for ii in seq(0, 4)", 2),
        (20, 4, "→ gap after: C[4 * io + ii, 4 * jo + ji] = 0.0", 3),
        (21, 4, "→ for ji in seq(0, 4)", 4),
        (22, 4, "→ for ii in seq(0, 4)", 5),
        (23, 4, "→ for ji in seq(0, 4) (#1 of 2)", 6),
        (24, 4, "→ 5 statements changed", 7),  # simplify
    ]
    # and one "Suggest schedule" per scheduling line
    assert {lens.command.command for lens in lenses} == {"exo.showProc", "exo.suggestSchedule"}
    suggest = [(lens.range.start.line, lens.command.arguments[0]["step"]) for lens in lenses if lens.command.command == "exo.suggestSchedule"]
    assert suggest == [(line, step) for line, _, _, step in steps]
    close_script(client, uri)
