"""``exo.compileAndSimulate``: the proc at a step, built for RV32+RVM, run on the model,
compared with its algorithm, reported with cycles and speedup."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from lsprotocol import types as lsp

from exo_lsp_protocol import messages as m

from ...shared.contract import SimulateParams
from .views import select_handle

COMMAND = "exo.compileAndSimulate"


async def compile_and_simulate(ls, args: m.SimulateArgs, report=None) -> m.SimulateResponse:
    from ..server import uri_to_path

    trace = await ls.ensure_trace(args.uri) if ls.trusted else None
    if trace is None:
        return m.SimulateResponse(result=None, report="", error="the script has not run (is the workspace trusted?)")
    step = None if args.step in (None, "last") else int(args.step)
    try:
        handle, _ = select_handle(trace, args.proc, step)
    except ValueError as exc:
        return m.SimulateResponse(result=None, report="", error=str(exc))
    answer = await ls.engine.query(
        uri_to_path(args.uri), SimulateParams(handle=handle, compiler=args.compiler), on_progress=report
    )
    return m.SimulateResponse(result=answer.result, report=answer.report, error=answer.result.error)


def register(server) -> None:
    from ..server import params_as

    @server.command(COMMAND)
    async def on_simulate(ls, *items: Any) -> dict:
        # pygls passes the command's arguments as positional parameters
        if not items:
            return msgspec.to_builtins(m.SimulateResponse(result=None, report="", error="missing argument {uri}"))
        args = params_as(items[0], m.SimulateArgs)
        token = str(uuid.uuid4())
        progress = ls.work_done_progress
        try:
            await progress.create_async(token)
            progress.begin(token, lsp.WorkDoneProgressBegin(title="Exo: Compile & Simulate", percentage=0))
            started = True
        except Exception:  # the client may not support server-initiated progress
            started = False

        def report(message: str, fraction: float) -> None:
            if started:
                progress.report(token, lsp.WorkDoneProgressReport(message=message, percentage=int(fraction * 100)))

        try:
            response = await compile_and_simulate(ls, args, report)
        finally:
            if started:
                progress.end(token, lsp.WorkDoneProgressEnd(message="done"))
        return msgspec.to_builtins(response)
