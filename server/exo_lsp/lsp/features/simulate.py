"""``exo.compileAndSimulate``: the proc at a step, built for RV32+RVM, run on the model,
compared with its algorithm, reported with cycles and speedup."""

from __future__ import annotations

import pathlib
import uuid
from typing import Any

import msgspec
from lsprotocol import types as lsp

from exo_lsp_protocol import messages as m

from ...shared.contract import SimulateParams
from ..view_files import cache_root
from .show import client_can, show_document
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
        started = False
        if client_can(ls, "window", "work_done_progress"):
            try:
                await progress.create_async(token)
                progress.begin(token, lsp.WorkDoneProgressBegin(title="Exo: Compile & Simulate", percentage=0))
                started = True
            except Exception:  # the client refused the token: simulate without progress
                started = False

        def report(message: str, fraction: float) -> None:
            if started:
                progress.report(token, lsp.WorkDoneProgressReport(message=message, percentage=int(fraction * 100)))

        try:
            response = await compile_and_simulate(ls, args, report)
        finally:
            if started:
                progress.end(token, lsp.WorkDoneProgressEnd(message="done"))
        if not ls.options.virtual_documents:
            await show_report(ls, args, response)
        return msgspec.to_builtins(response)


async def show_report(ls, args: m.SimulateArgs, response: m.SimulateResponse) -> None:
    """Editors without our VS Code webview: the report as a Markdown file, opened, and a
    one-line summary."""
    from ..server import uri_to_path

    ls.window_show_message(lsp.ShowMessageParams(
        type=lsp.MessageType.Info if response.error is None and response.result and response.result.correct
        else lsp.MessageType.Warning,
        message=summary(response),
    ))
    if not response.report:
        return
    script = pathlib.Path(uri_to_path(args.uri))
    proc = response.result.proc if response.result else (args.proc or "proc")
    folder = cache_root() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{script.stem}.{proc}.{args.compiler}.md"
    file.write_text(response.report, encoding="utf-8")
    await show_document(ls, file.as_uri())


def summary(response: m.SimulateResponse) -> str:
    r = response.result
    if r is None or response.error:
        return f"Exo: compile & simulate failed: {(response.error or 'no result').splitlines()[0]}"
    verdict = "outputs bit-exact with the algorithm" if r.correct else "OUTPUTS DIFFER from the algorithm"
    cycles = f"{r.scheduled.cycles:,} cycles" if r.scheduled else "no cycle count"
    speed = f"{r.speedup:.2f}x over the algorithm" if r.speedup else "no speedup measured"
    return f"Exo: {r.proc}: {cycles}, {speed}; {verdict}"
