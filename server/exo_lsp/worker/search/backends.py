"""Where tasks run: in this process, a local process pool (default), or Ray.

Every backend returns results in the order of the tasks it was given, so the search's
decisions do not depend on which worker finished first. Tasks travel in batches (Ray warns
that tasks under ~10 ms see no speed-up; ours are 0.1-3 s, batches keep the overhead low
on a cluster too). Workers build their own Session from the Spec (procs do not pickle);
a forked pool inherits the one already built here.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, wait
from typing import Callable

from .rollout import Task, run_batch, run_task, session_for
from .session import Spec

POLL_S = 0.2  # how long a stop request may wait while a backend waits for results


def _chunks(tasks: list[Task], n: int) -> list[list[Task]]:
    size = max(1, -(-len(tasks) // max(1, n)))
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


def _ignore_sigint() -> None:
    """Ctrl-C reaches the whole process group: the search (in the parent) stops and keeps
    its best; workers must not die with a traceback each. A parent killed outright (SIGTERM,
    SIGKILL) runs no clean-up: the kernel ends its workers then (Linux's parent-death
    signal), or they would live on, simulating for nobody."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(signal.SIGKILL)


def _die_with_parent(sig: int) -> None:
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the signal was armed
        os._exit(1)


class _Stoppable:
    """A backend asked to stop by ``stop()`` (the CLI's Ctrl-C, an editor's cancel) raises
    KeyboardInterrupt from its own waits, which the search takes as "keep the best so far".
    The CLI's Ctrl-C only sets a flag: a KeyboardInterrupt raised at whatever bytecode the
    main thread was at could land inside the process pool's own locks (its shutdown then
    waited forever on a lock nobody would release) or inside a finaliser (printed and
    ignored, so the search went on)."""

    def __init__(self, stop: Callable[[], bool] | None) -> None:
        self.stop = stop

    def check(self) -> None:
        if self.stop is not None and self.stop():
            raise KeyboardInterrupt


class Serial(_Stoppable):
    name = "serial"

    def __init__(self, spec: Spec, stop: Callable[[], bool] | None = None) -> None:
        super().__init__(stop)
        self.spec = spec
        session_for(spec)

    def run(self, tasks: list[Task]):
        out = []
        for t in tasks:
            self.check()
            out.append(run_task(self.spec, t))
        # a compiler killed by the same Ctrl-C made the last result a failure: not counted
        self.check()
        return out

    def close(self) -> None:
        pass


class Pool(_Stoppable):
    name = "pool"

    def __init__(self, spec: Spec, workers: int, stop: Callable[[], bool] | None = None) -> None:
        super().__init__(stop)
        self.spec = spec
        self.workers = workers
        session_for(spec)  # built once here; forked workers start with it
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self.ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint)

    def submit(self, tasks: list[Task]):
        # two batches per worker: a slow batch does not leave the others idle for long
        return [self.ex.submit(run_batch, self.spec, c) for c in _chunks(tasks, 2 * self.workers)]

    def collect(self, futs) -> list:
        while True:
            self.check()
            if not wait(futs, timeout=POLL_S).not_done:
                break
        self.check()
        return [r for f in futs for r in f.result()]

    def run(self, tasks: list[Task]):
        return self.collect(self.submit(tasks))

    def close(self) -> None:
        # batches still running are not wanted any more (Ctrl-C, a time limit): end them
        # now rather than let the interpreter wait for them at exit. Then wait for the
        # pool's own thread: left running, it closed its wake-up pipe while the
        # interpreter's exit hook was writing to it (OSError at exit, Python 3.11)
        for p in list((getattr(self.ex, "_processes", None) or {}).values()):
            if p.is_alive():
                p.terminate()
        self.ex.shutdown(wait=True, cancel_futures=True)


class Ray(_Stoppable):
    name = "ray"

    def __init__(self, spec: Spec, workers: int, address: str | None, stop: Callable[[], bool] | None = None) -> None:
        super().__init__(stop)
        try:
            import ray
        except ImportError as e:
            raise RuntimeError("--ray needs Ray: pip install 'exo-lsp[ray]'") from e
        self.ray = ray
        self.spec = spec
        self.workers = workers
        if not ray.is_initialized():
            kw = dict(ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
            if address:
                ray.init(address=address, **kw)
            else:
                # local mode: our own modules must be importable in Ray's workers
                paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
                ray.init(num_cpus=workers, runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}} if paths else None, **kw)
        self._remote = ray.remote(_ray_batch)
        self._spec_ref = ray.put(spec)
        self._pending: set = set()

    def submit(self, tasks: list[Task]):
        refs = [self._remote.remote(self._spec_ref, c) for c in _chunks(tasks, 2 * self.workers)]
        self._pending.update(refs)
        return refs

    def collect(self, refs) -> list:
        while True:
            self.check()
            if not self.ray.wait(refs, num_returns=len(refs), timeout=POLL_S)[1]:
                break
        self.check()
        out = [r for batch in self.ray.get(refs) for r in batch]
        self._pending.difference_update(refs)
        return out

    def run(self, tasks: list[Task]):
        return self.collect(self.submit(tasks))

    def close(self) -> None:
        # a cluster is not ours to stop, but batches nobody will collect (a time limit,
        # Ctrl-C) should not keep its workers busy
        for ref in self._pending:
            self.ray.cancel(ref, force=True)
        self._pending.clear()


def _ray_batch(spec: Spec, tasks: list[Task]):
    return run_batch(spec, tasks)


def make_backend(spec: Spec, workers: int = 0, ray: str | None | bool = False, stop: Callable[[], bool] | None = None):
    """``stop``: polled while waiting for results; when it returns True the backend raises
    KeyboardInterrupt (the search stops and keeps its best)."""
    if ray is not False and ray is not None:
        return Ray(spec, workers or os.cpu_count() or 1, ray if isinstance(ray, str) and ray else None, stop)
    if workers == 1:
        return Serial(spec, stop)
    return Pool(spec, workers or os.cpu_count() or 1, stop)
