"""Bad initialization options: initialize still succeeds, the user is told which option was
ignored, and scripts run with the defaults for it."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, close_script, open_script, server_config

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    result = await lsp_client.initialize_session(
        lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(),
            initialization_options={"trusted": True, "timeoutSeconds": "soon", "debounceMs": -1, "memoryMb": 8192},
        )
    )
    lsp_client.init_result = result  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def test_bad_options_are_named_and_scripts_still_run(client: LanguageClient):
    assert client.init_result.server_info.name == "exo-lsp"
    warnings = [m.message for m in client.messages if m.type == lsp.MessageType.Warning]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("Exo: some initialization options were ignored: timeoutSeconds: ")
    assert "'soon'" in warnings[0] and "debounceMs: " in warnings[0]
    uri, status = await open_script(client, EXAMPLES / "conv1d.py")
    assert status["state"] == "ok", status
    close_script(client, uri)
