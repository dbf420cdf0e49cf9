"""The engine: owns the worker, runs schedule scripts in it, keeps the latest trace.

Every LSP feature reads the engine's traces or asks the worker through ``query``. The
worker is disposable: on a timeout, a crash or a deliberate exit it is replaced, and the
run that caused it becomes a trace with one problem saying what happened and where.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import msgspec

from ..shared import framing as ipc
from ..shared.contract import METHODS, QueryParams
from ..shared.positions import col_len, index_to_col
from ..shared.trace import Position, Problem, Range, Trace, norm_path

log = logging.getLogger("exo_lsp.worker_client")


@dataclass
class Settings:
    python: str = sys.executable  # interpreter that runs the worker
    # wall time of one run: Exo's largest apps take minutes on a busy 2-core machine, and a
    # run that hits the limit still shows every step it finished (the worker stops the
    # script itself and keeps its memo; GRACE_S later the process is killed)
    timeout_s: float = 300.0
    memory_mb: int = 8192  # address-space limit of the worker
    query_timeout_s: float = 60.0
    encoding: str = "utf-16"  # position encoding of the trace's columns
    start_timeout_s: float = 120.0


GRACE_S = 15.0  # after the run's limit, how long the worker has to stop the script itself


class WorkerGone(Exception):
    def __init__(self, reason: str, trace_hint: tuple[str, int, int | None] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.hint = trace_hint  # (path, 0-based line, column or None)


@dataclass
class _Pending:
    future: asyncio.Future
    on_progress: Callable[[int], None] | None = None
    last_line: int | None = None


class WorkerClient:
    """One worker process and the frames going to and from it."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, _Pending] = {}
        self.ids = itertools.count(1)
        self.stderr_tail = bytearray()
        self.dying: ipc.Dying | None = None
        self.start_ms: float | None = None
        self._tasks: list[asyncio.Task] = []
        self._ready: asyncio.Future | None = None
        self.running_path: str | None = None  # script of the run in progress, for crash reports

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        env = dict(os.environ)
        env["EXO_LSP_WORKER_MEMORY_MB"] = str(self.settings.memory_mb)
        env.setdefault("PYTHONUNBUFFERED", "1")
        t0 = time.perf_counter()
        self.proc = await asyncio.create_subprocess_exec(
            self.settings.python,
            "-m",
            "exo_lsp.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            limit=1 << 26,
            start_new_session=True,
        )
        self.stderr_tail.clear()
        self.dying = None
        self._ready = asyncio.get_running_loop().create_future()
        self._tasks = [
            asyncio.create_task(self._read_frames()),
            asyncio.create_task(self._read_stderr()),
        ]
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.settings.start_timeout_s)
        except asyncio.TimeoutError:
            await self.kill()
            raise WorkerGone("the worker did not start in time")
        self.start_ms = (time.perf_counter() - t0) * 1000

    async def _read_frames(self) -> None:
        assert self.proc and self.proc.stdout
        reader = self.proc.stdout
        while True:
            body = await ipc.read_frame_async(reader)
            if body is None:
                break
            msg = ipc.decode_from_worker(body)
            if isinstance(msg, ipc.Ready):
                if self._ready and not self._ready.done():
                    self._ready.set_result(msg)
            elif isinstance(msg, ipc.Progress):
                p = self.pending.get(msg.id)
                if p is not None:
                    p.last_line = msg.line
                    if p.on_progress:
                        p.on_progress(msg)
            elif isinstance(msg, ipc.QueryProgress):
                p = self.pending.get(msg.id)
                if p is not None and p.on_progress:
                    p.on_progress(msg.message, msg.fraction)
            elif isinstance(msg, (ipc.RunDone, ipc.QueryDone)):
                p = self.pending.pop(msg.id, None)
                if p is not None and not p.future.done():
                    p.future.set_result(msg)
            elif isinstance(msg, ipc.Dying):
                self.dying = msg
        await self._on_exit()

    async def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        while True:
            chunk = await self.proc.stderr.read(65536)
            if not chunk:
                return
            self.stderr_tail += chunk
            del self.stderr_tail[:-65536]
            log.debug("worker: %s", chunk.decode(errors="replace").rstrip())

    async def _on_exit(self) -> None:
        proc = self.proc
        if proc is None:
            return
        code = await proc.wait()
        stderr_task = self._tasks[1] if len(self._tasks) > 1 else None
        if stderr_task is not None:
            # the crash report (faulthandler) is on stderr: read it to the end first
            try:
                await asyncio.wait_for(asyncio.shield(stderr_task), 2)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        reason = self._exit_reason(code)
        for pid, p in list(self.pending.items()):
            if not p.future.done():
                p.future.set_exception(WorkerGone(reason, self._crash_location()))
        self.pending.clear()
        if self._ready and not self._ready.done():
            self._ready.set_exception(WorkerGone(reason + self._stderr_excerpt()))

    def _exit_reason(self, code: int) -> str:
        if self.dying is not None:
            return self.dying.reason
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            what = {"SIGSEGV": "crashed (segmentation fault)", "SIGKILL": "was killed (SIGKILL, perhaps out of memory)"}
            return f"the worker {what.get(name, 'died of ' + name)}"
        return f"the worker exited with code {code}"

    def _stderr_excerpt(self) -> str:
        text = self.stderr_tail.decode(errors="replace").strip()
        return f": {text[-2000:]}" if text else ""

    def _crash_location(self) -> tuple[str, int, int | None] | None:
        if self.dying is not None and self.dying.path and self.dying.line is not None:
            return (self.dying.path, self.dying.line, self.dying.character)
        return _faulthandler_location(self.stderr_tail.decode(errors="replace"), self.running_path)

    async def request(self, msg, timeout: float, on_progress=None) -> Any:
        if not self.alive:
            await self.start()
        assert self.proc and self.proc.stdin
        fut = asyncio.get_running_loop().create_future()
        self.pending[msg.id] = _Pending(fut, on_progress)
        self.proc.stdin.write(ipc.frame(msg))
        await self.proc.stdin.drain()
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            where = await self._dump_and_kill()
            raise WorkerGone(f"ran longer than {timeout:g} s", where) from None
        except asyncio.CancelledError:
            self.cancel(msg.id)
            raise

    def cancel(self, request_id: int) -> None:
        if self.alive and self.proc and self.proc.stdin:
            self.proc.stdin.write(ipc.frame(ipc.Cancel(request_id)))

    async def _dump_and_kill(self):
        # faulthandler prints the stack on SIGUSR1: that says where the script was stuck.
        if self.alive and self.proc:
            try:
                self.proc.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.3)
            except ProcessLookupError:
                pass
        where = _faulthandler_location(self.stderr_tail.decode(errors="replace"), self.running_path)
        await self.kill()
        return where

    async def kill(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
            await proc.wait()
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        for p in self.pending.values():
            if not p.future.done():
                p.future.set_exception(WorkerGone("the worker was stopped"))
        self.pending.clear()

    async def shutdown(self) -> None:
        if self.alive and self.proc and self.proc.stdin:
            try:
                self.proc.stdin.write(ipc.frame(ipc.Shutdown()))
                await self.proc.stdin.drain()
                await asyncio.wait_for(self.proc.wait(), 2)
            except (asyncio.TimeoutError, ConnectionError):
                pass
        await self.kill()


@functools.cache
def _result_decoder(params_type: type) -> msgspec.msgpack.Decoder:
    return msgspec.msgpack.Decoder(METHODS[params_type] | None)


_FH_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def _faulthandler_location(text: str, script: str | None) -> tuple[str, int, int | None] | None:
    """The innermost frame in `script` of the last faulthandler dump."""
    dumps = text.rsplit("most recent call first", 1)
    if len(dumps) < 2 or script is None:
        return None
    for m in _FH_LINE.finditer(dumps[1]):
        if os.path.abspath(m["file"]) == script:
            return (script, int(m["line"]) - 1, None)
    return None


@dataclass
class Engine:
    settings: Settings = field(default_factory=Settings)
    traces: dict[str, Trace] = field(default_factory=dict)
    restarts: int = 0

    def __post_init__(self) -> None:
        self.worker = WorkerClient(self.settings)
        self._lock = asyncio.Lock()
        self._latest_version: dict[str, int | None] = {}
        self._in_flight: dict[str, tuple[int, int | None]] = {}  # path -> (request id, version)

    async def run(
        self, path: str, source: str, version: int | None = None, *, on_progress=None, use_memo=True
    ) -> Trace | None:
        """Run `source` as the script at `path`. None when a newer version superseded it.
        on_progress(ipc.Progress) hears of each top-level step; when the frame carries the
        steps so far (Trace.partial), they are the document's trace until the run ends."""
        path = norm_path(path)
        self._latest_version[path] = version
        flying = self._in_flight.get(path)
        if flying is not None and flying[1] != version:
            self.worker.cancel(flying[0])
        async with self._lock:
            if self._latest_version.get(path) != version:
                return None
            limit = self.settings.timeout_s
            req = ipc.RunScript(next(self.worker.ids), path, source, version, use_memo, self.settings.encoding, limit)
            self._in_flight[path] = (req.id, version)
            self.worker.running_path = path
            t0 = time.perf_counter()
            partial: list[Trace] = []

            def progress(msg: ipc.Progress) -> None:
                if msg.trace is not None:
                    partial[:] = [msg.trace]
                    self.traces[path] = msg.trace
                if on_progress is not None:
                    on_progress(msg)

            try:
                done = await self.worker.request(req, limit + GRACE_S, progress)
            except WorkerGone as gone:
                self.restarts += 1
                trace = self._crash_trace(path, version, source, gone, (time.perf_counter() - t0) * 1000)
                if partial:  # keep the steps it finished
                    trace = msgspec.structs.replace(partial[0], ok=False, problems=trace.problems, crashed=True,
                                                    partial=False, ms=trace.ms)
                asyncio.create_task(self._restart())
            else:
                if done.cancelled or done.trace is None:
                    return None
                trace = done.trace
            finally:
                self._in_flight.pop(path, None)
                self.worker.running_path = None
            self.traces[path] = trace
            return trace

    async def query(self, path: str, params: QueryParams, *, on_progress=None) -> Any:
        """Ask the worker about procs of the last run of `path`: the Result type that the
        contract pairs with `params`, or None when the worker has nothing to say.
        on_progress(message, fraction) hears how far a long query has got."""
        path = norm_path(path)
        # During a run the worker answers queries between steps, from the steps so far
        # (worker/progress.py): waiting for the lock would hold hovers until the run ends.
        busy = self._in_flight and self.worker.alive
        async with (contextlib.nullcontext() if busy else self._lock):
            msg = ipc.Query(next(self.worker.ids), path, params)
            # mid-run, the answer may have to wait for the run's next step, or its end
            wait = self.settings.query_timeout_s + (self.settings.timeout_s + GRACE_S if busy else 0)
            try:
                done = await self.worker.request(msg, wait, on_progress)
            except WorkerGone as gone:
                self.restarts += 1
                asyncio.create_task(self._restart())
                raise RuntimeError(f"the worker stopped while answering: {gone.reason}") from None
        if done.error:
            raise RuntimeError(done.error)
        return _result_decoder(type(params)).decode(done.result)

    async def _restart(self) -> None:
        async with self._lock:
            await self.worker.kill()
            try:
                await self.worker.start()
            except WorkerGone as gone:
                log.error("worker restart failed: %s", gone.reason)

    async def ensure_started(self) -> None:
        async with self._lock:
            if not self.worker.alive:
                await self.worker.start()

    async def shutdown(self) -> None:
        await self.worker.shutdown()

    def _crash_trace(self, path, version, source, gone: WorkerGone, ms: float) -> Trace:
        lines = source.splitlines()
        line, col = 0, None
        if gone.hint and os.path.abspath(gone.hint[0]) == path:
            line, col = gone.hint[1], gone.hint[2]
        text = lines[line] if 0 <= line < len(lines) else ""
        if col is not None:  # a code position: UTF-8 bytes
            start = len(text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        else:
            start = len(text) - len(text.lstrip())
        rng = Range(Position(line, index_to_col(text, start)), Position(line, col_len(text)))
        where = f" (it was at line {line + 1})" if gone.hint else ""
        message = f"{gone.reason}{where}; the worker was restarted"
        if gone.reason.startswith("ran longer"):
            message = (f"the script {gone.reason}{where} and was stopped; the worker was restarted; "
                       "raise the `timeoutSeconds` initialization option to give it longer")
        problem = Problem(path, rng, "error", message, "worker-crash")
        return Trace(path, version, False, [], [], [], [problem], "", ms, crashed=True)
