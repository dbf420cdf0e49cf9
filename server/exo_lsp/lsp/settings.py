"""Initialization options, read once as a typed Struct.

A client may send any JSON; a value of the wrong type or out of range must not fail
``initialize`` (the editor would show a dead server). Each bad option falls back to its
default and is named in one message to the user.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

Seconds = Annotated[float, msgspec.Meta(gt=0)]
Millis = Annotated[float, msgspec.Meta(ge=0)]


class InitOptions(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    trusted: bool | None = None  # None: the client did not say (the server asks)
    timeout_seconds: Seconds = 300.0  # wall time of one run (Exo's largest apps take minutes)
    memory_mb: Annotated[int, msgspec.Meta(ge=0)] = 8192  # address-space limit of a worker (0: none)
    worker_python: str | None = None  # interpreter for the worker; default the server's
    debounce_ms: Millis = 300.0
    action_budget_ms: Millis = 700.0  # code actions: validation time per request
    virtual_documents: bool = False  # the client reads exo-proc:/exo-c: views (our VS Code extension)
    max_workers: Annotated[int, msgspec.Meta(ge=1)] = 4  # live workers, one per open script (LRU beyond)
    idle_worker_seconds: Millis = 30.0  # a closed script's worker is stopped after this long


_FIELD = re.compile(r"at `\$\.(\w+)`")


def read_options(raw) -> tuple[InitOptions, list[str]]:
    """The options, and a note per option that was ignored for being invalid."""
    if raw is None:
        return InitOptions(), []
    if not isinstance(raw, dict):
        return InitOptions(), [f"initializationOptions must be an object, not {type(raw).__name__}"]
    given = dict(raw)
    notes = []
    while True:
        try:
            return msgspec.convert(given, InitOptions), notes
        except msgspec.ValidationError as exc:
            m = _FIELD.search(str(exc))
            if m is None or m[1] not in given:
                return InitOptions(), notes + [str(exc)]
            notes.append(f"{m[1]}: {str(exc).split(' - at ')[0]} (got {given.pop(m[1])!r}; using the default)")
