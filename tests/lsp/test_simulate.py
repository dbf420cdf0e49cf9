"""`exo.compileAndSimulate` over stdio: a structured result, a report, progress."""

from __future__ import annotations

import msgspec
import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from exo_lsp_protocol import messages as m

from .helpers import EXAMPLES, VSCODE_ONLY, close_script, open_script

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    VSCODE_ONLY,  # both editors declare workDoneProgress, nothing else here differs: one run keeps the suite short
]


async def simulate(client: LanguageClient, **args) -> m.SimulateResponse:
    raw = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="exo.compileAndSimulate", arguments=[args])
    )
    return msgspec.convert(raw, m.SimulateResponse)  # the wire shape is the protocol's


async def test_compile_and_simulate_conv1d(client: LanguageClient):
    uri, status = await open_script(client, EXAMPLES / "conv1d.py")
    assert status["state"] == "ok"
    answer = await simulate(client, uri=uri)
    result = answer.result
    assert answer.error is None
    assert (result.proc, result.algorithm, result.ok, result.correct) == ("conv1d_rvm", "conv1d", True, True)
    assert result.races == []
    assert result.scheduled.cycles < result.baseline.cycles
    assert result.speedup == pytest.approx(result.baseline.cycles / result.scheduled.cycles, rel=1e-3)
    assert result.speedup > 4
    assert "# Compile & simulate: `conv1d_rvm`" in answer.report
    assert "outputs correct (bit-exact)" in answer.report
    # cycles attributed to C lines, and through the C map to proc statements
    assert any(line.cycles > 0 for line in result.lines)
    assert any(s.stmt.startswith("proc line ") for s in result.stmts)
    # progress: begin, reports, end
    kinds = [p.kind for reports in client.progress_reports.values() for p in reports]
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
    close_script(client, uri)


async def test_simulate_an_earlier_step_and_a_bad_step(client: LanguageClient):
    uri, _ = await open_script(client, EXAMPLES / "conv1d.py")
    early = await simulate(client, uri=uri, step=5)
    assert early.result.ok and early.result.correct
    assert early.result.proc == "conv1d_rvm"
    assert early.result.scheduled.rvm_instructions == 0
    bad = await simulate(client, uri=uri, step=999)
    assert bad.result is None
    assert "step 999 does not exist" in bad.error
    close_script(client, uri)
