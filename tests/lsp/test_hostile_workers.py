"""Workers of closed scripts are reaped, the cap holds, and nothing a script started
outlives the server."""

from __future__ import annotations

import asyncio
import os
import random
import sys

import pytest
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig

from . import procs
from .helpers import EXAMPLES, close_script, init_params, make_client, open_script

HEADER = "from __future__ import annotations\nfrom exo import proc\nfrom exo.stdlib.scheduling import *\n\n"


async def start(mark: str, **options):
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "exo_lsp", "serve"], client_factory=make_client,
        server_env={**os.environ, "EXO_LSP_TEST_MARK": mark},
    )
    client = await config.start()
    await client.initialize_session(init_params(**options))
    return client


@pytest.mark.asyncio
async def test_idle_workers_are_reaped_and_the_cap_holds(tmp_path):
    mark = procs.new_mark()
    client = await start(mark, maxWorkers=2, idleWorkerSeconds=0.5)
    try:
        uris = []
        for k in range(4):
            uri, status = await open_script(client, tmp_path / f"s{k}.py", HEADER + f"x = {k}\n")
            assert status["state"] == "ok"
            uris.append(uri)
            await asyncio.sleep(0.3)
            assert len(procs.workers(mark)) <= 2 + 1  # the cap, and one spare
            if k == 1:
                assert len(procs.workers(mark)) >= 2  # each open script has its own
        for uri in uris:
            close_script(client, uri)
        # only the spare is left
        assert len(procs.wait_until_gone(lambda: procs.workers(mark)[1:], timeout=10)) == 0
        uri, status = await open_script(client, EXAMPLES / "broken" / "op_fails.py")
        assert "cannot perfectly divide" in client.diagnostics[uri][0].message
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_nothing_a_script_started_outlives_the_server(tmp_path):
    mark = procs.new_mark()
    client = await start(mark, timeoutSeconds=4)
    try:
        # a run still going at shutdown, with a child in its own session
        secs = f"77.{random.randint(10**5, 10**6)}"
        text = HEADER + f"import subprocess, time\nsubprocess.Popen(['sleep', '{secs}'], start_new_session=True)\ntime.sleep(30)\n"
        uri = (tmp_path / "busy.py").as_uri()
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        await open_script(client, tmp_path / "calm.py", HEADER + "x = 1\n")
        for _ in range(200):
            if procs.with_cmdline(f"sleep {secs}"):
                break
            await asyncio.sleep(0.1)
        assert procs.with_cmdline(f"sleep {secs}")
    finally:
        await client.shutdown_session()
        await client.stop()
    assert procs.wait_until_gone(lambda: procs.with_env_mark(mark)) == []
    assert procs.with_cmdline(f"sleep {secs}") == []
