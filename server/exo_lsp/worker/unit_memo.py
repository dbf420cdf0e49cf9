"""Library functions the script calls, memoised whole (worker side).

The op memo makes every primitive of an unchanged prefix a hit, but a library helper
(``vectorize``, ``replace_all``) still runs its own Python between them on every run: on
Exo's unsharp app that glue is most of a re-run after an edit below it. A call the script
makes into an ``exo.stdlib`` function (``exo/library_units.py`` routes it here) is a pure
function of:

* the function (its code and, for a closure such as ``repeat(lift_alloc)``, what it
  closes over),
* its arguments (``run_keys.value_key``: procs by identity, cursors by proc and path),
* where the script called it from: every step made under the call is placed at the
  script's call sites up the stack (and ``passed_in`` follows arguments to the callers'
  lines), so each script frame's call position and text are in the key.

A hit returns the last run's result and appends the steps recorded under the call again,
marked cached, exactly as a cold run shows them; a list argument the call changed (Exo's
``vectorize`` appends to its ``rules``) is left as the call left it. Not memoised (it just
runs): a call made while an op is open, one that raised, one that changed any other
argument, one whose result is not a proc, cursor or plain value, and one during which the
script's own code ran (a lookup it wrote, a ``@proc`` defined, an op it called).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import msgspec

from . import memo, run_keys
from .exo import cursors, procs
from ..shared.trace import Step


@dataclass
class UnitCall:
    key: tuple
    pins: tuple
    entry: memo.Entry | None
    caller: Any  # the script frame of the call
    args: tuple
    kwargs: dict
    base: int  # len(run.steps) when it began
    printed_from: int
    marks: tuple  # (lookups, defined, unmemoised) counts when it began


@dataclass
class Recorded:
    step: Step  # index/parent relative to the call's first step; no handles
    proc_in: Any
    proc_out: Any
    algorithm: Any
    rt: Any  # StepRuntime without its frame


@dataclass
class UnitRecord:
    steps: list[Recorded]
    printed: str
    mutated: list  # (argument position or name, the list's contents after the call)


class RunUnits:
    """One run's view of the unit memo (the library wrappers call it)."""

    def __init__(self, run, table: memo.MemoTable) -> None:
        self.run = run
        self.table = table

    def begin(self, f, args: tuple, kwargs: dict, caller) -> UnitCall | None:
        run = self.run
        if run.open or not run._in_script(caller):
            return None
        pins: list = []
        try:
            key = ("unit", function_key(f, pins), *self._args_key(args, kwargs, pins), self._stack_key(caller))
        except Exception:  # Unkeyable, or an argument that fails to describe itself
            return None
        marks = (len(run.lookups), len(run.defined), len(run.unmemoised))
        return UnitCall(key, tuple(pins), self.table.get(key), caller, args, kwargs, len(run.steps), run.out.tell(), marks)

    def _args_key(self, args: tuple, kwargs: dict, pins: list) -> tuple:
        run = self.run
        return (
            tuple(run_keys.value_key(run, a, pins) for a in args),
            tuple(sorted((k, run_keys.value_key(run, v, pins)) for k, v in kwargs.items())),
        )

    def _stack_key(self, frame) -> tuple:
        run, out = self.run, []
        while frame is not None:
            if run._in_script(frame):
                r = run._call_site(frame).range
                where = (r.start.line, r.start.character, r.end.line, r.end.character)
                out.append((frame.f_code.co_name, where, run.lines.text_of(r)))
            frame = frame.f_back
        return tuple(out)

    def end(self, call: UnitCall, result) -> Any:
        """The call returned: keep it if it is a unit (see the module's docstring)."""
        run = self.run
        steps = run.steps[call.base :]
        if (
            (len(run.lookups), len(run.defined), len(run.unmemoised)) != call.marks
            or not _plain_result(result)
            or any(s.parent is not None and s.parent < call.base for s in steps)
            # an op at the top level was called by the script's code (a callback), not the library's
            or any(s.parent is None and run.runtime[s.index].op is not None for s in steps)
        ):
            return result
        mutated = self._mutated(call)
        if mutated is None:
            return result
        reg = run.t.registry
        pins: list = list(call.pins)
        recorded = []
        for s in steps:
            p_in = reg.get(s.proc_in) if s.proc_in is not None else None
            p_out = reg.get(s.proc_out) if s.proc_out is not None else None
            relative = msgspec.structs.replace(
                s, index=s.index - call.base, parent=None if s.parent is None else s.parent - call.base,
                proc_in=None, proc_out=None, children=[],
            )
            algorithm = run.algorithms.get(s.proc_out) if s.proc_out is not None else None
            recorded.append(Recorded(relative, p_in, p_out, algorithm, dataclasses.replace(run.runtime[s.index], frame=None)))
            pins.extend(p for p in (p_in, p_out, algorithm) if p is not None)
        printed = run.out.getvalue()[call.printed_from :] if run.out.tell() != call.printed_from else ""
        self.table.put(call.key, _own(result), UnitRecord(recorded, printed, mutated), tuple(pins))
        return result

    def _mutated(self, call: UnitCall) -> list[tuple[int | str, list]] | None:
        """The list arguments the call changed, with what it left in them (Exo's
        ``vectorize`` appends to its ``rules``): a hit must leave them so too. None when it
        changed anything else, or its arguments no longer describe themselves."""
        pins: list = []
        try:
            now = self._args_key(call.args, call.kwargs, pins)
        except Exception:
            return None
        changed: list[tuple[int | str, list]] = []
        named_before = dict(call.key[3])
        pairs = [(i, a, k, call.key[2][i]) for i, (a, k) in enumerate(zip(call.args, now[0]))]
        pairs += [(name, call.kwargs[name], k, named_before.get(name)) for name, k in now[1]]
        for where, arg, key_now, key_before in pairs:
            if key_now == key_before:
                continue
            if not isinstance(arg, list):
                return None
            changed.append((where, list(arg)))
        return changed

    def replay(self, call: UnitCall) -> Any:
        """A hit: the steps the call made last time, again under this call, and its result."""
        run = self.run
        record: UnitRecord = call.entry.extra
        base = len(run.steps)
        reg = run.t.registry
        for rec in record.steps:
            step = msgspec.structs.replace(
                rec.step,
                index=base + rec.step.index,
                parent=None if rec.step.parent is None else base + rec.step.parent,
                proc_in=reg.handle(rec.proc_in) if rec.proc_in is not None else None,
                proc_out=reg.handle(rec.proc_out) if rec.proc_out is not None else None,
                cached=True,
                ms=0.0,
                children=[],
            )
            run.steps.append(step)
            run.runtime[step.index] = dataclasses.replace(rec.rt, frame=call.caller)
            if step.proc_out is not None and rec.algorithm is not None:
                run.algorithms[step.proc_out] = rec.algorithm
            run.cached_steps += 1
            if step.parent is None:
                run.on_progress(step.line)
        run.out.write(record.printed)
        for where, contents in record.mutated:
            (call.args[where] if isinstance(where, int) else call.kwargs[where])[:] = contents
        return _own(call.entry.value)


def function_key(f, pins: list) -> tuple:
    """A library function by identity; a closure a factory made (``repeat(lift_alloc)`` is
    a new function every run) by its code and what it closes over."""
    if not f.__closure__:
        pins.append(f)
        return ("fn", id(f))
    pins.append(f.__code__)
    return ("closure", id(f.__code__), tuple(memo.value_key(c.cell_contents, pins) for c in f.__closure__))


def _plain_result(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (tuple, list)):
        return all(_plain_result(v) for v in value)
    return procs.is_procedure(value) or isinstance(value, cursors.Cursor)


def _own(value: Any) -> Any:
    # a list is the script's to change: the memo keeps its own copy, a hit hands out a copy
    return list(value) if isinstance(value, list) else value
