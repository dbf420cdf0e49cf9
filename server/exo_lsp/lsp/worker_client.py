"""One worker process and the frames going to and from it.

The worker runs in its own session; frames travel over a socketpair whose worker end is
passed at a high descriptor number (stdin is /dev/null, stdout and stderr go to a pipe
read here for crash reports). The process is watched by its exit, never by its pipes: a
grandchild holding stderr open cannot delay the server. Killing a worker kills its whole
process tree (process_tree.kill_tree) and waits only for the worker itself to be reaped.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import logging
import os
import re
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import msgspec

from ..shared import framing as ipc
from . import process_tree

log = logging.getLogger("exo_lsp.worker_client")

IPC_FD_MIN = 200  # the worker's end of the channel sits at or above this descriptor
CHANNEL_CLOSED = 75  # the worker's exit status when the script closed its end (worker/main.py)


@dataclass
class Settings:
    python: str = sys.executable  # interpreter that runs the worker
    # wall time of one run: Exo's largest apps take minutes on a busy 2-core machine, and a
    # run that hits the limit still shows every step it finished (the worker stops the
    # script itself and keeps its memo; GRACE_S later the process is killed)
    timeout_s: float = 300.0
    memory_mb: int = 8192  # address-space limit of each worker
    file_mb: int = 1024  # largest file a script may write
    query_timeout_s: float = 60.0
    encoding: str = "utf-16"  # position encoding of the trace's columns
    start_timeout_s: float = 120.0
    max_workers: int = 4  # live workers (one per open script, LRU beyond that)
    idle_s: float = 30.0  # a closed script's worker is stopped after this long
    spare: bool = True  # keep one started worker ready for the next script


GRACE_S = 15.0  # after the run's limit, how long the worker has to stop the script itself


class WorkerGone(Exception):
    def __init__(self, reason: str, trace_hint: tuple[str, int, int | None] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.hint = trace_hint  # (path, 0-based line, column or None)


@dataclass
class _Pending:
    future: asyncio.Future
    on_progress: Callable[..., None] | None = None
    last_line: int | None = None  # line of the script op in progress (ipc.At)
    on_partial: Callable[[msgspec.Raw], None] | None = None  # results so far (ipc.QueryPartial)


class WorkerClient:
    """One worker process. Not safe for concurrent requests: its owner serialises them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, _Pending] = {}
        self.ids = itertools.count(1)
        self.stderr_tail = bytearray()
        self.dying: ipc.Dying | None = None
        self.start_ms: float | None = None
        self.exit_code: int | None = None
        self.channel_lost = False  # the worker was alive but its end of the channel was closed
        self.lock = asyncio.Lock()
        self.running_path: str | None = None  # script of the run in progress, for crash reports
        self.last_used = time.monotonic()
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self._ready: asyncio.Future | None = None
        self._exited = asyncio.Event()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self._writer is not None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        env = dict(os.environ)
        env["EXO_LSP_WORKER_MEMORY_MB"] = str(self.settings.memory_mb)
        env["EXO_LSP_WORKER_FILE_MB"] = str(self.settings.file_mb)
        env.setdefault("PYTHONUNBUFFERED", "1")
        ours, theirs = socket.socketpair()
        high = fcntl.fcntl(theirs.fileno(), fcntl.F_DUPFD_CLOEXEC, IPC_FD_MIN)
        theirs.close()
        env["EXO_LSP_IPC_FD"] = str(high)
        err_r, err_w = os.pipe()
        t0 = time.perf_counter()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.settings.python,
                "-m",
                "exo_lsp.worker",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=err_w,
                stderr=err_w,
                pass_fds=(high,),
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(high)
            os.close(err_w)
        self.stderr_tail.clear()
        self.dying = None
        self.channel_lost = False
        self.exit_code = None
        self._exited.clear()
        reader, self._writer = await asyncio.open_unix_connection(sock=ours, limit=1 << 26)
        err_reader = asyncio.StreamReader(limit=1 << 20, loop=loop)
        err_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(err_reader, loop=loop), os.fdopen(err_r, "rb", buffering=0)
        )
        self._ready = loop.create_future()
        self._ready.add_done_callback(_retrieve)
        self._tasks = [
            asyncio.create_task(self._read_frames(reader)),
            asyncio.create_task(self._read_stderr(err_reader, err_transport)),
            asyncio.create_task(self._watch(self.proc)),
        ]
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.settings.start_timeout_s)
        except asyncio.TimeoutError:
            await self.kill()
            raise WorkerGone("the worker did not start in time") from None
        self.start_ms = (time.perf_counter() - t0) * 1000

    async def _read_frames(self, reader: asyncio.StreamReader) -> None:
        while True:
            body = await ipc.read_frame_async(reader)
            if body is None:
                break
            msg = ipc.decode_from_worker(body)
            if isinstance(msg, ipc.Ready):
                if self._ready and not self._ready.done():
                    self._ready.set_result(msg)
            elif isinstance(msg, ipc.At):
                p = self.pending.get(msg.id)
                if p is not None:
                    p.last_line = msg.line
            elif isinstance(msg, ipc.Progress):
                p = self.pending.get(msg.id)
                if p is not None and p.on_progress:
                    p.on_progress(msg)
            elif isinstance(msg, ipc.QueryProgress):
                p = self.pending.get(msg.id)
                if p is not None and p.on_progress:
                    p.on_progress(msg.message, msg.fraction)
            elif isinstance(msg, ipc.QueryPartial):
                p = self.pending.get(msg.id)
                if p is not None and p.on_partial:
                    try:
                        p.on_partial(msg.result)
                    except Exception:  # a listener's bug must not stop the reading of frames
                        log.exception("partial result listener failed")
            elif isinstance(msg, (ipc.RunDone, ipc.QueryDone)):
                p = self.pending.pop(msg.id, None)
                if p is not None and not p.future.done():
                    p.future.set_result(msg)
            elif isinstance(msg, ipc.Dying):
                self.dying = msg
        # The channel is gone (the worker exited, or the script closed the descriptor):
        # a worker we cannot talk to is of no use.
        if self.proc is not None and self.proc.returncode is None:
            await asyncio.sleep(0.2)  # an exiting worker: let its exit status be the reason
            if self.proc.returncode is None:
                self.channel_lost = True
                process_tree.kill_tree(self.proc.pid)

    async def _read_stderr(self, reader: asyncio.StreamReader, transport) -> None:
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                self.stderr_tail += chunk
                del self.stderr_tail[:-65536]
                log.debug("worker: %s", chunk.decode(errors="replace").rstrip())
        finally:
            transport.close()

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self.exit_code = code
        process_tree.kill_group(proc.pid)  # whatever of its group is left
        if self.dying is None and code < 0:
            await asyncio.sleep(0.1)  # a crash report (faulthandler) may still be in the pipe
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        reason = self._exit_reason(code)
        for p in list(self.pending.values()):
            if not p.future.done():
                p.future.set_exception(WorkerGone(reason, self._crash_location(p.last_line)))
        self.pending.clear()
        if self._ready and not self._ready.done():
            self._ready.set_exception(WorkerGone(reason + self._stderr_excerpt()))
        self._exited.set()

    def _exit_reason(self, code: int) -> str:
        if self.dying is not None:
            return self.dying.reason
        if self.channel_lost or code == CHANNEL_CLOSED:
            return "the worker lost its connection to the server (the script closed its descriptor)"
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

    def _crash_location(self, op_line: int | None = None) -> tuple[str, int, int | None] | None:
        if self.dying is not None and self.dying.path and self.dying.line is not None:
            return (self.dying.path, self.dying.line, self.dying.character)
        return crash_location(self.stderr_tail.decode(errors="replace"), self.running_path, op_line)

    async def request(self, msg, timeout: float, on_progress=None, on_partial=None) -> Any:
        if not self.alive:
            await self.start()
        assert self._writer is not None
        self.last_used = time.monotonic()
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_retrieve)  # nobody may be left to read a failure
        pending = self.pending[msg.id] = _Pending(fut, on_progress, on_partial=on_partial)
        try:
            self._writer.write(ipc.frame(msg))
            await self._writer.drain()
        except (ConnectionError, RuntimeError):
            pass  # the worker is going: its exit fails the future
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            where = await self._dump_and_kill(pending.last_line)
            raise WorkerGone(f"ran longer than {timeout:g} s", where) from None
        except asyncio.CancelledError:
            self.cancel(msg.id)
            raise
        finally:
            self.last_used = time.monotonic()

    def cancel(self, request_id: int) -> None:
        if self.alive and self._writer is not None:
            try:
                self._writer.write(ipc.frame(ipc.Cancel(request_id)))
            except (ConnectionError, RuntimeError):
                pass

    async def _dump_and_kill(self, op_line: int | None):
        # faulthandler prints the stack on SIGUSR1: that says where the script was stuck.
        if self.alive and self.proc:
            try:
                self.proc.send_signal(signal.SIGUSR1)
                await asyncio.sleep(0.3)
            except ProcessLookupError:
                pass
        where = crash_location(self.stderr_tail.decode(errors="replace"), self.running_path, op_line)
        await self.kill()
        return where

    async def kill(self) -> None:
        """Kill the worker's process tree; waits for the worker's exit, never for pipes."""
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            process_tree.kill_tree(proc.pid)
        else:
            process_tree.kill_group(proc.pid)
        if self._tasks:
            try:
                await asyncio.wait_for(self._exited.wait(), 10)
            except asyncio.TimeoutError:
                log.error("worker %d did not exit after SIGKILL", proc.pid)
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for p in self.pending.values():
            if not p.future.done():
                p.future.set_exception(WorkerGone("the worker was stopped"))
        self.pending.clear()

    async def shutdown(self) -> None:
        # What the worker started must not outlive it even when it exits on its own: its
        # children are then re-parented away from it, out of reach of kill_tree.
        started = process_tree.descendants(self.proc.pid) if self.alive and self.proc else set()
        if self.alive and self._writer is not None:
            try:
                self._writer.write(ipc.frame(ipc.Shutdown()))
                await self._writer.drain()
                await asyncio.wait_for(self._exited.wait(), 2)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                pass
        await self.kill()
        process_tree.kill_pids(started)


def _retrieve(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


_FH_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def crash_location(text: str, script: str | None, op_line: int | None = None) -> tuple[str, int, int | None] | None:
    """Where the script was when the worker was stopped: the innermost frame in `script` of
    the last faulthandler dump, or, when the dump does not reach the script (faulthandler
    shows 100 frames; Exo's passes recurse deeper), the line of the op in progress."""
    if script is None:
        return None
    dumps = text.rsplit("most recent call first", 1)
    if len(dumps) == 2:
        for m in _FH_LINE.finditer(dumps[1]):
            if os.path.abspath(m["file"]) == script:
                return (script, int(m["line"]) - 1, None)
    if op_line is not None:
        return (script, op_line, None)
    return None
