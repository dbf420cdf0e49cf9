"""The worker pool: one worker per open script, a spare one ready, a cap with LRU eviction.

Scripts never share an interpreter: what one leaves behind (threads, children, replaced
Exo functions, a pending alarm) cannot reach another. The pool keeps at most
``Settings.max_workers`` scripts' workers (plus one started spare, so that opening a script
does not wait for Exo's imports); beyond that the least recently used idle worker is
stopped. A closed script's worker is stopped after ``Settings.idle_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Callable

from .worker_client import Settings, WorkerClient, WorkerGone

log = logging.getLogger("exo_lsp.workers")


class WorkerPool:
    def __init__(self, settings: Settings, on_evict: Callable[[str], None] = lambda path: None):
        self.settings = settings
        self.on_evict = on_evict  # path whose worker (and so its procs) went away
        self.by_path: OrderedDict[str, WorkerClient] = OrderedDict()
        self._spare: asyncio.Task | None = None
        self._reapers: dict[str, asyncio.Task] = {}
        self._stopping: set[asyncio.Task] = set()

    def get(self, path: str) -> WorkerClient | None:
        return self.by_path.get(path)

    def workers(self) -> list[WorkerClient]:
        return list(self.by_path.values())

    async def acquire(self, path: str) -> WorkerClient:
        """The worker of `path` (a new one the first time); may evict another script's."""
        reaper = self._reapers.pop(path, None)
        if reaper is not None:
            reaper.cancel()
        w = self.by_path.get(path)
        if w is not None:
            self.by_path.move_to_end(path)
            return w
        self._make_room()
        w = await self._take_spare() or WorkerClient(self.settings)
        self.by_path[path] = w
        self.keep_spare()
        return w

    def keep_spare(self) -> None:
        if self.settings.spare and (self._spare is None or self._spare.done() and not _usable(self._spare)):
            self._spare = asyncio.get_running_loop().create_task(self._start_spare())

    async def _start_spare(self) -> WorkerClient | None:
        w = WorkerClient(self.settings)
        try:
            await w.start()
        except WorkerGone as gone:
            log.error("spare worker did not start: %s", gone.reason)
            return None
        return w

    async def _take_spare(self) -> WorkerClient | None:
        task, self._spare = self._spare, None
        if task is None:
            return None
        try:
            w = await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                self._spare = task  # our caller was cancelled, not the spare
            raise
        return w if w is not None and w.alive else None

    def _make_room(self) -> None:
        while len(self.by_path) >= max(1, self.settings.max_workers):
            idle = [p for p, w in self.by_path.items() if not w.lock.locked()]
            if not idle:
                return  # all busy: go over the cap for now
            self.retire(idle[0])

    def retire(self, path: str, worker: WorkerClient | None = None) -> None:
        """Stop the worker of `path` (its whole process tree); the next run gets a new one."""
        w = self.by_path.get(path)
        if w is None or (worker is not None and w is not worker):
            if worker is not None:
                self._stop(worker)
            return
        del self.by_path[path]
        self._stop(w)
        self.on_evict(path)

    def release(self, path: str) -> None:
        """`path` was closed: stop its worker once it has been idle for a while."""
        if path in self.by_path and path not in self._reapers:
            self._reapers[path] = asyncio.get_running_loop().create_task(self._reap(path))

    async def _reap(self, path: str) -> None:
        await asyncio.sleep(self.settings.idle_s)
        self._reapers.pop(path, None)
        w = self.by_path.get(path)
        if w is not None:
            async with w.lock:
                pass
            if self.by_path.get(path) is w and path not in self._reapers:
                self.retire(path)

    def _stop(self, w: WorkerClient) -> None:
        task = asyncio.get_running_loop().create_task(w.shutdown())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def shutdown(self) -> None:
        for t in self._reapers.values():
            t.cancel()
        self._reapers.clear()
        spare, self._spare = self._spare, None
        workers = list(self.by_path.values())
        self.by_path.clear()
        if spare is not None:
            try:
                w = await spare
            except (asyncio.CancelledError, Exception):
                w = None
            if w is not None:
                workers.append(w)
        await asyncio.gather(*(w.shutdown() for w in workers), *self._stopping, return_exceptions=True)


def _usable(task: asyncio.Task) -> bool:
    if task.cancelled() or task.exception() is not None:
        return False
    w = task.result()
    return w is not None and w.alive
