"""The trace of one run of a schedule script: the single model every feature reads.

Plain msgspec data, so it crosses the worker boundary unchanged. Positions are LSP
positions (0-based lines; columns in the client's position encoding, see positions.py)
in the file they name.
"""

from __future__ import annotations

import os
import re
from typing import Literal
from urllib.parse import quote

import msgspec


class Position(msgspec.Struct, frozen=True, array_like=True):
    line: int
    character: int


class Range(msgspec.Struct, frozen=True, array_like=True):
    start: Position
    end: Position

    def contains(self, pos: Position) -> bool:
        return (self.start.line, self.start.character) <= (pos.line, pos.character) <= (
            self.end.line,
            self.end.character,
        )


class Location(msgspec.Struct, frozen=True):
    path: str
    range: Range


Severity = Literal["error", "warning", "information", "hint"]


class Related(msgspec.Struct, frozen=True):
    location: Location
    message: str


class Problem(msgspec.Struct, frozen=True):
    """One diagnostic, placed in the script (or in the file that holds the fault)."""

    path: str
    range: Range
    severity: Severity
    message: str
    code: str
    related: list[Related] = []
    step: int | None = None
    fixes: list[str] = []  # replacement source texts for the range (quick fixes, not yet validated)


class Argument(msgspec.Struct, frozen=True):
    """One argument expression of a scheduling call, as written in the script."""

    name: str  # the op's parameter name, e.g. "loop_cursor"
    range: Range | None  # None when the call was made from library code
    text: str  # source text of the expression, or repr of the value
    # pattern: matched in the proc; window / expr: parsed in the proc where the op works
    # (stage_mem's "A[i, 0:4]", expand_dim's "4" and "i"); cursor; proc; memory; value
    kind: Literal["pattern", "window", "expr", "cursor", "proc", "memory", "value"]


class Target(msgspec.Struct, frozen=True):
    """A node of the input proc that an argument resolved to."""

    argument: str  # parameter name it came from
    kind: str  # loop, if, assign, reduce, alloc, call, block, gap, expr, arg, ...
    path: list[list[str | int]]  # internal-cursor path from the proc root
    text: str  # one-line rendering of the node (the header for loops and ifs)
    count: int = 1  # statements in a block
    origin: Location | None = None  # where the node comes from in the algorithm


class Step(msgspec.Struct):
    """One scheduling call. Library helpers become parents of the primitives they call."""

    index: int
    parent: int | None
    op: str
    range: Range  # the call expression in the script
    line: int  # 0-based script line of the call
    arguments: list[Argument]
    proc_name: str
    proc_in: int | None  # proc handle (procs stay in the worker)
    proc_out: int | None
    targets: list[Target]
    ok: bool
    error: str | None
    changed: bool | None  # None when unknown (failed, or a helper with no output)
    cached: bool
    ms: float
    children: list[int] = []


class Lookup(msgspec.Struct):
    """A cursor-returning call written in the script that is not a scheduling op:
    ``p.find_loop("c")``, ``c.expand(1, 0)``, ``c.body()[0]``, ``p.forward(c)``."""

    index: int
    method: str  # find, find_loop, expand, after, __getitem__, ...
    range: Range  # the call (or subscript) expression in the script
    line: int
    arguments: list[Argument]  # as written; pattern strings have kind "pattern"
    proc_name: str
    proc: int | None  # handle of the proc searched or navigated
    targets: list[Target]  # what it returned (argument "result")
    ok: bool
    error: str | None
    after_step: int  # how many steps had been recorded when it ran


class ProcDef(msgspec.Struct, frozen=True):
    name: str
    handle: int
    is_instr: bool
    location: Location | None
    instr: str | None = None  # the C template of an @instr


class MemoryDef(msgspec.Struct, frozen=True):
    name: str
    qualname: str
    module: str


class Trace(msgspec.Struct):
    path: str
    version: int | None
    ok: bool  # the script ran to the end
    steps: list[Step]
    procs: list[ProcDef]  # every @proc/@instr defined or in scope
    memories: list[MemoryDef]  # every Memory class in scope at the end
    problems: list[Problem]
    output: str  # what the script printed
    ms: float
    cached_steps: int = 0
    crashed: bool = False  # the worker died or was killed during the run
    lookups: list[Lookup] = []  # cursor lookups written in the script (see Lookup)
    partial: bool = False  # the steps so far of a run still going (no problems, procs yet)
    # A partial trace may carry only what is new since the previous one of the same run
    # (see merge_partial): its steps from `steps_from` on, preceded by fresh copies of
    # their ancestors (a helper's step still collecting children), and its lookups from
    # `lookups_from` on. Sending all 15000 steps of a long run every second made the
    # server spend more time decoding them than the worker spent on the script.
    steps_from: int = 0
    lookups_from: int = 0

    def top_level_steps(self) -> list[Step]:
        return [s for s in self.steps if s.parent is None]


def merge_partial(prev: Trace | None, chunk: Trace) -> Trace:
    """The steps so far of a run: `prev` (the merged partial trace before) with `chunk`
    (the next Progress frame's trace, maybe only its new steps) applied."""
    if not chunk.steps_from and not chunk.lookups_from:
        return chunk
    if prev is None or len(prev.steps) < chunk.steps_from or len(prev.lookups) < chunk.lookups_from:
        raise ValueError("a partial trace continues one that was not received")
    steps = prev.steps[: chunk.steps_from]
    for s in chunk.steps:
        if s.index < len(steps):
            steps[s.index] = s  # an ancestor, updated
        else:
            steps.append(s)
    link_children(steps)
    lookups = prev.lookups[: chunk.lookups_from] + chunk.lookups
    return msgspec.structs.replace(chunk, steps=steps, lookups=lookups, steps_from=0, lookups_from=0)


def link_children(steps: list[Step]) -> None:
    """Fill each step's `children` from the others' `parent`."""
    by_parent: dict[int, list[int]] = {}
    for s in steps:
        if s.parent is not None:
            by_parent.setdefault(s.parent, []).append(s.index)
    for s in steps:
        s.children = by_parent.get(s.index, [])


def norm_path(path: str) -> str:
    """Absolute file paths; names of unsaved buffers (``untitled:...``) stay as they are."""
    if re.match(r"^[a-zA-Z][\w+.-]*:", path) and not os.path.isabs(path):
        return path
    return os.path.abspath(path)


def view_uri(scheme: str, script_path: str, proc: str | None, step: int | str | None) -> str:
    """The virtual document (``exo-proc`` / ``exo-c``) of `proc` after `step` of a script."""
    step = "last" if step is None else step
    path = quote(script_path, safe="/")
    q = f"proc={quote(proc)}&step={step}" if proc else f"step={step}"
    return f"{scheme}:{path}?{q}"


def zero_range() -> Range:
    return Range(Position(0, 0), Position(0, 0))
