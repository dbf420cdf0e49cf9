"""Schedule searches started from the editor ("Suggest Schedule"), one per script.

A search runs in a worker process of its own (``WorkerClient``: the same process group,
limits and channel as the worker that traces the script, which stays free, so typing is
never slowed). That worker is kept while the script is open, so the evaluation cache of
one search serves the next one, also after an edit (``worker/queries/search.py`` carries
evaluations over by proc hash); it is stopped when the script is closed.

Results belong to the script version they were searched on: an edit at or above the
step's statement makes them stale (and stops the search); an edit below it re-versions
them. Clients hear of them as ``exo/suggestions`` notifications and ``$/progress``;
editors without our view get a Markdown file kept current (``suggest_text.markdown``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import pathlib
import uuid

import msgspec
from lsprotocol import types as lsp

from exo_lsp_protocol import messages as m

from ..shared import framing as ipc
from ..shared.contract import RankedAction, SearchParams, SearchResult
from ..shared.positions import col_len
from .features.actions import Insertion, eligible_vars, script_info, workspace_edit
from .features.show import client_can, show_document
from .suggest_text import markdown, rename_var, schedule_lines, step_lines
from .view_files import cache_root
from .worker_client import WorkerClient, WorkerGone

log = logging.getLogger("exo_lsp.suggest")

KILL_AFTER_CANCEL_S = 20.0  # a search that does not stop by itself within this is killed
_result_decoder = msgspec.msgpack.Decoder(SearchResult)


@dataclasses.dataclass(eq=False)
class Job:
    uri: str
    path: str
    version: int | None
    step: int
    line: int  # the step's call line
    proc: str
    var: str  # the variable the step assigns
    fresh_var: str | None  # where a whole schedule goes when later steps continue from this one
    insertion: Insertion
    prefix: list[str]  # the script's lines up to the insertion: an edit there invalidates
    text: str
    args: m.SuggestArgs
    state: str = "running"
    result: SearchResult | None = None
    message: str = ""
    task: asyncio.Task | None = None
    worker: WorkerClient | None = None
    request_id: int | None = None
    token: str | None = None
    progress_started: bool = False
    file: pathlib.Path | None = None


class Suggestions:
    def __init__(self, ls) -> None:
        self.ls = ls
        self.jobs: dict[str, Job] = {}
        self.workers: dict[str, WorkerClient] = {}
        self._background_tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ start

    async def start(self, args: m.SuggestArgs) -> m.SuggestResult:
        from .server import uri_to_path

        ls, uri = self.ls, args.uri
        fail = lambda why: m.SuggestResult(started=False, uri=uri, error=why)  # noqa: E731
        if ls.script_text(uri) is None:
            return fail("the script is not open")
        if not ls.trusted or not ls.may_run(uri):
            return fail("the folder is not trusted: scripts are not run")
        trace = await ls.ensure_trace(uri)
        got = ls.script_text(uri)
        if trace is None or got is None or trace.version != got[1]:
            return fail("the script has not run at its current version")
        text, version = got
        step = _pick_step(trace, args)
        if step is None:
            return fail("no scheduling step that ran at or above that line" if args.step is None
                        else f"step {args.step} does not exist or did not run")
        info = script_info(uri, text, version)
        eligible = eligible_vars(trace, info)
        if str(step.index) not in eligible:
            return fail(f"the step on line {step.line + 1} is not written as `var = op(...)` outside a loop, "
                        "so nothing can be inserted after it")
        var, ins = eligible[str(step.index)]
        continued = any(s.parent is None and s.index > step.index and s.proc_in == step.proc_out for s in trace.steps)
        self.cancel(uri)
        from .features.views import _out_name

        job = Job(uri, uri_to_path(uri), version, step.index, step.line, _out_name(trace, step) or step.proc_name, var,
                  _fresh_name(text, f"{var}_searched") if continued else None, ins,
                  text.splitlines()[: ins.line], text, args)
        self.jobs[uri] = job
        if not ls.options.virtual_documents:
            job.file = self._file_for(job)
            self._write(job)
        self.notify(job)
        await self._begin_progress(job)
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        if job.file is not None:
            await show_document(ls, job.file.as_uri())
        return m.SuggestResult(started=True, uri=uri, version=version, step=step.index, line=step.line,
                               file=job.file.as_uri() if job.file else None)

    async def _run(self, job: Job) -> None:
        settings = self.ls.engine.settings
        params = SearchParams(text=job.text, step=job.step, budget=max(1, job.args.budget), seed=job.args.seed,
                              time_limit=job.args.time_limit)
        try:
            w = self.workers.get(job.uri)
            if w is None or not w.alive:
                w = self.workers[job.uri] = WorkerClient(settings)
                await w.start()
            if job.state != "running":
                return
            msg = ipc.Query(next(w.ids), job.path, params)
            job.worker, job.request_id = w, msg.id

            def partial(raw) -> None:
                self._update(job, _result_decoder.decode(raw))

            # the search's own limit, plus running the script once and simulating the last tasks
            timeout = job.args.time_limit + settings.timeout_s + 120
            done = await w.request(msg, timeout, on_partial=partial)
            if done.error:
                job.message = done.error.split("\n")[0]
                if job.state == "running":
                    job.state = "failed"
            else:
                self._update(job, _result_decoder.decode(done.result))
                if job.state == "running":
                    job.state = "cancelled" if job.result and job.result.stopped == "interrupted" else "done"
        except WorkerGone as gone:
            if job.state == "running":
                w = self.workers.get(job.uri)
                tail = w.stderr_tail.decode(errors="replace").strip().splitlines()[-1:] if w is not None else []
                job.state, job.message = "failed", gone.reason + (f" ({tail[0]})" if tail else "")
            self.workers.pop(job.uri, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let a search take the server down
            log.exception("search failed")
            if job.state == "running":
                job.state, job.message = "failed", str(exc)
        finally:
            job.worker = job.request_id = None
            self._end_progress(job)
            self.notify(job)

    # ------------------------------------------------------------------ updates

    def _update(self, job: Job, result: SearchResult) -> None:
        job.result = result
        if job.progress_started and job.state == "running":
            best = best_action(result)
            text = f"{result.evaluations}/{job.args.budget} evaluations"
            if best is not None:
                text += f", best {best.cycles:,} cycles ({best.speedup:.1f}x)"
            pct = min(99, int(100 * result.evaluations / max(1, job.args.budget)))
            self.ls.work_done_progress.report(job.token, lsp.WorkDoneProgressReport(message=text, percentage=pct))
        self.notify(job)

    def params(self, job: Job) -> m.SuggestionsParams:
        r = job.result or SearchResult()
        indent = job.insertion.indent
        steps = [
            m.SuggestedStep(rank=i, label=a.label, calls=a.calls, text=step_lines(a.calls, job.var, indent),
                            cycles=a.cycles, speedup=a.speedup, correct=a.cycles is not None,
                            evaluations=a.evaluations, schedule=a.schedule, labels=a.labels)
            for i, a in enumerate(r.actions)
        ]
        schedules = [
            m.SuggestedSchedule(rank=i, labels=s.labels, calls=s.calls, cycles=s.cycles, speedup=s.speedup,
                                text=schedule_lines(s, job.var, job.fresh_var, indent, job.line,
                                                    f"{r.proc}_searched" if r.rename_in_scope and r.proc else None))
            for i, s in enumerate(r.schedules)
        ]
        return m.SuggestionsParams(
            uri=job.uri, version=job.version, step=job.step, line=job.line, proc=r.proc or job.proc, state=job.state,
            evaluations=r.evaluations, budget=job.args.budget, cached=r.cached, seconds=r.seconds,
            start_cycles=r.start_cycles, start_speedup=r.start_speedup, steps=steps, schedules=schedules,
            message=job.message, file=job.file.as_uri() if job.file else None,
        )

    def notify(self, job: Job) -> None:
        if self.jobs.get(job.uri) is not job:
            return  # a newer search of the script replaced it
        params = self.params(job)
        if job.file is not None:
            self._write(job, params)
        try:
            self.ls.notify(params, "exo/suggestions")
        except Exception:  # the client went away
            pass

    # ------------------------------------------------------------------ progress

    async def _begin_progress(self, job: Job) -> None:
        if not client_can(self.ls, "window", "work_done_progress"):
            return
        token = str(uuid.uuid4())
        progress = self.ls.work_done_progress
        try:
            await progress.create_async(token)
        except Exception:  # the client refused the token: search without progress
            return
        job.token = token
        name = os.path.basename(job.path)
        progress.begin(token, lsp.WorkDoneProgressBegin(
            title=f"Exo: suggesting schedules for {name} (line {job.line + 1})", cancellable=True,
            message=f"0/{job.args.budget} evaluations", percentage=0))
        job.progress_started = True
        cancel = progress.tokens.get(token)
        if cancel is not None:  # window/workDoneProgress/cancel cancels this future (pygls)
            cancel.add_done_callback(lambda f, j=job: f.cancelled() and self._cancel_job(j, "cancelled"))

    def _end_progress(self, job: Job) -> None:
        if job.progress_started:
            job.progress_started = False
            best = best_action(job.result)
            text = job.state + (f": best {best.cycles:,} cycles ({best.speedup:.1f}x)" if best else "")
            self.ls.work_done_progress.end(job.token, lsp.WorkDoneProgressEnd(message=text))

    # ------------------------------------------------------------------ stopping

    def cancel(self, uri: str, state: str = "cancelled") -> bool:
        job = self.jobs.get(uri)
        return job is not None and self._cancel_job(job, state)

    def _cancel_job(self, job: Job, state: str) -> bool:
        """Stop the job's search (it ends between two tasks with what it has)."""
        if job.state != "running":
            return False
        job.state = state
        w, rid = job.worker, job.request_id
        if w is not None and rid is not None:
            w.cancel(rid)
            self._in_background(self._kill_if_stuck(job, w))
        elif job.task is not None and not job.task.done():
            job.task.cancel()  # still starting its worker
        self._end_progress(job)
        self.notify(job)
        return True

    async def _kill_if_stuck(self, job: Job, w: WorkerClient) -> None:
        task = job.task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), KILL_AFTER_CANCEL_S)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            if self.workers.get(job.uri) is w:
                del self.workers[job.uri]
            await w.kill()

    def changed(self, uri: str) -> None:
        """The script was edited: results stay if the text up to the step's statement did."""
        job = self.jobs.get(uri)
        got = self.ls.script_text(uri)
        if job is None or got is None or job.state == "stale":
            return
        text, version = got
        if text.splitlines()[: len(job.prefix)] == job.prefix:
            job.version = version
            self.notify(job)
            return
        job.message = f"the script changed at or above line {job.line + 1} after this search started"
        if not self._cancel_job(job, "stale"):
            job.state = "stale"
            self.notify(job)

    def closed(self, uri: str) -> None:
        self.cancel(uri)
        self.jobs.pop(uri, None)
        w = self.workers.pop(uri, None)
        if w is not None:
            self._in_background(w.shutdown())

    def _in_background(self, coro) -> None:
        # the loop keeps only weak references to tasks: hold them until they end
        task = asyncio.get_running_loop().create_task(coro)
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)

    async def shutdown(self) -> None:
        for uri in list(self.jobs):
            self.cancel(uri)
        workers = list(self.workers.values())
        self.workers.clear()
        await asyncio.gather(*(w.kill() for w in workers), return_exceptions=True)

    # ------------------------------------------------------------------ results

    def estimate(self, uri: str, version, step: int | None, call: str) -> tuple[int, float | None] | None:
        """(cycles, speedup) of the best schedule found that starts with `call`: a ranked step
        that is `call`, or a recipe or whole schedule whose first call it is."""
        job = self.jobs.get(uri)
        if job is None or job.version != version or job.step != step or job.result is None or job.state == "stale":
            return None
        mine = rename_var(call, job.var, "p")
        found = [(x.cycles, x.speedup) for x in (*job.result.actions, *job.result.schedules)
                 if x.cycles is not None and x.calls and x.calls[0] == mine]
        return min(found, key=lambda f: f[0]) if found else None

    async def insert(self, args: m.SuggestInsertArgs) -> m.SuggestInsertResult:
        job = self.jobs.get(args.uri)
        got = self.ls.script_text(args.uri)
        if job is None or job.result is None or got is None:
            return m.SuggestInsertResult(applied=False, error="no suggestions for this script: run exo.suggestSchedule")
        if job.state == "stale":
            return m.SuggestInsertResult(applied=False, error="the suggestions are stale: the script changed above their step")
        params = self.params(job)
        items = params.steps if args.what == "step" else params.schedules
        if not 0 <= args.index < len(items):
            return m.SuggestInsertResult(applied=False, error=f"no suggested {args.what} #{args.index}")
        text, version = got
        if text.splitlines()[: len(job.prefix)] != job.prefix:
            return m.SuggestInsertResult(applied=False, error="the script changed above the step")
        new_text = items[args.index].text
        ins = job.insertion
        lines = text.splitlines()
        if ins.line >= len(lines) and not text.endswith("\n"):
            pos = lsp.Position(line=max(0, len(lines) - 1), character=col_len(lines[-1]) if lines else 0)
            insert, at = "\n" + new_text.rstrip("\n"), len(lines)
        else:
            pos = lsp.Position(line=ins.line, character=0)
            insert, at = new_text, ins.line
        edit = lsp.TextEdit(range=lsp.Range(start=pos, end=pos), new_text=insert)
        what = "next step" if args.what == "step" else "schedule"
        try:
            answer = await self.ls.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(
                edit=workspace_edit(self.ls, args.uri, version, [edit]), label=f"Exo: insert the suggested {what}"))
            applied = bool(answer and answer.applied)
        except Exception as exc:
            return m.SuggestInsertResult(applied=False, version=version, line=at, text=insert, error=str(exc))
        return m.SuggestInsertResult(applied=applied, version=version, line=at, text=insert,
                                     error=None if applied else (getattr(answer, "failure_reason", None) or "not applied"))

    # ------------------------------------------------------------------ the Markdown file

    def _file_for(self, job: Job) -> pathlib.Path:
        digest = hashlib.sha1(job.path.encode()).hexdigest()[:10]
        return cache_root() / "suggestions" / f"{pathlib.Path(job.path).stem}-{digest}.md"

    def _write(self, job: Job, params: m.SuggestionsParams | None = None) -> None:
        file = job.file
        if file is None:
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        tmp.write_text(markdown(params or self.params(job), os.path.basename(job.path)), encoding="utf-8")
        os.replace(tmp, file)


def best_action(result: SearchResult | None) -> RankedAction | None:
    """The first ranked next step, if a correct schedule was found through it (the ranking
    puts those first)."""
    if result is None or not result.actions or not result.actions[0].cycles:
        return None
    return result.actions[0]


def _pick_step(trace, args: m.SuggestArgs):
    """The step a search starts after: `args.step`, or the last top-level step that ran
    whose call is on or above `args.line`."""
    ran = [s for s in trace.steps if s.parent is None and s.ok and s.proc_out is not None]
    if args.step is not None:
        return next((s for s in ran if s.index == args.step), None)
    line = args.line if args.line is not None else 10**9
    on = [s for s in ran if s.range.start.line <= line <= s.range.end.line]
    if on:
        return on[-1]
    above = [s for s in ran if s.range.end.line <= line]
    return max(above, key=lambda s: (s.range.end.line, s.index)) if above else None


def _fresh_name(text: str, base: str) -> str:
    import re

    name, k = base, 2
    while re.search(rf"\b{re.escape(name)}\b", text):
        name, k = f"{base}{k}", k + 1
    return name

