"""Code actions under a validation budget: the same request on the same version gets the
same menu, however much validation has finished in between; what the budget left out is
offered unchecked and validated when chosen (resolve)."""

from __future__ import annotations

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, close_script, open_script

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.lsp_session(init_options={"actionBudgetMs": 1}),  # nearly nothing fits in the budget
]

CONV1D = EXAMPLES / "conv1d.py"


async def menu(client: LanguageClient, uri: str, line: int, character: int) -> list[lsp.CodeAction]:
    got = await client.text_document_code_action_async(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=lsp.Range(start=lsp.Position(line, character), end=lsp.Position(line, character)),
        context=lsp.CodeActionContext(diagnostics=[]),
    ))
    return list(got or [])


def shape(actions):
    return [(a.title, a.kind, a.data.get("call"), a.data.get("checked")) for a in actions]


async def test_same_request_same_menu_and_unchecked_items_validate_on_resolve(client: LanguageClient):
    uri, status = await open_script(client, CONV1D)
    assert status["state"] == "ok"
    line = next(i for i, t in enumerate(CONV1D.read_text().splitlines()) if 'divide_loop(p, "for i in _:_"' in t
                or "divide_loop(conv1d" in t)
    col = CONV1D.read_text().splitlines()[line].index('"') + 2
    first = await menu(client, uri, line, col)
    assert first, "actions at the first divide_loop's pattern"
    assert any(a.data.get("checked") is False for a in first), "the 1 ms budget leaves candidates unchecked"
    for _ in range(3):  # background validation goes on between the requests
        assert shape(await menu(client, uri, line, col)) == shape(first)
    previews = disabled = 0
    for a in first:
        if a.data.get("checked") is not False:
            continue
        r = await client.code_action_resolve_async(a)
        if r.disabled is not None:
            assert r.edit is None and "does not apply" in r.disabled.reason, r.disabled
            disabled += 1
        else:
            assert r.data["preview"]["before"] != r.data["preview"]["after"], a.title
            previews += 1
    assert previews > 0
    close_script(client, uri)
