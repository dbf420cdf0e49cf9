"""The dispatcher asks every feature that handles a method, in the order they were added."""

import asyncio
from types import SimpleNamespace

import pytest

from exo_lsp.lsp.dispatch import Dispatcher


class FakeServer:
    def __init__(self):
        self.registered = {}

    def feature(self, method, options=None):
        def deco(fn):
            self.registered[method] = (fn, options)
            return fn

        return deco


def doc(uri):
    return SimpleNamespace(text_document=SimpleNamespace(uri=uri))


def test_each_document_goes_to_the_feature_it_applies_to():
    d, server = Dispatcher(), FakeServer()

    @d.handle("textDocument/hover", applies=lambda ls, p: p.text_document.uri.startswith("exo-proc:"))
    async def in_view(ls, params):
        return "view"

    @d.handle("textDocument/hover", applies=lambda ls, p: p.text_document.uri.startswith("file:"))
    def in_script(ls, params):
        return "script"

    d.install(server)
    answer = server.registered["textDocument/hover"][0]
    assert asyncio.run(answer(None, doc("exo-proc:/a.py"))) == "view"
    assert asyncio.run(answer(None, doc("file:///a.py"))) == "script"
    assert asyncio.run(answer(None, doc("untitled:1"))) is None


def test_first_answer_wins_unless_lists_are_joined():
    d, server = Dispatcher(), FakeServer()
    d.handle("a")(lambda ls, p: None)
    d.handle("a")(lambda ls, p: 1)
    d.handle("a")(lambda ls, p: 2)
    d.handle("b", join_lists=True)(lambda ls, p: [1])
    d.handle("b")(lambda ls, p: None)
    d.handle("b")(lambda ls, p: [2, 3])
    d.install(server)
    assert asyncio.run(server.registered["a"][0](None, doc("x"))) == 1
    assert asyncio.run(server.registered["b"][0](None, doc("x"))) == [1, 2, 3]


def test_conflicting_options_are_refused():
    d = Dispatcher()
    d.handle("m", options="one")
    d.handle("m", options="one")
    with pytest.raises(ValueError):
        d.handle("m", options="two")
