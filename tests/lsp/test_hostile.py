"""Hostile scripts: each one becomes a diagnostic on the offending line, and the server
(and a fresh worker) keep answering."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, VSCODE_ONLY, change_script, close_script, open_script, rng

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    VSCODE_ONLY,  # nothing here depends on what differs between the editors: one run keeps the suite short
    pytest.mark.lsp_session(init_options={"timeoutSeconds": 4, "memoryMb": 4096}),
]

HEADER = "from __future__ import annotations\nfrom exo import proc\nfrom exo.stdlib.scheduling import *\n\n"

# name -> (body after the header, 0-based line of the diagnostic, message substring)
HOSTILE = {
    # one line: the stack dump interrupts the loop at any instruction, the test and the jump included
    "infinite_loop": ("x = 0\nwhile True: x += 1\n", 5, "ran longer than 4 s (it was at line 6) and was stopped"),
    "sys_exit": ("import sys\nsys.exit(2)\n", 5, "the script called sys.exit(2)"),
    "os_exit": ("import os\nos._exit(3)\n", 5, "the script called os._exit(3)"),
    "segfault": ("import ctypes\nctypes.string_at(0)\n", 5, "the worker crashed (segmentation fault) (it was at line 6)"),
    "huge_alloc": ("block = bytearray(20 * 2**30)\n", 4, "ran out of memory"),
    "recursion": ("def down(n):\n    return down(n + 1)\n\ndown(0)\n", 5, "RecursionError: maximum recursion depth exceeded"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_script_is_a_diagnostic_and_server_survives(client: LanguageClient, tmp_path, name):
    body, line, message = HOSTILE[name]
    script = tmp_path / f"{name}.py"
    script.write_text(HEADER + body)
    uri, status = await open_script(client, script)
    assert status["state"] in ("errors", "crashed"), status
    diags = list(client.diagnostics[uri])
    assert len(diags) == 1, [d.message for d in diags]
    [d] = diags
    assert d.range.start.line == line, (d.message, rng(d))
    assert message in d.message
    assert d.severity == 1
    close_script(client, uri)

    # The server answers, and the (possibly restarted) worker runs a real schedule.
    ok_uri, ok = await open_script(client, EXAMPLES / "broken" / "op_fails.py")
    assert ok["state"] == "errors"
    assert "cannot perfectly divide" in client.diagnostics[ok_uri][0].message
    close_script(client, ok_uri)


async def test_crash_and_restart_show_in_run_status(client: LanguageClient, tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(HEADER + "import os\nos._exit(7)\n")
    uri, status = await open_script(client, script)
    assert status["state"] == "crashed"
    assert "os._exit(7)" in status["message"] and "restarted" in status["message"]
    close_script(client, uri)


async def test_a_newer_version_cancels_the_stale_run(client: LanguageClient, tmp_path):
    marker = tmp_path / "finished.txt"
    slow = HEADER + (
        "import time\n"
        "@proc\n"
        "def f(x: f32[8]):\n"
        "    for i in seq(0, 8):\n"
        "        x[i] = 1.0\n"
        "p = f\n"
        "for k in range(40):\n"
        "    time.sleep(0.1)\n"
        "    p = rename(p, f'f{k}')\n"
        f"open({str(marker)!r}, 'w').write('the stale run went on')\n"
    )
    script = tmp_path / "slow.py"
    script.write_text(slow)
    uri = script.resolve().as_uri()
    since = len(client.run_status)
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=slow))
    )
    while not any(s["uri"] == uri and s["state"] == "running" for s in client.run_status[since:]):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    status = await change_script(client, uri, HEADER + "p = 1\n", 2)
    assert status["state"] == "ok"
    assert not [s for s in client.run_status[since:] if s["version"] == 1 and s["state"] in ("ok", "errors", "crashed")]
    # the worker dropped the stale run at its next scheduling call: it never got to the end
    await asyncio.sleep(1.0)
    assert not marker.exists()
    close_script(client, uri)
