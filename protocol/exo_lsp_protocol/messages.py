"""The custom LSP messages of exo-lsp, defined once.

The server encodes and decodes these Structs; ``protocol/generate.py`` turns them into
JSON Schema and TypeScript for the VS Code client. Field names go over the wire in
camelCase. Each message is listed in ``METHODS`` with its direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from .simulate import SimulationResult
from .suggest import (
    SuggestArgs, SuggestCancelArgs, SuggestCancelResult, SuggestedSchedule, SuggestedStep, SuggestInsertArgs,
    SuggestInsertResult, SuggestionsParams, SuggestResult,
)


class _Msg(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=False):
    pass


RunState = Literal["running", "ok", "errors", "crashed", "untrusted", "cancelled"]


class RunStatusParams(_Msg):
    """How the last run of a schedule script went (drives the status bar)."""

    uri: str
    version: int | None
    state: RunState
    errors: int = 0
    warnings: int = 0
    duration_ms: float = 0.0
    cached_steps: int = 0
    """Steps answered from the memo of earlier runs (incremental re-run)."""
    message: str = ""


class StepsParams(_Msg):
    uri: str


class StepInfo(_Msg):
    index: int
    line: int
    """0-based script line of the scheduling call."""
    op: str
    proc: str
    ok: bool
    parent: int | None = None
    """Index of the helper step this primitive ran inside, if any."""
    changed: bool | None = None


class StepsResult(_Msg):
    version: int | None
    steps: list[StepInfo]


class ViewTextParams(_Msg):
    uri: str
    """``exo-proc:<script path>?proc=<name>&step=<n|last|-1>`` or ``exo-c:`` the same way
    (``-1``: the proc as defined)."""


class ViewTextResult(_Msg):
    text: str
    version: int
    """Changes whenever the view's content may have changed."""


class ViewsChangedParams(_Msg):
    script_uri: str


class Position(_Msg):
    """As in LSP: 0-based line, UTF-16 column."""

    line: int
    character: int


class Range(_Msg):
    start: Position
    end: Position


class Location(_Msg):
    uri: str
    range: Range


class LineSpan(_Msg):
    """Lines [start, end) of a document, 0-based (end excluded)."""

    start: int
    end: int


ViewKind = Literal["proc", "c"]


class ViewStatement(_Msg):
    """One statement of the proc a view shows, and where it is everywhere."""

    path: str
    """Position in the proc tree, e.g. ``body[0].body[2].orelse[0]``; ``""`` is the proc
    header (signature, ``@instr`` comment, asserts; in C: the comment, signature and
    ``EXO_ASSUME`` lines, and the closing brace)."""
    kind: str
    """``proc``, ``loop``, ``if``, ``assign``, ``reduce``, ``alloc``, ``call``, ``pass``,
    ``window`` or ``config``."""
    text: str
    """The statement's own line as Exo prints it (the header of a loop or an if)."""
    proc_lines: LineSpan
    """Its own lines in the proc view (yapf may wrap one statement over several lines)."""
    proc_extent: LineSpan
    """Its lines in the proc view with its body."""
    c_lines: list[LineSpan] = []
    """Its lines in the C view (loops and ifs: with their body; an allocation also gets
    the lines that free it). Empty in maps of proc views."""
    origin: Location | None = None
    """Where it comes from in the algorithm (Exo's srcinfo; the header line of a loop/if)."""
    created_step: int | None = None
    """Index of the step that made the statement; None when it is in the algorithm."""
    created_at: Location | None = None
    """The scheduling call of ``createdStep`` in the script."""
    changed_step: int | None = None
    """Index of the step that last changed its printed line; None when unchanged since
    the algorithm."""
    changed_at: Location | None = None
    """The scheduling call of ``changedStep`` in the script."""


class ViewMapParams(_Msg):
    uri: str
    """An ``exo-proc:`` or ``exo-c:`` view URI."""


class ViewMapResult(_Msg):
    uri: str
    version: int
    """Same counter as ``exo/viewText``."""
    kind: ViewKind
    proc: str
    """Name of the proc shown."""
    step: int | None
    """Index of the step the view shows the proc after; None: the proc as defined."""
    chain: list[int]
    """The steps that made this proc, oldest first."""
    aligned: bool
    """False if the proc lines could not be mapped (then line spans are -1)."""
    statements: list[ViewStatement]
    """In print order; the proc header first."""


class StepDiffParams(_Msg):
    uri: str
    """The script's URI."""
    from_step: int
    """The older side: the proc after this step; -1: the proc as defined."""
    to_step: int | Literal["last"]
    """The newer side: the proc after this step."""
    proc: str | None = None
    """Proc name (needed with ``fromStep: -1`` or ``toStep: "last"`` if the script has
    several); defaults to the proc of ``toStep``."""


class StepDiffResult(_Msg):
    from_uri: str
    """``exo-proc:`` view URI of the older side, for a diff editor."""
    to_uri: str
    """``exo-proc:`` view URI of the newer side."""
    title: str
    diff: str
    """Unified diff of the two proc texts (empty when equal)."""
    removed: list[LineSpan]
    """Lines of the older view that are not in the newer one."""
    added: list[LineSpan]
    """Lines of the newer view that are not in the older one."""


class StepChangeParams(_Msg):
    uri: str
    """The script's URI."""
    line: int
    """0-based script line holding a scheduling call."""


class StepChangeResult(_Msg):
    """What the scheduling call(s) on a script line did to the proc."""

    step: int | None
    """Index of the (last top-level) step on the line; None when the line has none."""
    op: str | None = None
    ok: bool = True
    error: str | None = None
    before_uri: str | None = None
    """``exo-proc:`` view of the proc before the line's first step."""
    after_uri: str | None = None
    """``exo-proc:`` view of the proc after the line's last step."""
    diff: str = ""
    """Unified diff of the two proc texts (empty when the step changed nothing)."""
    removed: list[LineSpan] = []
    added: list[LineSpan] = []


class TrustChangedParams(_Msg):
    trusted: bool


class SimulateArgs(_Msg):
    """Argument of ``workspace/executeCommand`` ``exo.compileAndSimulate``."""

    uri: str
    proc: str | None = None
    step: int | Literal["last"] | None = None
    compiler: Literal["zig", "gcc"] = "zig"


class SimulateResponse(_Msg):
    result: SimulationResult | None
    report: str
    """Markdown report."""
    error: str | None = None


class ShowArgs(_Msg):
    """Argument of the ``exo.showProc`` / ``exo.showC`` / ``exo.showDiff`` commands."""

    uri: str
    """The script's URI."""
    proc: str | None = None
    step: int | Literal["last"] | None = None
    """Step index (``-1``: the proc as defined); the last step when omitted."""


class ShowResult(_Msg):
    uri: str
    """The document shown: an ``exo-proc:``/``exo-c:`` view for clients that read virtual
    documents, otherwise a read-only file kept current under the user cache folder."""
    shown: bool
    """Whether the client was asked to show it (``window/showDocument``)."""


@dataclass(frozen=True)
class Method:
    name: str
    kind: Literal["request", "notification", "command"]
    direction: Literal["client->server", "server->client"]
    params: type
    result: type | None
    doc: str


METHODS = [
    Method("exo/runStatus", "notification", "server->client", RunStatusParams, None, RunStatusParams.__doc__),
    Method("exo/steps", "request", "client->server", StepsParams, StepsResult, "The scheduling steps of the last run of a script."),
    Method("exo/viewText", "request", "client->server", ViewTextParams, ViewTextResult, "Text of a virtual document (proc or C at a step)."),
    Method("exo/viewsChanged", "notification", "server->client", ViewsChangedParams, None, "A script was re-run: re-read its open views."),
    Method("exo/viewMap", "request", "client->server", ViewMapParams, ViewMapResult, "Source map of a view: each statement's lines in the proc and C views, its algorithm origin and the steps that made and last changed it."),
    Method("exo/stepDiff", "request", "client->server", StepDiffParams, StepDiffResult, "Diff of a proc between two steps: both sides as view URIs and as a unified diff."),
    Method("exo/stepChange", "request", "client->server", StepChangeParams, StepChangeResult, "What the scheduling call on a script line changed in the proc."),
    Method("exo/trustChanged", "notification", "client->server", TrustChangedParams, None, "The workspace was trusted: start running scripts."),
    Method("exo.showProc", "command", "client->server", ShowArgs, ShowResult, "Show the proc after a step (a view file where the client has no virtual documents)."),
    Method("exo.showC", "command", "client->server", ShowArgs, ShowResult, "Show the C generated for the proc after a step."),
    Method("exo.showDiff", "command", "client->server", ShowArgs, ShowResult, "Show the diff of a step against the step before it."),
    Method("exo.compileAndSimulate", "command", "client->server", SimulateArgs, SimulateResponse, "Compile a proc at a step for RV32+RVM, simulate, compare with the algorithm."),
    Method("exo.suggestSchedule", "command", "client->server", SuggestArgs, SuggestResult, "Search for schedules from the step at a line, in the background, with progress; results stream as exo/suggestions."),
    Method("exo.cancelSuggestions", "command", "client->server", SuggestCancelArgs, SuggestCancelResult, "Stop the script's running search (its results so far stay)."),
    Method("exo.insertSuggestion", "command", "client->server", SuggestInsertArgs, SuggestInsertResult, "Insert a suggested next step or whole schedule after its step (a versioned workspace edit)."),
    Method("exo/suggestions", "notification", "server->client", SuggestionsParams, None, "A search's state and ranked results (next steps, whole schedules), sent as they improve."),
]
