"""Hostile scripts against the process model: one script cannot stall, slow down, kill or
mislead the runs of another, what a run leaves behind is killed with its worker, and
requests (hovers, cancellations, bad params, never-opened files) never lose or fake a run.
Each case ends with a normal script getting its right diagnostics and no process of the
run still alive."""

from __future__ import annotations

import asyncio
import random
import re
import time

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from . import procs
from .helpers import EXAMPLES, change_script, close_script, init_params, open_script, rng, server_config, wait_for_run

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEADER = "from __future__ import annotations\nfrom exo import proc\nfrom exo.stdlib.scheduling import *\n\n"
HEADER_RANGE = (0, 0, 0, len("from __future__ import annotations"))
MARK = procs.new_mark()
OP_FAILS = EXAMPLES / "broken" / "op_fails.py"


@pytest_lsp.fixture(config=server_config(EXO_LSP_TEST_MARK=MARK), scope="module")
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(init_params(timeoutSeconds=4, memoryMb=4096))
    yield
    await lsp_client.shutdown_session()


def unique_sleep() -> str:
    return f"{random.randint(40, 90)}.{random.randint(10**5, 10**6)}"


async def a_normal_script_still_works(client: LanguageClient) -> None:
    uri, status = await open_script(client, OP_FAILS)
    assert status["state"] == "errors", status
    [d] = client.diagnostics[uri]
    assert "cannot perfectly divide" in d.message and rng(d) == (12, 39, 12, 40)
    close_script(client, uri)


def statuses(client: LanguageClient, uri: str, since: int = 0) -> list[tuple[int, str]]:
    return [(s["version"], s["state"]) for s in client.run_status[since:] if s["uri"] == uri]


async def test_a_child_holding_the_pipes_does_not_stall_other_scripts(client: LanguageClient, tmp_path):
    secs = unique_sleep()
    script = tmp_path / "popen_loop.py"
    text = HEADER + f"import subprocess\nsubprocess.Popen(['sleep', '{secs}'], start_new_session=True)\nwhile True: pass\n"
    uri = script.resolve().as_uri()
    since = len(client.run_status)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    while (1, "running") not in statuses(client, uri, since):
        await asyncio.sleep(0.05)
    # another script runs meanwhile, in its own worker
    t0 = time.monotonic()
    await a_normal_script_still_works(client)
    assert time.monotonic() - t0 < 15
    status = await wait_for_run(client, uri, 1, since)
    # the worker stopped the script itself at the limit (its memo survives), then saw the
    # child it left and was replaced with every process it started
    timeout, left = client.diagnostics[uri]
    assert timeout.message == ("the script ran longer than 4 s (it was at line 7) and was stopped; the 0 steps "
                               "before it are shown; raise the `timeoutSeconds` initialization option to give it longer")
    assert rng(timeout) == (6, 0, 6, 16) and timeout.code == "timeout"
    assert re.fullmatch(rf"the script left a child process still running \(pid \d+: sleep {re.escape(secs)}\)" + re.escape(SUFFIX),
                        left.message), left.message
    assert status["state"] == "errors"
    # the next run of the same script does not wait for the child (it is dead)
    t0 = time.monotonic()
    ok = await change_script(client, uri, HEADER + "x = 1\n", 2)
    assert ok["state"] == "ok" and time.monotonic() - t0 < 15
    assert procs.wait_until_gone(lambda: procs.with_cmdline(f"sleep {secs}")) == []
    close_script(client, uri)


async def test_closing_stdin_and_stdout_does_not_cut_the_worker_off(client: LanguageClient, tmp_path):
    script = tmp_path / "close_fds.py"
    text = HEADER + "import os\nfor fd in (0, 1):\n    try:\n        os.close(fd)\n    except OSError:\n        pass\n"
    uri, status = await open_script(client, script, text)
    assert status["state"] == "ok", status
    for version in (2, 3, 4):
        status = await change_script(client, uri, text + f"# {version}\n", version)
        assert status["state"] == "ok", status
        assert list(client.diagnostics[uri]) == []
    close_script(client, uri)
    await a_normal_script_still_works(client)


async def test_closing_every_descriptor_is_a_diagnostic_and_a_new_worker(client: LanguageClient, tmp_path):
    script = tmp_path / "closerange.py"
    uri, status = await open_script(client, script, HEADER + "import os\nos.closerange(3, 4096)\n")
    assert status["state"] == "crashed"
    [d] = client.diagnostics[uri]
    assert d.message == (
        "the worker lost its connection to the server (the script closed its descriptor); the worker was restarted"
    )
    assert rng(d) == HEADER_RANGE
    status = await change_script(client, uri, HEADER + "x = 1\n", 2)
    assert status["state"] == "ok" and list(client.diagnostics[uri]) == []
    close_script(client, uri)
    await a_normal_script_still_works(client)


LEFTOVERS = {
    # name -> (body, message pattern)
    "thread": (
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), name='sleeper', daemon=True).start()\n",
        r"the script left a thread still running \(sleeper\)",
    ),
    "delayed_exit": (
        "import os, threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(1.5), os._exit(9)), name='bomb', daemon=True).start()\n",
        r"the script left a thread still running \(bomb\)",
    ),
    "alarm": ("import signal\nsignal.alarm(3)\n", r"the script left a pending signal\.alarm\(3\)"),
    "child": (
        "import subprocess\nsubprocess.Popen(['sleep', 'SECS'])\n",
        r"the script left a child process still running \(pid \d+: sleep SECS\)",
    ),
    "orphan": (
        "import subprocess\nsubprocess.Popen(['sh', '-c', 'sleep SECS & exit 0']).wait()\n",
        r"the script left a child process still running \(pid \d+: sleep SECS\)",
    ),
    "replaced_op": (
        "import exo.stdlib.scheduling as s\ns.divide_loop = lambda p, *a, **k: p\n",
        r"the script left Exo's exo\.stdlib\.scheduling\.divide_loop replaced",
    ),
}
SUFFIX = ". Its worker was stopped (with every process it started) and the next run gets a new one"


@pytest.mark.parametrize("name", sorted(LEFTOVERS))
async def test_what_a_run_leaves_behind_is_killed_with_its_worker(client: LanguageClient, tmp_path, name):
    secs = unique_sleep()
    body, pattern = (s.replace("SECS", secs) for s in LEFTOVERS[name])
    script = tmp_path / f"{name}.py"
    uri, status = await open_script(client, script, HEADER + body)
    assert status["state"] == "ok", status
    [d] = client.diagnostics[uri]
    assert re.fullmatch(pattern + re.escape(SUFFIX), d.message), d.message
    assert rng(d) == HEADER_RANGE and d.severity == lsp.DiagnosticSeverity.Warning
    # another script opened right after is not touched by it (no delayed exit, no alarm,
    # no replaced divide_loop: op_fails still fails)
    await a_normal_script_still_works(client)
    await asyncio.sleep(2.0)
    assert [x.message for x in client.diagnostics[uri]] == [d.message]  # (no crash reported later)
    assert procs.wait_until_gone(lambda: procs.with_cmdline(f"sleep {secs}")) == []
    # its own next run is in a fresh worker: nothing left from before
    status = await change_script(client, uri, HEADER + "x = 1\n", 2)
    assert status["state"] == "ok" and list(client.diagnostics[uri]) == []
    close_script(client, uri)


@pytest.mark.parametrize("crash", ["os._exit(3)", "ctypes.string_at(0)"])
async def test_a_crashing_worker_takes_its_children_along(client: LanguageClient, tmp_path, crash):
    secs = unique_sleep()
    script = tmp_path / "crash_with_child.py"
    text = HEADER + f"import ctypes, os, subprocess\nsubprocess.Popen(['sleep', '{secs}'])\n{crash}\n"
    uri, status = await open_script(client, script, text)
    assert status["state"] == "crashed"
    assert procs.wait_until_gone(lambda: procs.with_cmdline(f"sleep {secs}")) == []
    close_script(client, uri)
    await a_normal_script_still_works(client)


async def test_a_cancelled_hover_does_not_lose_the_first_run(client: LanguageClient, tmp_path):
    script = tmp_path / "hover_cancel.py"
    text = OP_FAILS.read_text()
    uri = script.resolve().as_uri()
    since = len(client.run_status)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await asyncio.sleep(0.02)
    params = lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=12, character=30))
    client.protocol.send_request(lsp.TEXT_DOCUMENT_HOVER, params, msg_id="hover-to-cancel")
    await asyncio.sleep(0.02)
    client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="hover-to-cancel"))
    status = await wait_for_run(client, uri, 1, since, timeout=60)
    assert status["state"] == "errors"
    [d] = client.diagnostics[uri]
    assert "cannot perfectly divide" in d.message and rng(d) == (12, 39, 12, 40)
    close_script(client, uri)


async def test_hovers_during_a_run_share_it(client: LanguageClient, tmp_path):
    script = tmp_path / "many_hovers.py"
    text = OP_FAILS.read_text()
    uri = script.resolve().as_uri()
    since = len(client.run_status)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    params = lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=12, character=30))
    await asyncio.gather(*(client.text_document_hover_async(params) for _ in range(5)))
    await wait_for_run(client, uri, 1, since)
    await asyncio.sleep(0.5)
    assert statuses(client, uri, since) == [(1, "running"), (1, "errors")]
    close_script(client, uri)


async def test_a_file_never_opened_is_never_run(client: LanguageClient, tmp_path):
    marker = tmp_path / "ran.txt"
    script = tmp_path / "on_disk.py"
    script.write_text(HEADER + f"open({str(marker)!r}, 'w').write('ran')\n")
    uri = script.resolve().as_uri()
    steps = await client.protocol.send_request_async("exo/steps", {"uri": uri})
    assert steps.version is None and steps.steps == []
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(line=4, character=2)))
    assert hover is None
    await asyncio.sleep(1.0)
    assert not marker.exists()


async def test_import_exo_in_a_docstring_does_not_make_a_schedule(client: LanguageClient, tmp_path):
    marker = tmp_path / "ran.txt"
    script = tmp_path / "docstring.py"
    text = f'"""How to use it:\nimport exo\n"""\nopen({str(marker)!r}, "w").write("ran")\n'
    uri = script.resolve().as_uri()
    since = len(client.run_status)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await asyncio.sleep(2.0)
    assert statuses(client, uri, since) == [] and not marker.exists()
    close_script(client, uri)


async def test_out_of_order_changes_are_ignored(client: LanguageClient, tmp_path):
    script = tmp_path / "versions.py"
    uri, status = await open_script(client, script, HEADER + "x = 1\n")
    assert status["state"] == "ok"
    status = await change_script(client, uri, HEADER + "y = 2\n", 3)
    assert status["state"] == "ok"
    since = len(client.run_status)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=HEADER + "raise ValueError('old')\n")]))
    await asyncio.sleep(1.5)
    assert statuses(client, uri, since) == []
    steps = await client.protocol.send_request_async("exo/steps", {"uri": uri})
    assert steps.version == 3 and list(client.diagnostics[uri]) == []
    close_script(client, uri)


@pytest.mark.parametrize("method,params", [
    ("textDocument/hover", {"textDocument": 5, "position": "here"}),
    ("textDocument/inlayHint", {"textDocument": {"uri": 3}}),
    ("exo/steps", {"uri": 5}),
    ("exo/steps", {}),
    ("exo/viewText", {"uri": ["not", "a", "uri"]}),
    ("workspace/executeCommand", lsp.ExecuteCommandParams(command="exo.simulate", arguments=[{"uri": 7}])),
])
async def test_bad_params_get_invalid_params(client: LanguageClient, method, params):
    with pytest.raises(JsonRpcException) as err:
        await asyncio.wait_for(raw_request(client, method, params), 10)
    assert err.value.code == -32602, err.value


def raw_request(client: LanguageClient, method: str, params) -> asyncio.Future:
    """Send params as they are (the client's typed serializer would refuse them)."""
    import uuid

    from pygls.protocol import JsonRPCProtocol

    msg_id = str(uuid.uuid4())
    fut = asyncio.get_running_loop().create_future()
    proto = client.protocol
    proto._request_futures[msg_id] = fut
    proto._result_types[msg_id] = None
    if not isinstance(params, dict):
        params = proto._converter.unstructure(params)
    proto._send_data({"jsonrpc": JsonRPCProtocol.VERSION, "id": msg_id, "method": method, "params": params})
    return fut


async def test_a_5mb_document_reruns_after_a_one_character_edit(client: LanguageClient, tmp_path):
    padding = "# " + "padding " * 7 + "\n"
    body = OP_FAILS.read_text()
    n = (5 << 20) // len(padding)
    text = padding * n + body
    script = tmp_path / "big.py"
    uri, status = await open_script(client, script, text)
    assert status["state"] == "errors", status
    [d] = client.diagnostics[uri]
    assert "cannot perfectly divide" in d.message and rng(d) == (n + 12, 39, n + 12, 40)
    edited = text[: len(text) // 2] + "#" + text[len(text) // 2 + 1 :]
    t0 = time.monotonic()
    status = await change_script(client, uri, edited, 2)
    assert status["state"] == "errors" and time.monotonic() - t0 < 20, status
    [d] = client.diagnostics[uri]
    assert "cannot perfectly divide" in d.message and rng(d) == (n + 12, 39, n + 12, 40)
    close_script(client, uri)



def deep_sum_script(terms: int = 400) -> str:
    total = " + ".join(f"a[{i}]" for i in range(terms))
    return HEADER + (
        f"@proc\ndef f(a: f32[{terms}], x: f32[1]):\n    x[0] = {total}\n\n"
        "p = f\nk = 0\nwhile True:\n    k += 1\n    p = simplify(rename(p, f'f{k}'))\n"
    )


async def test_a_timeout_deep_inside_exo_is_on_the_line_that_called_the_op(client: LanguageClient, tmp_path):
    # Exo's passes recurse deeper than the 100 frames of the crash dump
    uri, status = await open_script(client, tmp_path / "deep.py", deep_sum_script())
    assert status["state"] == "errors"
    diags = client.diagnostics[uri]
    # the loop's `simplify` changes nothing after its first run: when the limit lets it run more
    # than once (a fast machine), that warning is there too, and rightly
    others = [x for x in diags if x.code != "timeout"]
    assert all(x.severity == lsp.DiagnosticSeverity.Warning and "`simplify` changed nothing" in x.message
               for x in others), [(rng(x), x.message) for x in diags]
    [d] = [x for x in diags if x.code == "timeout"]
    assert d.message.startswith("the script ran longer than 4 s (it was at line 13) and was stopped; the ")
    # the op call on that line the limit caught: simplify(...) or the rename(...) inside it
    assert rng(d) in ((12, 8, 12, 36), (12, 17, 12, 35)) and d.code == "timeout", rng(d)
    close_script(client, uri)
    await a_normal_script_still_works(client)
