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
    """``exo-proc:<script path>?proc=<name>&step=<n|last>`` or ``exo-c:`` the same way."""


class ViewTextResult(_Msg):
    text: str
    version: int
    """Changes whenever the view's content may have changed."""


class ViewsChangedParams(_Msg):
    script_uri: str


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
    Method("exo/trustChanged", "notification", "client->server", TrustChangedParams, None, "The workspace was trusted: start running scripts."),
    Method("exo.compileAndSimulate", "command", "client->server", SimulateArgs, SimulateResponse, "Compile a proc at a step for RV32+RVM, simulate, compare with the algorithm."),
]
