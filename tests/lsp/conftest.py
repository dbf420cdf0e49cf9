"""The language client of the end-to-end tests: one pytest-lsp fixture, `client`, that starts
`python -m exo_lsp serve` over stdio (one server per test module and editor) and initializes it
as a real editor does, with the capabilities that editor declares (capabilities/*.json, dumped
from the editors; see capabilities/README.md):

* ``vscode``: vscode-languageclient's: UTF-16 positions only, documentChanges, inlay hints, code
  lens, semantic tokens, work done progress, showDocument;
* ``neovim``: Neovim 0.11's: positionEncodings utf-8, utf-16, utf-32 (the server picks utf-8),
  inlay hints, code lens, semantic tokens, work done progress; no documentChanges.

Each test that uses `client` runs once per editor. A module or a test narrows that by indirect
parametrisation (``helpers.VSCODE_ONLY``, ``helpers.NEOVIM_ONLY``), and sets its session up
with the ``lsp_session`` marker::

    pytestmark = pytest.mark.lsp_session(init_options={"actionBudgetMs": 0}, without=["workspace.inlayHint"])

``init_options`` are added to the defaults (trusted, 50 ms debounce); ``without`` lists the
capabilities (dotted paths, as in the JSON) to leave out.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from .helpers import EDITORS, initialize_params, server_config


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lsp_session(init_options=None, without=()): initialization options added to the defaults and "
        "client capabilities (dotted paths) left out, for the `client` fixture of tests/lsp",
    )


@pytest_lsp.fixture(config=server_config(), scope="module", params=list(EDITORS))
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    marker = request.node.get_closest_marker("lsp_session")
    session = marker.kwargs if marker else {}
    lsp_client.editor = request.param  # type: ignore[attr-defined]
    await lsp_client.initialize_session(initialize_params(request.param, **session))
    yield
    await lsp_client.shutdown_session()
