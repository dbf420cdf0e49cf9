"""Runs a schedule script inside the worker and records its trace.

Every scheduling primitive passes through the op hook (``exo/hooks.py``), which calls
back here: we find where in the script the call was written, what its arguments resolved
to, and what it produced. Primitives called by library helpers (``tile_loops``,
``replace_all``, ``auto_stage_mem``, ...) become children of a step for the helper call
in the script.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import linecache
import os
import sys
import time
import traceback
import types
import weakref
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any, Callable

import msgspec

from .exo import check_version, cursors, exprargs, hooks, library_units, ops, patterns, printing, procs, speedups
from . import callsites, lookup_memo, memo, nested, run_keys, unit_memo
from .problems import ProblemBuilder
from ..shared.positions import LineIndex, line_moves
from ..shared.trace import Argument, Location, MemoryDef, Position, ProcDef, Range, Step, Target, Trace, norm_path
from ..shared.trace import link_children as _link_children


class RunCancelled(BaseException):
    """A newer version of the document arrived; unwind the script (not an Exception,
    so the script's own ``except Exception`` cannot swallow it)."""


class RunTimeout(BaseException):
    """The run's time limit passed (the worker's alarm raises it in the main thread): stop
    the script where it is and keep every step it finished. A BaseException for the same
    reason as RunCancelled; never memoised (the step did not fail, it was stopped)."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(f"ran longer than {limit_s:g} s")
        self.limit_s = limit_s


TIMEOUT_HINT = "raise the `timeoutSeconds` initialization option to give it longer"


class ProcRegistry:
    """Stable small integer handles for procs that stay in the worker."""

    def __init__(self) -> None:
        self._by_id: dict[int, int] = {}
        self._procs: dict[int, Any] = {}
        self._next = 1

    def handle(self, p) -> int:
        h = self._by_id.get(id(p))
        if h is None:
            h = self._next
            self._next += 1
            self._by_id[id(p)] = h
            self._procs[h] = p
        return h

    def get(self, handle: int):
        return self._procs.get(handle)

    def retain(self, live_handles: set[int]) -> None:
        for h in [h for h in self._procs if h not in live_handles]:
            p = self._procs.pop(h)
            self._by_id.pop(id(p), None)


@dataclass
class StepRuntime:
    """What the worker keeps about a step beyond the serialisable trace."""

    op: Any = None
    resolved: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    frame: Any = None  # the script frame the call was written in
    exception: BaseException | None = None
    failed_param: str | None = None
    called_as: str | None = None  # the name the script called it by (`dce` for stdlib's `rewrite`)
    invocation: tuple[str, int] | None = None  # (script function it was written in, top-level line it ran for)


@dataclass
class RunState:
    trace: Trace
    runtime: dict[int, StepRuntime]
    proc_objects: dict[str, Any]  # name -> proc in scope at the end
    namespace: dict[str, Any]
    algorithms: dict[int, Any] = field(default_factory=dict)  # proc handle -> algorithm proc
    lookup_values: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # lookup index -> (receiver, result)
    source: str = ""  # the text that ran (completion maps the editor's lines onto it)


@dataclass
class _OpenCall:
    step: Step
    rt: StepRuntime
    t0: float
    key: tuple | None
    pins: tuple = ()
    entry: memo.Entry | None = None
    looked_up: bool = False  # op_cached asked the memo already (and missed)
    printed_from: int = 0  # where the run's output was when it began


@dataclass
class _CallSite:
    range: Range
    node: ast.Call | None


class Tracer:
    """Owns the memo tables and the handles; runs one script at a time."""

    def __init__(self) -> None:
        check_version()
        hooks.install_hooks()
        speedups.install_speedups()
        self.ops = memo.MemoTable()
        self.procs = memo.MemoTable()
        self.lookup_table = memo.MemoTable()  # cursor lookups (lookup_memo.py)
        self.unit_table = memo.MemoTable()  # library functions the script calls (unit_memo.py)
        self.registry = ProcRegistry()
        self.runs: dict[str, RunState] = {}
        self.texts: dict[str, str] = {}  # path -> the text the memoised source positions are in
        self.srcinfos: dict[str, weakref.WeakSet] = {}  # path -> SrcInfos its runs parsed
        # path -> the last run that recorded a step: while a line is being typed the script
        # does not parse, and completion still needs the procs of the version before
        self.last_good: dict[str, RunState] = {}
        self.current: _ScriptRun | None = None  # the run in progress (for partial traces)

    def run(
        self,
        path: str,
        source: str,
        version: int | None,
        *,
        on_progress: Callable[[int], None] = lambda line: None,
        on_inner_step: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        use_memo: bool = True,
        on_op_start: Callable[[int], None] = lambda line: None,
    ) -> RunState:
        hooks.install_hooks()  # idempotent; something may have taken them off since
        speedups.forget_analyses()  # their procs are the last run's
        tables = (self.ops, self.procs, self.lookup_table, self.unit_table)
        if not use_memo:
            for table in tables:
                table.clear()
        self._follow_moved_lines(norm_path(path), source)
        for table in tables:
            table.start_run()
        run = _ScriptRun(self, path, source, version, on_progress, cancelled)
        run.on_op_start = on_op_start
        run.on_inner_step = on_inner_step
        hooks.take_new_srcinfos()  # not this run's
        self.current = run
        try:
            state = run.execute()
        finally:
            self.current = None
            for si in hooks.take_new_srcinfos():
                if isinstance(si.filename, str):
                    self.srcinfos.setdefault(norm_path(si.filename), weakref.WeakSet()).add(si)
        state.source = source
        self.runs[path] = state
        if any(s.parent is None and s.proc_in is not None for s in state.trace.steps):
            self.last_good[path] = state
        self._retain_handles()
        return state

    def _follow_moved_lines(self, path: str, source: str) -> None:
        """An edit that moves lines (one above a @proc moves all of it) leaves the memoised
        procs valid but their source positions behind: move those with the lines, so that
        the procs, and every step made from them, are reused instead of re-run."""
        old, self.texts[path] = self.texts.get(path), source
        if old is None or old == source:
            return
        moves = line_moves(old, source)
        if moves is None:
            # too large an edit to follow: old positions cannot be trusted, so nothing
            # memoised from this script is reused (the run is a cold one)
            for table in (self.ops, self.procs, self.lookup_table, self.unit_table):
                table.clear()
            return
        if not moves or not hooks.move_source_lines(self.srcinfos.get(path, ()), moves):
            return
        move = functools.partial(_moved_target, path=os.path.abspath(path), moves=moves)
        lookup_memo.follow_moves(self.lookup_table, move)
        for key, e in list(self.ops.entries.items()):
            if isinstance(e.value, BaseException):
                del self.ops.entries[key]  # its message may name old lines: run it again
            else:
                # (origins name files as _origin does)
                nested.move_targets(e.extra.children, move)
                e.extra = e.extra._replace(targets=[move(t) for t in e.extra.targets])

    def _retain_handles(self) -> None:
        live: set[int] = set()
        for state in [*self.runs.values(), *self.last_good.values()]:
            for s in state.trace.steps:
                live.update(h for h in (s.proc_in, s.proc_out) if h is not None)
            live.update(p.handle for p in state.trace.procs)
        for table in (self.ops, self.procs):
            for e in table.entries.values():
                for obj in (e.value, *e.pins):
                    if procs.is_procedure(obj):
                        live.add(self.registry.handle(obj))
        self.registry.retain(live)


class _ScriptRun:
    def __init__(self, tracer: Tracer, path, source, version, on_progress, cancelled):
        self.t = tracer
        self.path = norm_path(path)
        self.source = source
        self.version = version
        self.on_progress = on_progress
        self.on_op_start: Callable[[int], None] = lambda line: None  # a script-level op begins
        self.on_inner_step: Callable[[int], None] | None = None  # Tracer.run sets it
        self.cancelled = cancelled
        self.lines = LineIndex(source)
        self.steps: list[Step] = []
        self.runtime: dict[int, StepRuntime] = {}
        self.open: list[_OpenCall] = []
        self.helper_parents: dict[int, tuple[Any, Step]] = {}  # id(helper frame) -> (frame, step)
        self.calls: dict[tuple, ast.Call] = {}
        self.defined: list[tuple[str, Any]] = []
        self.algorithms: dict[int, Any] = {}
        self.cached_steps = 0
        self.lookups: list = []  # trace.Lookup, recorded by lookups.record_lookup
        self.lookup_values: dict[int, tuple[Any, Any]] = {}
        self.definitions_seen: dict[tuple, int] = {}
        self.unmemoised: list[tuple[Range, str]] = []  # where, and why, a re-run cannot reuse
        self.executing = False  # inside the script's exec: where a time limit may stop it
        self.namespace: dict[str, Any] = {}
        self.out = io.StringIO()  # the script's output (execute makes it)
        self.lookup_memo = lookup_memo.RunLookups(self, tracer.lookup_table)  # the hooks ask it
        self.units = unit_memo.RunUnits(self, tracer.unit_table)  # the library wrappers ask it

    # ------------------------------------------------------------ running

    def execute(self) -> RunState:
        t0 = time.perf_counter()
        procs.reset_exo_state()
        out = self.out = io.StringIO()
        mod = types.ModuleType("__exo_lsp_script__")
        mod.__file__ = self.path
        mod.__builtins__ = __builtins__
        namespace = self.namespace = mod.__dict__
        problems = ProblemBuilder(self.path, self.lines, self.t.registry)
        ok = False
        try:
            tree = ast.parse(self.source, self.path)
            code = compile(tree, self.path, "exec")
        except SyntaxError as exc:
            problems.syntax_error(exc)
        else:
            self._index_calls(tree)
            ok = self._exec(code, mod, out, problems)
        finally:
            hooks.set_observer(None)
        _link_children(self.steps)
        problems.no_op_warnings(self.steps, self.runtime)
        problems.not_memoised(self.unmemoised)
        proc_objects = {k: v for k, v in namespace.items() if procs.is_procedure(v)}
        trace = Trace(
            path=self.path,
            version=self.version,
            ok=ok,
            steps=self.steps,
            procs=self._proc_defs(proc_objects),
            memories=self._memories(namespace),
            problems=problems.problems,
            output=out.getvalue()[-20000:],
            ms=(time.perf_counter() - t0) * 1000,
            cached_steps=self.cached_steps,
            lookups=self.lookups,
        )
        return RunState(trace, self.runtime, proc_objects, namespace, self.algorithms, self.lookup_values)

    def _exec(self, code, mod, out, problems: ProblemBuilder) -> bool:
        lines = self.source.splitlines(keepends=True)
        linecache.cache[self.path] = (len(self.source), None, lines, self.path)
        script_dir = os.path.dirname(self.path)
        before = set(sys.modules)
        sys.path.insert(0, script_dir)
        sys.modules[mod.__name__] = mod
        hooks.set_observer(self)
        try:
            with redirect_stdout(out), redirect_stderr(out):
                self.executing = True
                try:
                    exec(code, mod.__dict__)
                finally:
                    self.executing = False
            return True
        except RunCancelled:
            raise
        except RunTimeout as exc:
            self._close_failed_parent(exc)
            rng = problems._deepest_script_range(exc) or self.lines.line_range(0)
            done = sum(1 for s in self.steps if s.parent is None and s.ok)
            problems.add(
                self.path, rng, "error",
                f"the script {exc} (it was at line {rng.start.line + 1}) and was stopped; "
                f"the {done} steps before it are shown; {TIMEOUT_HINT}",
                "timeout",
            )
            return False
        except BaseException as exc:  # the script's failure is the user's information
            self._close_failed_parent(exc)
            problems.bind_runtime(self.steps, self.runtime)
            problems.exception(exc, self._step_of_exception(exc))
            return False
        finally:
            hooks.set_observer(None)
            try:
                sys.path.remove(script_dir)
            except ValueError:
                pass
            sys.modules.pop(mod.__name__, None)
            self._forget_workspace_modules(before, script_dir)

    def _forget_workspace_modules(self, before: set[str], script_dir: str) -> None:
        # Sibling modules the script imported are user code too: re-import them next run
        # so that their edits are seen (their procs still hit the memo).
        for name in set(sys.modules) - before:
            f = getattr(sys.modules[name], "__file__", None) or ""
            if f and os.path.abspath(f).startswith(script_dir + os.sep) and "site-packages" not in f:
                del sys.modules[name]

    # ------------------------------------------------------------ call sites

    def _index_calls(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self.calls[(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)] = node

    def _in_script(self, frame) -> bool:
        return frame is not None and frame.f_code.co_filename == self.path

    def _invocation(self, frame) -> tuple[str, int]:
        """(the script function a call is written in, the 0-based top-level line that led
        to it): what tells the runs of one source position apart."""
        f = frame
        while f is not None:
            if self._in_script(f) and f.f_code.co_name == "<module>":
                return frame.f_code.co_name, f.f_lineno - 1
            f = f.f_back
        return frame.f_code.co_name, frame.f_lineno - 1

    def _call_site(self, frame) -> _CallSite:
        positions = None
        try:
            positions = _code_positions(frame.f_code)[frame.f_lasti // 2]
        except (IndexError, AttributeError):
            pass
        if positions and None not in positions:
            ln, end_ln, col, end_col = positions
            node = self.calls.get((ln, col, end_ln, end_col))
            return _CallSite(self.lines.range(ln, col, end_ln, end_col), node)
        return _CallSite(self.lines.line_range(frame.f_lineno - 1), None)

    def _arguments(self, op, site: _CallSite, raw: dict[str, Any], frame=None) -> list[Argument]:
        node_of: dict[str, ast.AST] = {}
        if site.node is not None and not any(isinstance(a, ast.Starred) for a in site.node.args):
            names = list(op.sig.parameters) if op is not None else []
            for name, arg in zip(names, site.node.args):
                node_of[name] = arg
            for kw in site.node.keywords:
                if kw.arg:
                    node_of[kw.arg] = kw.value
        args = []
        for name, value in raw.items():
            node = node_of.get(name)
            rng = None
            if node is not None:
                rng = self.lines.range(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
            text = self.lines.text_of(rng) if rng else _short_repr(value)
            kind = _arg_kind(op, name, value)
            args.append(Argument(name, rng, text, kind))
            for outer in self.passed_in(frame, node):
                args.append(Argument(name, outer, self.lines.text_of(outer), kind))
        return args

    def passed_in(self, frame, node) -> list[Range]:
        return callsites.passed_in(self, frame, node)

    # ------------------------------------------------------------ observer

    def op_begin(self, op, raw, frame):
        if self.cancelled():
            raise RunCancelled()
        name = ops.op_name(op)
        parent: Step | None = self.open[-1].step if self.open else None
        if parent is None and not self._in_script(frame):
            parent = self._helper_parent(frame)
        if parent is None:
            site = self._call_site(frame)
            arguments = self._arguments(op, site, raw, frame)
            rng, script_frame = site.range, frame
            self.on_op_start(rng.start.line)
        else:
            arguments = self._arguments(op, _CallSite(parent.range, None), raw)
            for i, a in enumerate(arguments):
                arguments[i] = Argument(a.name, None, a.text, a.kind)
            rng, script_frame = parent.range, self.runtime[parent.index].frame
        rt = StepRuntime(op=op, raw=raw, frame=script_frame)
        if parent is None:
            rt.called_as, rt.invocation = callsites.called_name(site.node), self._invocation(frame)
        step = self._new_step(name, None if parent is None else parent.index, rng, arguments, raw.get("proc"), rt)
        # a step the script wrote is told why it is not memoised; a helper's primitives are not
        key, pins = run_keys.op_key(self, name, raw, rng if parent is None else None)
        call = _OpenCall(step, rt, time.perf_counter(), key, pins, printed_from=self.out.tell())
        self.open.append(call)
        return call

    def op_arg_failed(self, call: _OpenCall, param: str, exc: BaseException) -> None:
        call.rt.failed_param = param

    def op_cached(self, call: _OpenCall):
        """Before the arguments are resolved: the key is made of the raw arguments, so a hit
        can skip resolving them (pattern matching: most of a fully memoised run's time);
        what they resolved to is kept with the entry (cursors into the same input proc)."""
        if call.key is not None:
            call.looked_up = True
            entry = self.t.ops.get(call.key)
            if entry is not None:
                call.rt.resolved, call.rt.failed_param = entry.extra.resolved, entry.extra.failed_param
                call.entry = entry
                call.step.cached = True
                return True, entry.value
        return False, None

    def op_resolved(self, call: _OpenCall, resolved: dict[str, Any]):
        call.rt.resolved = resolved
        if call.key is not None and not call.looked_up:
            entry = self.t.ops.get(call.key)
            if entry is not None:
                call.entry = entry
                call.step.cached = True
                return True, entry.value
        return False, None

    def op_end(self, call: _OpenCall, result, exc: BaseException | None) -> None:
        assert self.open and self.open[-1] is call
        self.open.pop()
        step, rt = call.step, call.rt
        step.ms = (time.perf_counter() - call.t0) * 1000
        if isinstance(exc, RunCancelled):
            return
        if isinstance(exc, RunTimeout):  # stopped, not failed: nothing to memoise
            step.ok, step.error, rt.exception = False, f"stopped: the run {exc}", exc
            self._update_parent(step)
            return
        children: list[nested.Child] = []
        if call.entry is not None:
            record: memo.OpRecord = call.entry.extra
            targets, changed = record.targets, record.changed
            nested.replay(self, step, record.children, StepRuntime)
            self.out.write(record.printed)
        else:
            children = nested.capture(self, step) if call.key is not None else []
            targets = self._targets(rt.resolved, rt.op) if rt.failed_param is None else []
            changed = None
        step.targets = targets
        if exc is not None:
            step.ok = False
            rt.exception = exc
            step.error = patterns.clean_message(str(exc), step.op) or type(exc).__name__
            if call.entry is None and call.key is not None:
                # an argument that failed to resolve fails the same way on the same raw
                # arguments (a helper's `try: reorder_stmts(p, c.expand(1, 0))` loop end)
                record = memo.OpRecord(targets, None, children, rt.resolved, rt.failed_param, self._printed(call))
                self.t.ops.put(call.key, exc, record, call.pins)
        else:
            step.ok = True
            if procs.is_procedure(result):
                step.proc_out = self.t.registry.handle(result)
                if changed is None:
                    p_in = rt.raw.get("proc")
                    changed = not printing.same_program(p_in, result)
                self.algorithms[step.proc_out] = self.algorithms.get(step.proc_in, self.t.registry.get(step.proc_in))
            step.changed = changed
            if call.entry is None and call.key is not None:
                record = memo.OpRecord(targets, changed, children, rt.resolved, None, self._printed(call))
                self.t.ops.put(call.key, result, record, call.pins)
        if call.entry is not None:
            self.cached_steps += 1
        self._update_parent(step)
        if step.parent is None:
            self.on_progress(step.line)
        elif self.on_inner_step is not None:
            # inside a library helper (replace_all, vectorize, ...): the top-level step may
            # take long, the steps inside it can be shown meanwhile
            self.on_inner_step(step.line)

    def partial_state(self, steps_from: int = 0, lookups_from: int = 0) -> RunState:
        """The trace so far: every step finished (the open calls' steps are not yet). With
        `steps_from`/`lookups_from`, only what a receiver that has the earlier ones lacks
        (Trace.steps_from): the steps from there on, after copies of their ancestors before
        it (a helper's step changes as its children end)."""
        upto = self.open[0].step.index if self.open else len(self.steps)
        steps_from = min(steps_from, upto)
        ancestors: set[int] = set()
        for s in self.steps[steps_from:upto]:
            p = s.parent
            while p is not None and p < steps_from and p not in ancestors:
                ancestors.add(p)
                p = self.steps[p].parent
        chosen = [self.steps[i] for i in sorted(ancestors)] + self.steps[steps_from:upto]
        steps = [msgspec.structs.replace(s) for s in chosen]
        if not steps_from:
            _link_children(steps)
        trace = Trace(
            path=self.path, version=self.version, ok=False, steps=steps, procs=[], memories=[], problems=[],
            output="", ms=0.0, cached_steps=self.cached_steps, lookups=self.lookups[lookups_from:], partial=True,
            steps_from=steps_from, lookups_from=lookups_from,
        )
        return RunState(trace, self.runtime, {}, self.namespace, self.algorithms, self.lookup_values)

    def _printed(self, call: _OpenCall) -> str:
        return self.out.getvalue()[call.printed_from :] if self.out.tell() != call.printed_from else ""

    def lookup_done(self, method, receiver, args, kwargs, frame, result, exc, memo_entry=None) -> None:
        from .lookups import record_lookup

        record_lookup(self, method, receiver, args, kwargs, frame, result, exc, memo_entry)

    def define_proc(self, f, instr, frame, build):
        if self.cancelled():
            raise RunCancelled()
        key, pins = run_keys.proc_key(self, f, instr, frame)
        if key is not None:
            entry = self.t.procs.get(key)
            if entry is not None:
                p = entry.value
                self._note_defined(p)
                return p
        p = build()
        if key is not None:
            self.t.procs.put(key, p, None, pins)
        self._note_defined(p)
        return p

    def _note_defined(self, p) -> None:
        si = procs.proc_srcinfo(p)
        if si is not None and os.path.abspath(si.filename or "") == self.path:
            self.defined.append((procs.proc_name(p), p))
        h = self.t.registry.handle(p)
        self.algorithms.setdefault(h, p)

    # ------------------------------------------------------------ helpers

    def _helper_parent(self, frame) -> Step | None:
        """A primitive called from library code: the step of the script's call into it."""
        inner, f = None, frame
        while f is not None and not self._in_script(f):  # (a unit wrapper is not the helper)
            inner, f = inner if library_units.is_unit_frame(f) else f, f.f_back
        if f is None or inner is None:
            return None
        known = self.helper_parents.get(id(inner))
        if known is not None and known[0] is inner:
            return known[1]
        site = self._call_site(f)
        code = inner.f_code
        params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
        raw = {p: inner.f_locals.get(p) for p in params}
        if code.co_flags & inspect.CO_VARARGS:
            # repeat(reorder_loops)(p, "im jm"): the pattern is in the wrapper's *args
            star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
            for i, v in enumerate(inner.f_locals.get(star) or ()):
                raw[f"{star}[{i}]"] = v
            params = params[: code.co_argcount] + [k for k in raw if k.startswith(f"{star}[")] + params[code.co_argcount :]
        node_args = self._helper_arguments(params, site, raw, f)
        p_in = raw.get(params[0]) if params else None
        rt = StepRuntime(raw=raw, frame=f, called_as=callsites.called_name(site.node), invocation=self._invocation(f))
        # named as the script calls it: stdlib's `dce` is a closure named `rewrite`
        step = self._new_step(rt.called_as or code.co_name, None, site.range, node_args, p_in, rt)
        # a helper is fine until a child fails; it is "cached" while all its children are
        step.ok, step.changed, step.cached = True, False, True
        self.helper_parents[id(inner)] = (inner, step)
        return step

    def _new_step(self, op: str, parent: int | None, rng: Range, arguments, p_in, rt: StepRuntime) -> Step:
        h_in = self.t.registry.handle(p_in) if procs.is_procedure(p_in) else None
        step = Step(
            index=len(self.steps),
            parent=parent,
            op=op,
            range=rng,
            line=rng.start.line,
            arguments=arguments,
            proc_name=procs.proc_name(p_in) if h_in else "",
            proc_in=h_in,
            proc_out=None,
            targets=[],
            ok=False,
            error=None,
            changed=None,
            cached=False,
            ms=0.0,
        )
        self.steps.append(step)
        self.runtime[step.index] = rt
        return step

    def _helper_arguments(self, params, site: _CallSite, raw, frame=None) -> list[Argument]:
        node_of: dict[str, ast.AST] = {}
        if site.node is not None and not any(isinstance(a, ast.Starred) for a in site.node.args):
            node_of.update(zip(params, site.node.args))
            node_of.update({kw.arg: kw.value for kw in site.node.keywords if kw.arg})
        out = []
        for name in params:
            node = node_of.get(name)
            if node is None:
                continue
            rng = self.lines.range(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
            value = raw.get(name)
            kind = "pattern" if isinstance(value, str) else _arg_kind(None, name, value)
            out.append(Argument(name, rng, self.lines.text_of(rng), kind))
            for outer in self.passed_in(frame, node):
                out.append(Argument(name, outer, self.lines.text_of(outer), kind))
        return out

    def _update_parent(self, child: Step) -> None:
        if child.parent is None:
            return
        parent = self.steps[child.parent]
        parent.ms += child.ms
        parent.cached = parent.cached and child.cached
        if child.ok and child.proc_out is not None:
            if parent.proc_in is None:
                parent.proc_in = child.proc_in
                parent.proc_name = child.proc_name
            parent.proc_out = child.proc_out
            parent.changed = bool(parent.changed or child.changed)
            if not parent.targets and child.targets:
                parent.targets = list(child.targets)
        if parent.proc_out is not None:
            self.algorithms[parent.proc_out] = self.algorithms.get(child.proc_out)

    def _close_failed_parent(self, exc: BaseException) -> None:
        for step in reversed(self.steps):
            rt = self.runtime[step.index]
            if rt.exception is exc:
                while step.parent is not None:
                    step = self.steps[step.parent]
                    step.ok = False
                    step.error = step.error or patterns.clean_message(str(exc), None)
                    self.runtime[step.index].exception = exc
                return

    def _step_of_exception(self, exc: BaseException) -> Step | None:
        for step in reversed(self.steps):
            if self.runtime[step.index].exception is exc and step.parent is None:
                return step
        return None

    def _targets(self, resolved: dict[str, Any], op=None) -> list[Target]:
        out = []
        for name, value in resolved.items():
            if name == "proc":
                continue
            found, kind = cursors.flatten_cursors(value), None
            if not found and op is not None:
                found, kind = exprargs.argument_cursors(op, name, resolved)
            for c in found:
                try:
                    info = cursors.describe_cursor(c)
                except Exception:
                    continue
                out.append(
                    Target(
                        argument=name,
                        kind=kind or info.kind,
                        path=info.path,
                        text=info.text,
                        count=info.count,
                        origin=self._origin(info),
                    )
                )
        return out

    def _origin(self, info: cursors.NodeInfo) -> Location | None:
        si = info.srcinfo
        if si is None or not si.filename:
            return None
        lines = _file_lines(si.filename)
        if info.header_only or si.end_lineno is None:
            rng = lines.range(si.lineno, si.col_offset, si.lineno, len(lines.line(si.lineno - 1).encode()))
        else:
            rng = lines.range(si.lineno, si.col_offset, si.end_lineno, si.end_col_offset)
        return Location(os.path.abspath(si.filename), rng)

    def _proc_defs(self, proc_objects: dict[str, Any]) -> list[ProcDef]:
        seen: dict[int, ProcDef] = {}
        # Procs written in this script in definition order, then the rest in scope by name
        # (modules imported for the first time define theirs mid-run: not an order to keep).
        for _, p in self.defined + sorted(proc_objects.items()):
            h = self.t.registry.handle(p)
            if h in seen:
                continue
            si = procs.proc_srcinfo(p)
            loc = None
            if si is not None and si.filename:
                lines = _file_lines(si.filename)
                loc = Location(os.path.abspath(si.filename), lines.line_range(si.lineno - 1))
            template = procs.instr_template(p)
            seen[h] = ProcDef(procs.proc_name(p), h, template is not None, loc, template)
        return list(seen.values())

    def _memories(self, namespace) -> list[MemoryDef]:
        out = []
        for name, v in namespace.items():
            if procs.is_memory_class(v):
                out.append(MemoryDef(name, v.__qualname__, v.__module__))
        return sorted(out, key=lambda m: m.name)


def _moved_target(t: Target, path: str, moves: dict[int, int]) -> Target:
    o = t.origin
    if o is None or o.path != path:
        return t
    shift = moves.get(o.range.start.line + 1, o.range.start.line + 1) - 1 - o.range.start.line
    if not shift:
        return t
    r = o.range
    moved = Range(Position(r.start.line + shift, r.start.character), Position(r.end.line + shift, r.end.character))
    return msgspec.structs.replace(t, origin=Location(o.path, moved))


def _file_lines(filename: str) -> LineIndex:
    return LineIndex("".join(linecache.getlines(filename)))


def _arg_kind(op, name: str, value: Any) -> str:
    strings = isinstance(value, str) or (
        isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value)
    )
    if strings or (isinstance(value, int) and not isinstance(value, bool)):
        # a list of patterns is patterns too (bind_expr's ["A[i, k]", "B[k, j]"]); an int
        # can be an expression (expand_dim's size)
        kind = ops.parameter_kind(op, name) if op is not None else None
        if kind is not None and (strings or kind == "expr"):
            return kind
        return "value"
    if isinstance(value, cursors.Cursor) or (
        isinstance(value, (list, tuple)) and value and all(isinstance(v, cursors.Cursor) for v in value)
    ):
        return "cursor"
    if procs.is_procedure(value):
        return "proc"
    if procs.is_memory_class(value):
        return "memory"
    return "value"


def _short_repr(value: Any) -> str:
    if procs.is_procedure(value):
        return procs.proc_name(value)
    if isinstance(value, type):
        return value.__name__
    if value is None or isinstance(value, (bool, int, float, str)):
        text = repr(value)
    elif isinstance(value, (list, tuple)) and len(value) <= 8:
        inner = ", ".join(_short_repr(v) for v in value)
        text = f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    else:
        # not repr(): an object holding LoopIR (a dataclass a helper passes) prints all of
        # it, 0.5 s of aarch64 sgemm's run for a label cut at 80 characters
        text = f"<{type(value).__name__}>"
    return text if len(text) < 80 else text[:77] + "..."


def format_exception_tail(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


@functools.lru_cache(maxsize=256)
def _code_positions(code) -> list:
    # once per code object, not once per call: a schedule function's list is thousands
    # long and every op and lookup it makes asks for it (a quarter of an unchanged run)
    return list(code.co_positions())
