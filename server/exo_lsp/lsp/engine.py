"""The engine: runs schedule scripts in their workers, keeps the latest trace of each.

Every LSP feature reads the engine's traces or asks a script's worker through ``query``.
One run per (script, version): callers asking for the run that is already going await
that same run, and a caller that goes away (a cancelled hover) never cancels a run someone
else may need; only a newer version of the script cancels its older run. A worker is
disposable: on a timeout, a crash, a deliberate exit, or when its run left something
behind, it is replaced, and the run says what happened and where.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..shared import framing as ipc
from ..shared.contract import METHODS, QueryParams
from ..shared.positions import col_len, index_to_col
from ..shared.trace import Position, Problem, Range, Trace, merge_partial, norm_path
from . import worker_client
from .worker_client import Settings, WorkerClient, WorkerGone
from .workers import WorkerPool

log = logging.getLogger("exo_lsp.engine")


@dataclass(eq=False)
class _Run:
    version: int | None
    source: str
    task: asyncio.Task | None = None
    worker: WorkerClient | None = None
    request_id: int | None = None
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
        if self.worker is not None and self.request_id is not None:
            self.worker.cancel(self.request_id)


@dataclass
class Engine:
    settings: Settings = field(default_factory=Settings)
    traces: dict[str, Trace] = field(default_factory=dict)
    restarts: int = 0  # workers replaced or stopped: their proc handles mean nothing any more

    def __post_init__(self) -> None:
        self.pool = WorkerPool(self.settings, on_evict=self._forget)
        self._runs: dict[str, _Run] = {}
        self.closed = False  # shut down: runs nothing more

    def _forget(self, path: str) -> None:
        self.restarts += 1
        trace = self.traces.get(path)
        if trace is not None and not trace.crashed:
            del self.traces[path]  # its procs were in the worker: the next request runs it again

    async def run(
        self, path: str, source: str, version: int | None = None, *, on_progress=None, use_memo=True
    ) -> Trace | None:
        """Run `source` as the script at `path`. None when a newer version superseded it."""
        path = norm_path(path)
        if self.closed:
            return None
        cur = self._runs.get(path)
        if cur is not None and cur.task is not None and not cur.task.done():
            if cur.version == version and cur.source == source and not cur.cancelled:
                return await asyncio.shield(cur.task)
            cur.cancel()
        run = _Run(version, source)
        run.task = asyncio.get_running_loop().create_task(self._execute(path, run, on_progress, use_memo))
        self._runs[path] = run
        return await asyncio.shield(run.task)

    def running(self, path: str) -> tuple[int | None, asyncio.Task] | None:
        run = self._runs.get(norm_path(path))
        if run is None or run.task is None or run.task.done() or run.cancelled:
            return None
        return run.version, run.task

    async def _execute(self, path: str, run: _Run, on_progress, use_memo: bool) -> Trace | None:
        while True:
            w = await self.pool.acquire(path)
            async with w.lock:
                if run.cancelled:
                    return None
                if self.pool.get(path) is w:  # (not evicted or replaced while we waited)
                    return await self._run_on(w, path, run, on_progress, use_memo)

    async def _run_on(self, w: WorkerClient, path: str, run: _Run, on_progress, use_memo: bool) -> Trace | None:
        """on_progress(ipc.Progress) hears of each top-level step; when the frame carries the
        steps so far (Trace.partial), they are the document's trace until the run ends."""
        limit = self.settings.timeout_s  # the worker stops the script itself at the limit
        req = ipc.RunScript(next(w.ids), path, run.source, run.version, use_memo, self.settings.encoding, limit)
        run.worker, run.request_id = w, req.id
        w.running_path = path
        t0 = time.perf_counter()
        partial: list[Trace] = []

        def progress(msg: ipc.Progress) -> None:
            if msg.trace is not None:
                # the frame carries only the steps new since the previous one
                try:
                    msg = msgspec.structs.replace(msg, trace=merge_partial(partial[0] if partial else None, msg.trace))
                except ValueError:  # (never: frames arrive in order) show nothing rather than a wrong trace
                    log.exception("partial trace out of order")
                    return
                partial[:] = [msg.trace]
                if not run.cancelled:
                    self.traces[path] = msg.trace
            if on_progress is not None:
                on_progress(msg)

        try:
            done = await w.request(req, limit + worker_client.GRACE_S, progress)
        except WorkerGone as gone:
            trace = crash_trace(path, run.version, run.source, gone, (time.perf_counter() - t0) * 1000)
            if partial:  # keep the steps it finished
                trace = msgspec.structs.replace(partial[0], ok=False, problems=trace.problems, crashed=True,
                                                partial=False, ms=trace.ms)
            self.pool.retire(path, w)
        else:
            if done.leftovers:
                self.pool.retire(path, w)
            if done.cancelled or done.trace is None:
                return None
            trace = done.trace
            if done.leftovers:
                trace.problems.append(leftovers_problem(path, run.source, done.leftovers))
        finally:
            run.worker = run.request_id = None
            w.running_path = None
        if run.cancelled and self.traces.get(path) is not None:
            return None  # a newer version is on its way; keep the trace we have until then
        self.traces[path] = trace
        return trace

    async def query(self, path: str, params: QueryParams, *, on_progress=None) -> Any:
        """Ask the worker of `path` about procs of its last run: the Result type that the
        contract pairs with `params`, or None when the worker has nothing to say.
        on_progress(message, fraction) hears how far a long query has got."""
        path = norm_path(path)
        w = self.pool.get(path)
        if w is None:
            raise RuntimeError("the script has not been run (or its worker was stopped)")
        # During a run the worker answers queries between steps, from the steps so far
        # (worker/progress.py): waiting for the worker's lock would hold hovers until the end.
        busy = w.running_path is not None and w.alive
        async with (contextlib.nullcontext() if busy else w.lock):
            if not w.alive:
                raise RuntimeError("the script's worker was stopped; run it again")
            msg = ipc.Query(next(w.ids), path, params)
            # mid-run, the answer may have to wait for the run's next step, or its end
            wait = self.settings.query_timeout_s + (self.settings.timeout_s + worker_client.GRACE_S if busy else 0)
            try:
                done = await w.request(msg, wait, on_progress)
            except WorkerGone as gone:
                self.pool.retire(path, w)
                raise RuntimeError(f"the worker stopped while answering: {gone.reason}") from None
        if done.error:
            raise RuntimeError(done.error)
        return _result_decoder(type(params)).decode(done.result)

    def release(self, path: str) -> None:
        """The script was closed: its worker goes once idle (pool.release)."""
        self.pool.release(norm_path(path))

    async def ensure_started(self) -> None:
        """Have the spare worker started (benchmarks and tests time runs without it)."""
        self.pool.keep_spare()
        if self.pool._spare is not None:
            await asyncio.shield(self.pool._spare)

    async def shutdown(self) -> None:
        self.closed = True
        for run in self._runs.values():
            run.cancel()
        await self.pool.shutdown()


@functools.cache
def _result_decoder(params_type: type) -> msgspec.msgpack.Decoder:
    return msgspec.msgpack.Decoder(METHODS[params_type] | None)


def _line_range(source: str, line: int, col: int | None = None) -> Range:
    lines = source.splitlines()
    text = lines[line] if 0 <= line < len(lines) else ""
    if col is not None:  # a code position: UTF-8 bytes
        start = len(text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
    else:
        start = len(text) - len(text.lstrip())
    return Range(Position(line, index_to_col(text, start)), Position(line, col_len(text)))


def crash_trace(path, version, source, gone: WorkerGone, ms: float) -> Trace:
    line, col = 0, None
    if gone.hint and os.path.abspath(gone.hint[0]) == path:
        line, col = gone.hint[1], gone.hint[2]
    where = f" (it was at line {line + 1})" if gone.hint else ""
    message = f"{gone.reason}{where}; the worker was restarted"
    if gone.reason.startswith("ran longer"):
        message = (f"the script {gone.reason}{where} and was stopped; the worker was restarted; "
                   "raise the `timeoutSeconds` initialization option to give it longer")
    problem = Problem(path, _line_range(source, line, col), "error", message, "worker-crash")
    return Trace(path, version, False, [], [], [], [problem], "", ms, crashed=True)


def leftovers_problem(path: str, source: str, leftovers: list[str]) -> Problem:
    message = (
        "the script left " + "; ".join(leftovers)
        + ". Its worker was stopped (with every process it started) and the next run gets a new one"
    )
    return Problem(path, _line_range(source, 0), "warning", message, "worker-leftovers")
