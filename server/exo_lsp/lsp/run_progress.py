"""A long run, shown while it goes: ``$/progress`` (step k of the previous run's count) and,
each time the worker sends the steps so far, a refresh of what the client shows from them
(inlay hints, semantic tokens, lenses, views): hovers and hints of the first steps arrive
seconds into a 40 s schedule instead of after it."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid

from lsprotocol import types as lsp

from exo_lsp_protocol import messages as m

from ..shared import framing as ipc
from .features.show import client_can

log = logging.getLogger("exo_lsp.run_progress")


class RunProgress:
    def __init__(self, ls, uri: str) -> None:
        self.ls = ls
        self.uri = uri
        self.token = str(uuid.uuid4())
        self.started = False
        self.ended = False
        self._start: asyncio.Task | None = None
        if client_can(ls, "window", "work_done_progress"):
            # the run starts at once; the token is agreed on meanwhile
            self._start = asyncio.get_running_loop().create_task(self._begin())

    async def _begin(self) -> None:
        try:
            await self.ls.work_done_progress.create_async(self.token)
            if self.ended:
                return
            name = os.path.basename(self.uri)
            self.ls.work_done_progress.begin(self.token, lsp.WorkDoneProgressBegin(title=f"Exo: running {name}", percentage=0))
            self.started = True
        except Exception:  # the client refused the token: run without progress
            self.started = False

    def __call__(self, msg: ipc.Progress) -> None:
        if self.started and not self.ended:
            text = f"step {msg.done} of {msg.expected}" if msg.expected else f"step {msg.done}"
            pct = min(99, int(100 * msg.done / msg.expected)) if msg.expected else None
            self.ls.work_done_progress.report(self.token, lsp.WorkDoneProgressReport(message=text, percentage=pct))
        if msg.trace is not None:
            for listener in self.ls.run_listeners:  # hints, tokens, lenses of the steps so far
                try:
                    listener(self.ls, self.uri, msg.trace)
                except Exception:
                    log.exception("run listener failed")
            self.ls.view_version += 1
            self.ls.notify(m.ViewsChangedParams(script_uri=self.uri), "exo/viewsChanged")

    def end(self) -> None:
        self.ended = True
        if self.started:
            self.ls.work_done_progress.end(self.token, lsp.WorkDoneProgressEnd(message="done"))
