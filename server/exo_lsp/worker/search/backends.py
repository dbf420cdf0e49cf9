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
from concurrent.futures import ProcessPoolExecutor

from .rollout import Task, run_batch, session_for
from .session import Spec


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


class Serial:
    name = "serial"

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        session_for(spec)

    def run(self, tasks: list[Task]):
        return run_batch(self.spec, tasks)

    def close(self) -> None:
        pass


class Pool:
    name = "pool"

    def __init__(self, spec: Spec, workers: int) -> None:
        self.spec = spec
        self.workers = workers
        session_for(spec)  # built once here; forked workers start with it
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self.ex = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint)

    def submit(self, tasks: list[Task]):
        # two batches per worker: a slow batch does not leave the others idle for long
        return [self.ex.submit(run_batch, self.spec, c) for c in _chunks(tasks, 2 * self.workers)]

    def collect(self, futs) -> list:
        return [r for f in futs for r in f.result()]

    def run(self, tasks: list[Task]):
        return self.collect(self.submit(tasks))

    def close(self) -> None:
        # batches still running are not wanted any more (Ctrl-C, a time limit): end them
        # now rather than let the interpreter wait for them at exit
        procs = list(getattr(self.ex, "_processes", {}).values())
        self.ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()


class Ray:
    name = "ray"

    def __init__(self, spec: Spec, workers: int, address: str | None) -> None:
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


def make_backend(spec: Spec, workers: int = 0, ray: str | None | bool = False):
    if ray is not False and ray is not None:
        return Ray(spec, workers or os.cpu_count() or 1, ray if isinstance(ray, str) and ray else None)
    if workers == 1:
        return Serial(spec)
    return Pool(spec, workers or os.cpu_count() or 1)
