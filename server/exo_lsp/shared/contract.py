"""The worker query contract: every question the server can ask the worker about the procs
of a script's last run, as one Params and one Result Struct per method.

Params structs are tagged with their method name, so a ``Query`` frame decodes straight
into the right type; ``METHODS`` pairs each Params type with its Result type, which the
worker client uses to decode the answer. The worker registers one handler per Params type
(``worker.queries.handles``). Nothing here imports Exo or pygls.
"""

from __future__ import annotations

from typing import Literal, Union

import msgspec

from exo_lsp_protocol.simulate import SimulationResult

from .trace import Location


class _Params(msgspec.Struct, frozen=True, tag_field="method"):
    pass


# --------------------------------------------------------------------------- resolve


class HoverParams(_Params, tag="resolve.hover"):
    """Markdown for a step's argument, its op, or a cursor lookup, as of `version`."""

    what: Literal["argument", "op", "lookup"]
    version: int | None = None
    step: int | None = None
    argument: str | None = None
    lookup: int | None = None


class CreatedNode(msgspec.Struct):
    kind: str
    text: str
    line: int | None = None


class HoverResult(msgspec.Struct):
    markdown: str
    kind: str | None = None  # what the argument selected, in words
    marked: list[str] | None = None  # the lines of the snippet that are selected
    match: list[int] | None = None  # (match k, of n) for patterns with several matches
    created: list[CreatedNode] = []  # op hovers: what the step created
    diff: str = ""  # op hovers: the step's diff


class InlayParams(_Params, tag="resolve.inlay"):
    """One preview label per top-level step and per cursor lookup."""

    version: int | None = None


class InlayResult(msgspec.Struct):
    steps: dict[int, str] = {}
    lookups: dict[int, str] = {}
    produced: dict[int, str] = {}  # per step label: what the step produced (the hint's tooltip)


class NamesParams(_Params, tag="resolve.names"):
    """The loop, buffer, size and called-proc names of some procs (semantic tokens)."""

    handles: list[int]
    version: int | None = None


class NamesResult(msgspec.Struct):
    procs: dict[int, dict[str, list[str]]] = {}


# --------------------------------------------------------------------------- views


class ViewTextParams(_Params, tag="view.text"):
    handle: int
    c: bool = False  # the generated C instead of the proc


class ViewTextResult(msgspec.Struct):
    text: str


class ViewMapParams(_Params, tag="view.map"):
    handle: int
    c: bool = False
    upto: int | None = None  # the view's step index: statements changed after it are not marked


class StmtEntry(msgspec.Struct):
    """One statement (or the proc header, path []) of a rendered proc."""

    path: list[list[str | int]]
    kind: str
    text: str  # its own line as Exo prints it, before yapf (one line)
    lines: list[int]  # own lines [start, end) in the proc view (0-based)
    extent: list[int]  # with its body
    else_line: int | None
    origin: Location | None  # where it comes from in the algorithm (header line for loops/ifs)
    created: int | None  # index of the step that made it; None: it is in the algorithm
    changed: int | None  # index of the step that last changed its printed line
    c: list[list[int]] = []  # C line ranges [start, end) (only in C maps)


class ViewData(msgspec.Struct):
    handle: int
    proc: str
    text: str  # the proc view or the C view
    aligned: bool  # False if the proc map could not be aligned with Exo's text
    stmts: list[StmtEntry]
    chain: list[int] = []  # the steps that made this proc, in order


class ViewStatsParams(_Params, tag="view.stats"):
    pass


class ViewStats(msgspec.Struct):
    counts: dict[str, int] = {}  # the render cache's hits and misses


# --------------------------------------------------------------------------- compile & simulate


class SimulateParams(_Params, tag="simulate"):
    handle: int
    compiler: str = "zig"
    seed: int = 0


class SimulateResult(msgspec.Struct):
    result: SimulationResult
    report: str  # Markdown


# --------------------------------------------------------------------------- code actions


class Place(msgspec.Struct, frozen=True):
    """Where code actions are asked for: a step's argument, the whole proc of a step, an
    algorithm source line, a line of a proc view, or statements by their paths."""

    kind: Literal["proc", "arg", "algo_line", "view_line", "paths"] = "proc"
    arg: str | None = None
    line: int | None = None
    paths: list[list[list[str | int]]] = []


class ActionsParams(_Params, tag="actions.list"):
    place: Place = Place()
    step: int | None = None
    handle: int | None = None
    vars: dict[str, str] = {}  # step index -> the variable its proc is bound to
    budget_ms: float | None = None  # validation time for this answer; None: no limit


class ActionInfo(msgspec.Struct):
    key: str  # identifies the validated outcome (preview) in the worker
    title: str
    kind: str  # LSP CodeActionKind
    group: str
    call: str  # the call expression to insert, e.g. reorder_loops(p, "ii jo")
    rank: int
    ms: float  # time its validation took (0 when cached)
    note: str = ""
    checked: bool = True  # False: not validated within the budget (validated when chosen)


class ActionList(msgspec.Struct):
    step: int | None  # the step the line goes after
    handle: int | None  # the proc the actions apply to
    var: str
    actions: list[ActionInfo]
    candidates: int  # enumerated (after the structural filters)
    validated: int  # answered in this call (cached or applied)
    pending: int  # not validated within the budget
    nodes: list[str]  # one line per node the actions are about
    ms: float


class PreviewParams(_Params, tag="actions.preview"):
    handle: int
    var: str
    call: str
    step: int | None = None
    title: str = ""


class Preview(msgspec.Struct):
    title: str
    call: str
    proc: str
    before: str
    after: str
    diff: str


# --------------------------------------------------------------------------- quick fixes


class CheckFixesParams(_Params, tag="fixes.check"):
    """Which replacements of a failed step's argument make the step succeed."""

    step: int
    argument: str  # the op's parameter name
    candidates: list[str]  # source texts (literals) to put in its place
    version: int | None = None


class CheckFixesResult(msgspec.Struct):
    working: list[str] = []  # the candidates with which the op applies, in the given order
# --------------------------------------------------------------------------- writing schedules


class CompleteParams(_Params, tag="write.complete"):
    """Completion at a position of the script as the editor has it now (it may not parse:
    the worker completes against the last run that recorded steps)."""

    text: str
    line: int
    character: int  # in the negotiated position encoding


class CompletionEntry(msgspec.Struct):
    label: str
    kind: str  # loop, alloc, assign, reduce, call, if, pair, gap, window, memory, instr, names, divisor, method
    insert: str  # replaces `range`
    range: list[int]  # [line, start, end], columns in the negotiated encoding
    detail: str = ""
    doc: str = ""  # Markdown: the code it selects, marked as in hovers
    sort: str = ""  # rank: what the op can use first
    filter: str = ""


class CompleteResult(msgspec.Struct):
    items: list[CompletionEntry] = []
    step: int | None = None  # the step whose proc was completed against
    proc_name: str = ""
    where: str = ""  # e.g. "after step 12 (line 40)"
    ms: float = 0.0


class SignatureParams(_Params, tag="write.signature"):
    text: str
    line: int
    character: int


class ParameterEntry(msgspec.Struct):
    label: str
    doc: str = ""


class SignatureResult(msgspec.Struct):
    label: str
    doc: str
    parameters: list[ParameterEntry]
    active: int | None = None
    selects: str = ""  # Markdown: what the argument under the cursor selects now


class BindParams(_Params, tag="write.bind"):
    """Cursor expressions for the nodes a step created, checked against its output proc."""

    step: int
    var: str  # the variable the step's output is assigned to
    taken: list[str] = []  # names the script already uses
    version: int | None = None


class BoundLine(msgspec.Struct):
    name: str
    expr: str  # selects the node in the step's output, e.g. tile_alloc.next()
    kind: str  # alloc, load, store, init, loop, call
    text: str  # the created node's line in the proc after the step


class BindResult(msgspec.Struct):
    op: str
    lines: list[BoundLine] = []


# --------------------------------------------------------------------------- schedule search


class SearchParams(_Params, tag="search.run"):
    """A schedule search from the proc after `step` of the script `text` (in a worker of
    its own: the handler blocks it until the search ends). Results so far come back as
    ``QueryPartial`` frames carrying a SearchResult."""

    text: str
    step: int
    budget: int = 60
    seed: int = 0
    time_limit: float | None = None
    workers: int = 1  # evaluation processes (1: in the worker itself)


class RankedAction(msgspec.Struct):
    label: str
    calls: list[str]  # the action's calls on `p`
    cycles: int | None  # best complete schedule through it (None: none correct yet)
    speedup: float | None
    evaluations: int
    schedule: list[str] = []
    labels: list[str] = []


class FoundSchedule(msgspec.Struct):
    calls: list[str]
    labels: list[str]
    cycles: int
    speedup: float | None


class SearchResult(msgspec.Struct):
    done: bool = False
    stopped: str = ""  # budget, time, interrupted (cancelled)
    evaluations: int = 0
    cached: int = 0  # evaluations answered from searches of earlier versions
    seconds: float = 0.0
    proc: str = ""
    rename_in_scope: bool = False  # the script can call stdlib `rename` at the step
    start_cycles: int | None = None
    start_speedup: float | None = None
    actions: list[RankedAction] = []
    schedules: list[FoundSchedule] = []


# --------------------------------------------------------------------------- the table

QueryParams = Union[
    HoverParams, InlayParams, NamesParams, ViewTextParams, ViewMapParams, ViewStatsParams,
    SimulateParams, ActionsParams, PreviewParams, CheckFixesParams, CompleteParams, SignatureParams, BindParams,
    SearchParams,
]

METHODS: dict[type, type] = {
    HoverParams: HoverResult,
    InlayParams: InlayResult,
    NamesParams: NamesResult,
    ViewTextParams: ViewTextResult,
    ViewMapParams: ViewData,
    ViewStatsParams: ViewStats,
    SimulateParams: SimulateResult,
    ActionsParams: ActionList,
    PreviewParams: Preview,
    CheckFixesParams: CheckFixesResult,
    CompleteParams: CompleteResult,
    SignatureParams: SignatureResult,
    BindParams: BindResult,
    SearchParams: SearchResult,
}
