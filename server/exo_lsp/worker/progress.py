"""What a long run shows before it ends: partial traces, questions answered mid-run, and
the time limit enforced inside the worker.

A 40 s schedule used to show nothing until it finished (or nothing at all when it hit the
limit, since the worker was killed, and its memo with it). Now, between top-level steps,
the worker sends the steps so far about once a second, answers the queries that arrived
meanwhile (hovers on the steps already shown), and stops the script with RunTimeout when
the limit passes: the run ends normally with every finished step and a problem where it
stopped, and the memo survives, so the next run resumes from it.
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from typing import Any, Callable

from ..shared import framing as ipc

SEND_EVERY_S = 1.0


class RunReporter:
    def __init__(self, worker, tracer, msg: ipc.RunScript, handle_query: Callable[[Any], None]) -> None:
        self.worker = worker
        self.tracer = tracer
        self.msg = msg
        self.handle_query = handle_query
        self.t0 = time.perf_counter()
        self.last_sent = self.t0 - SEND_EVERY_S + 0.2  # the first steps go out quickly
        self.done = 0
        self.steps_sent = 0  # the server has the steps before this index, and these lookups
        self.lookups_sent = 0
        prev = tracer.runs.get(msg.path)
        self.expected = len(prev.trace.top_level_steps()) if prev is not None else 0

    def step_done(self, line: int) -> None:
        self.done += 1
        if time.perf_counter() - self.last_sent < SEND_EVERY_S:
            self.worker.send(ipc.Progress(self.msg.id, line, None, self.done, self.expected))
            return
        self._send_partial(line)

    def inner_step_done(self, line: int) -> None:
        """A step inside a helper call ended: only a partial trace, when one is due."""
        if time.perf_counter() - self.last_sent >= SEND_EVERY_S:
            self._send_partial(line)

    def _send_partial(self, line: int) -> None:
        run = self.tracer.current
        if run is None:
            return
        # only what the server does not have yet (Trace.steps_from): a long run's frames
        # stay small instead of growing with every step
        new = run.partial_state(self.steps_sent, self.lookups_sent).trace
        self.worker.send(ipc.Progress(self.msg.id, line, new, self.done, self.expected))
        if new.steps:
            self.steps_sent = max(self.steps_sent, new.steps[-1].index + 1)
        self.lookups_sent += len(new.lookups)
        self.last_sent = time.perf_counter()
        self._answer_waiting_queries(run)

    def _answer_waiting_queries(self, run) -> None:
        """Queries that arrived during the run, answered from the steps so far (the server
        sends them without waiting for the run when it has a partial trace to show)."""
        from .exo import hooks

        waiting = self.worker.take_queries()
        if not waiting:
            return
        state = run.partial_state()
        path = self.msg.path
        saved_run = self.tracer.runs.get(path)
        self.tracer.runs[path] = state
        observer = hooks._observer
        hooks.set_observer(None)  # a query may apply ops (fix validation): not steps of this run
        try:
            for q in waiting:
                self.handle_query(q)
        finally:
            hooks.set_observer(observer)
            if saved_run is None:
                self.tracer.runs.pop(path, None)
            else:
                self.tracer.runs[path] = saved_run


class _Limiter:
    """One thread for the life of the worker that signals the main thread (SIGUSR2) when the
    armed deadline passes, and again every second after. One thread, started before the
    worker's baseline, so that no run starts or ends a thread of ours: a thread still
    exiting after a run would read as a leftover of the script."""

    SIGNAL = signal.SIGUSR2

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.deadline: float | None = None
        self.main = threading.main_thread().ident
        threading.Thread(target=self._loop, daemon=True, name="exo-lsp-run-limit").start()

    def arm(self, seconds: float) -> None:
        with self.cond:
            self.deadline = time.monotonic() + seconds
            self.cond.notify()

    def disarm(self) -> None:
        with self.cond:
            self.deadline = None
            self.cond.notify()

    def _loop(self) -> None:
        with self.cond:
            while True:
                if self.deadline is None:
                    self.cond.wait()
                    continue
                left = self.deadline - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                # again every second: a script that swallows the first (a bare except) or
                # is inside C code at that moment is stopped at its next chance
                self.deadline = time.monotonic() + 1.0
                signal.pthread_kill(self.main, self.SIGNAL)


_limiter: _Limiter | None = None


def start_limiter() -> None:
    """Start the run-limit thread (the worker does, before taking its baseline)."""
    global _limiter
    if _limiter is None:
        _limiter = _Limiter()


class Alarm:
    """Raises RunTimeout in the main thread when the run's limit passes, but only while
    the script itself runs (not in the tracer's bookkeeping around it).

    The limiter's thread signals SIGUSR2 rather than an interval timer: SIGALRM and
    ITIMER_REAL belong to the script (``signal.alarm``), and a pending alarm it leaves is a
    leftover the worker must still see after the run."""

    def __init__(self, tracer, limit_s: float) -> None:
        self.tracer = tracer
        self.limit_s = limit_s
        self.fired = False
        self._armed = False

    def _on_alarm(self, signum, frame) -> None:
        from .tracer import RunTimeout

        run = self.tracer.current
        if run is not None and run.executing:
            self.fired = True
            raise RunTimeout(self.limit_s)

    def __enter__(self) -> "Alarm":
        if self.limit_s > 0 and threading.current_thread() is threading.main_thread():
            start_limiter()
            self._old = signal.signal(_Limiter.SIGNAL, self._on_alarm)
            _limiter.arm(self.limit_s)
            self._armed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._armed:
            _limiter.disarm()
            signal.signal(_Limiter.SIGNAL, self._old)
            self._armed = False


def drain_queries(inbox: "queue.Queue", deferred: list) -> list:
    """Take the Query messages out of `inbox`; everything else keeps its order in `deferred`."""
    out = []
    while True:
        try:
            msg = inbox.get_nowait()
        except queue.Empty:
            return out
        if isinstance(msg, ipc.Query):
            out.append(msg)
        else:
            deferred.append(msg)
