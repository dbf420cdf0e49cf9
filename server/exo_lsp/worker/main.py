"""The worker process: runs schedule scripts, keeps procs, answers questions about them.

Started by the server as ``python -m exo_lsp.worker``. Frames travel over stdin and a
private copy of stdout; the real fd 1 is pointed at stderr so that whatever the script or
a C library prints cannot corrupt the stream.
"""

from __future__ import annotations

import faulthandler
import os
import queue
import resource
import signal
import sys
import threading
import time
import traceback

import msgspec

from ..shared import framing as ipc
from ..shared.positions import use_encoding
from . import queries
from .progress import Alarm, RunReporter, drain_queries
from .queries import HANDLERS, load_handlers

class Worker:
    def __init__(self, out_fd: int):
        self.out = os.fdopen(out_fd, "wb", buffering=0)
        self.lock = threading.Lock()
        self.inbox: queue.Queue = queue.Queue()
        self.cancelled: set[int] = set()
        self.current_path: str | None = None
        self.deferred: list = []  # messages taken out of the inbox mid-run (progress.drain_queries)

    def send(self, msg) -> None:
        data = ipc.frame(msg)
        with self.lock:
            self.out.write(data)

    def read_loop(self) -> None:
        stdin = sys.stdin.buffer
        while True:
            body = ipc.read_frame_sync(stdin)
            if body is None:
                self.inbox.put(ipc.Shutdown())
                return
            msg = ipc.decode_to_worker(body)
            if isinstance(msg, ipc.Cancel):
                self.cancelled.add(msg.id)
            else:
                self.inbox.put(msg)

    def serve(self) -> None:
        t0 = time.perf_counter()
        from .tracer import RunCancelled, Tracer

        tracer = Tracer()
        _preimport()
        load_handlers()
        self.send(ipc.Ready(os.getpid(), "1.0.0", (time.perf_counter() - t0) * 1000))
        threading.Thread(target=self.read_loop, daemon=True).start()
        while True:
            msg = self.deferred.pop(0) if self.deferred else self.inbox.get()
            if isinstance(msg, ipc.Shutdown):
                return
            if isinstance(msg, ipc.RunScript):
                if msg.id in self.cancelled:
                    self.send(ipc.RunDone(msg.id, None, cancelled=True))
                    continue
                self.current_path = msg.path
                use_encoding(msg.encoding)
                reporter = RunReporter(self, tracer, msg, lambda q: self.answer(q, tracer))
                try:
                    with Alarm(tracer, msg.timeout_s):
                        state = tracer.run(
                            msg.path,
                            msg.source,
                            msg.version,
                            on_progress=reporter.step_done,
                            on_inner_step=reporter.inner_step_done,
                            cancelled=lambda i=msg.id: i in self.cancelled,
                            use_memo=msg.use_memo,
                        )
                    self.send(ipc.RunDone(msg.id, state.trace))
                except RunCancelled:
                    self.send(ipc.RunDone(msg.id, None, cancelled=True))
                except Exception:  # a bug of ours: report it as the run's problem, keep serving
                    self.send(ipc.RunDone(msg.id, _internal_error_trace(msg, traceback.format_exc())))
                finally:
                    self.current_path = None
                    self.cancelled.discard(msg.id)
            elif isinstance(msg, ipc.Query):
                self.answer(msg, tracer)

    def take_queries(self) -> list:
        return drain_queries(self.inbox, self.deferred)

    def answer(self, msg: ipc.Query, tracer) -> None:
        handler = HANDLERS[type(msg.params)]  # the contract decoded it: every type has one
        queries._progress = lambda text, frac, i=msg.id: self.send(ipc.QueryProgress(i, text, frac))
        try:
            result = handler(tracer, msg.path, msg.params)
            self.send(ipc.QueryDone(msg.id, msgspec.Raw(ipc.encode(result))))
        except Exception as exc:  # a bad question must not end the worker
            self.send(ipc.QueryDone(msg.id, error=f"{type(exc).__name__}: {exc}"))
        except BaseException:  # the run's limit passed while answering mid-run: still answer
            self.send(ipc.QueryDone(msg.id, error="the run was stopped"))
            raise
        finally:
            queries._progress = None

    def guard_exit(self) -> None:
        """Say where the script called os._exit before the process goes."""
        real_exit = os._exit

        def _exit(code=0):
            frame = sys._getframe(1)
            path = self.current_path
            while frame is not None and frame.f_code.co_filename != path:
                frame = frame.f_back
            line = character = None
            if frame is not None:
                line = frame.f_lineno - 1
                try:
                    pos = list(frame.f_code.co_positions())[frame.f_lasti // 2]
                    character = pos[2]
                except (IndexError, TypeError):
                    character = None
            try:
                self.send(ipc.Dying(f"the script called os._exit({code})", path, line, character))
            finally:
                real_exit(code)

        os._exit = _exit


def _internal_error_trace(msg, tb: str):
    from ..shared.trace import Position, Problem, Range, Trace

    where = Range(Position(0, 0), Position(0, 0))
    last = tb.strip().splitlines()[-1]
    problem = Problem(msg.path, where, "error", f"exo-lsp internal error: {last}", "internal-error")
    print(tb, file=sys.stderr)
    return Trace(msg.path, msg.version, False, [], [], [], [problem], "", 0.0)


def _preimport() -> None:
    # What nearly every schedule imports; paid once per worker, not once per run.
    import exo.stdlib.scheduling  # noqa: F401
    import exo.libs.memories  # noqa: F401

    try:
        import exo_lsp.rvm  # noqa: F401
    except Exception:
        traceback.print_exc()


def _limit_memory() -> None:
    mb = int(os.environ.get("EXO_LSP_WORKER_MEMORY_MB", "8192"))
    if mb > 0:
        limit = mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    faulthandler.enable(file=sys.stderr, all_threads=False)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=False)
    _limit_memory()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    worker = Worker(out_fd)
    worker.guard_exit()
    worker.serve()


if __name__ == "__main__":
    main()
