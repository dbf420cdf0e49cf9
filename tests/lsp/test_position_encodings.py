"""Every column follows the position encoding the client negotiated (utf-8, utf-16, utf-32),
in both directions: on a line with `ü = "ñé😀"` before a pattern, the same places are
asked for and answered in each client's own units."""

from __future__ import annotations

import pathlib

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import close_script, open_script, rng, server_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCRIPT_PATH = pathlib.Path(__file__).with_name("unsaved_encoding_scratch.py")  # never written to disk
SCRIPT = '''from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *


@proc
def scale(n: size, x: f32[n], y: f32[n]):
    assert n % 4 == 0
    for i in seq(0, n):
        y[i] = 2.0 * x[i]


ü = "ñé😀"; p = divide_loop(scale, "for i in _:_", 4, ["io", "ii"], perfect=True)
ü = "ñé😀"; p = unroll_loop(p, "for q in _:_")
'''

# columns of line 13's pattern literal, its call and the line's end; line 14's pattern
COLUMNS = {
    "utf-8": dict(pat13=(40, 54), call13=21, end13=86, pat14=(36, 50)),
    "utf-16": dict(pat13=(35, 49), call13=16, end13=81, pat14=(31, 45)),
    "utf-32": dict(pat13=(34, 48), call13=15, end13=80, pat14=(30, 44)),
}


@pytest_lsp.fixture(config=server_config(), scope="module", params=list(COLUMNS))
async def client(lsp_client: LanguageClient, request):
    caps = lsp.ClientCapabilities(
        general=lsp.GeneralClientCapabilities(position_encodings=[request.param]),
        text_document=lsp.TextDocumentClientCapabilities(inlay_hint=lsp.InlayHintClientCapabilities()),
    )
    result = await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=caps, initialization_options={"trusted": True, "debounceMs": 50})
    )
    lsp_client.encoding = request.param  # type: ignore[attr-defined]
    assert result.capabilities.position_encoding == request.param
    yield
    await lsp_client.shutdown_session()


async def test_columns_in_the_negotiated_encoding(client: LanguageClient):
    cols = COLUMNS[client.encoding]
    uri, status = await open_script(client, SCRIPT_PATH, SCRIPT)
    assert status["state"] == "errors", status
    [diag] = client.diagnostics[uri]
    assert rng(diag) == (14, *cols["pat14"][:1], 14, cols["pat14"][1])
    assert diag.message.startswith("pattern 'for q in _:_' matched nothing in `scale`")

    a, b = cols["pat13"]
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(13, a + 3))
    )
    assert hover is not None and rng(hover) == (13, a, 13, b)
    assert "for i in seq(0, n):  # ◀ selected" in hover.contents.value
    # one column before the literal is outside it: the hover (if any) is not the pattern's
    before = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(13, a - 2))
    )
    assert before is None or rng(before) != (13, a, 13, b)

    op = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(13, cols["call13"] + 2))
    )
    assert op is not None and rng(op) == (13, cols["call13"], 13, cols["call13"] + len("divide_loop"))

    [loc] = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(13, a + 3))
    )
    assert (loc.range.start.line, loc.range.start.character) == (9, 4)

    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=lsp.TextDocumentIdentifier(uri=uri),
                            range=lsp.Range(start=lsp.Position(0, 0), end=lsp.Position(20, 0)))
    )
    on13 = [h for h in hints if h.position.line == 13]
    assert [(h.position.character, h.label) for h in on13] == [(cols["end13"], "→ for i in seq(0, n)")]

    tokens = await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    line = col = 0
    found = []
    data = tokens.data
    for i in range(0, len(data), 5):
        line += data[i]
        col = data[i + 1] if data[i] else col + data[i + 1]
        if line == 13:
            found.append((col, data[i + 2]))
    assert found[:2] == [(a + 1, 3), (a + 5, 1)]  # `for` and `i` inside the literal
    close_script(client, uri)
