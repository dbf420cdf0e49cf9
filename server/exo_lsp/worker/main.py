"""The worker process: runs schedule scripts, keeps procs, answers questions about them.

Started by the server as ``python -m exo_lsp.worker``, one per open script, in its own
session. Frames travel over a socket the server passed at a high descriptor number
(``EXO_LSP_IPC_FD``, close-on-exec, so the script's children do not inherit it); stdin is
/dev/null and stdout goes to stderr, so a script that prints, reads or closes fds 0-2
cannot touch the stream. After each run the worker reports what the run left behind
(``leftovers.py``); the server then replaces it.
"""

from __future__ import annotations

import errno
import faulthandler
import gc
import os
import queue
import signal
import sys
import threading
import time
import traceback

import msgspec

from ..shared import framing as ipc
from ..shared.positions import use_encoding
from . import limits, queries
from .leftovers import Baseline
from .progress import Alarm, RunReporter, drain_queries, start_limiter
from .queries import HANDLERS, load_handlers


CHANNEL_CLOSED = 75  # exit status: the script closed the channel's descriptor


class _Channel:
    """Blocking reads and writes on the IPC descriptor. If the script closed it, the worker
    is of no use: it exits at once with CHANNEL_CLOSED, which the server reports."""

    def __init__(self, fd: int):
        self.fd = fd
        self.exit = os._exit  # (the real one: guard_exit replaces os._exit)

    def read(self, n: int) -> bytes:
        try:
            return os.read(self.fd, n)
        except OSError as exc:
            if exc.errno == errno.EBADF:
                self.exit(CHANNEL_CLOSED)
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:
            if exc.errno == errno.EBADF:
                self.exit(CHANNEL_CLOSED)
            raise


class Worker:
    def __init__(self, fd: int):
        self.out = _Channel(fd)
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
        while True:
            body = ipc.read_frame_sync(self.out)
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
        reader = threading.Thread(target=self.read_loop, daemon=True, name="exo-lsp-reader")
        reader.start()
        start_limiter()  # its thread belongs to the baseline, not to any run
        baseline = Baseline()
        self.send(ipc.Ready(os.getpid(), "1.0.0", (time.perf_counter() - t0) * 1000))
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
                            on_op_start=lambda line, i=msg.id: self.send(ipc.At(i, line)),
                        )
                    self.send(ipc.RunDone(msg.id, state.trace, leftovers=baseline.leftovers()))
                except RunCancelled:
                    self.send(ipc.RunDone(msg.id, None, cancelled=True, leftovers=baseline.leftovers()))
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
        queries._partial = lambda r, i=msg.id: self.send(ipc.QueryPartial(i, msgspec.Raw(ipc.encode(r))))
        queries._cancelled = lambda i=msg.id: i in self.cancelled
        try:
            result = handler(tracer, msg.path, msg.params)
            self.send(ipc.QueryDone(msg.id, msgspec.Raw(ipc.encode(result))))
        except Exception as exc:  # a bad question must not end the worker
            self.send(ipc.QueryDone(msg.id, error=f"{type(exc).__name__}: {exc}"))
        except BaseException:  # the run's limit passed while answering mid-run: still answer
            self.send(ipc.QueryDone(msg.id, error="the run was stopped"))
            raise
        finally:
            queries._progress = queries._partial = None
            queries._cancelled = lambda: False
            self.cancelled.discard(msg.id)

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
        self.real_exit = real_exit


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


def main() -> None:
    fd = int(os.environ.pop("EXO_LSP_IPC_FD"))
    os.set_inheritable(fd, False)  # the script's children must not hold the channel open
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    faulthandler.enable(file=sys.stderr, all_threads=False)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=False)
    limits.apply_from_env()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    # Exo allocates millions of small IR objects, and the worker keeps far more alive than
    # a plain run (the memo's procs, every step's arguments): at Python's default of a
    # young collection every 700 allocations, the cyclic GC took a fifth of a cold run of
    # many failed steps (3.1 of 15 s) and a ninth of gemmini matmul's (4.3 of 38 s);
    # every 10000 it takes a quarter of that (nothing else changes: only when cyclic
    # garbage is freed)
    gc.set_threshold(10000, 10, 10)
    worker = Worker(fd)
    worker.guard_exit()
    worker.serve()
    # End here: finalizing the interpreter with the reader thread blocked in read() (and
    # whatever the scripts left) can abort; there is nothing left to flush but stderr.
    sys.stderr.flush()
    worker.real_exit(0)


if __name__ == "__main__":
    main()
