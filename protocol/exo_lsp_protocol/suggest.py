"""Messages of "Suggest Schedule": a schedule search started from a step of the script,
running in its own worker, whose results stream to the editor as they improve.

Results belong to a script version: an edit at or above the step makes them ``stale``
(an edit below the step keeps them, re-versioned).
"""

from __future__ import annotations

from typing import Literal

import msgspec


class _Msg(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=False):
    pass


SuggestState = Literal["running", "done", "cancelled", "stale", "failed"]


class SuggestArgs(_Msg):
    """Argument of ``exo.suggestSchedule``: search from the step at ``line`` (the last
    scheduling step on or above it) or from ``step``."""

    uri: str
    line: int | None = None
    """0-based line of the script (the cursor)."""
    step: int | None = None
    """Trace step index; wins over ``line``."""
    budget: int = 60
    """Distinct procs to simulate."""
    time_limit: float = 600.0
    """Seconds after which the search stops with what it has."""
    seed: int = 0


class SuggestedStep(_Msg):
    """A next step from the search's start, judged by the best complete schedule found
    through it."""

    rank: int
    """0 is the best."""
    label: str
    """The action, as the search names it (a transform call or a recipe)."""
    calls: list[str]
    """Its scheduling calls on ``p`` (a recipe is several)."""
    text: str
    """The lines ``exo.insertSuggestion`` inserts, in the script's variable and indent."""
    cycles: int | None
    """Cycles of the best complete schedule through it; None: none simulated correctly yet."""
    speedup: float | None
    """That schedule's speedup over the algorithm."""
    correct: bool
    """Whether that schedule's outputs were bit-exact with the algorithm."""
    evaluations: int
    """Complete schedules through it that were simulated."""
    schedule: list[str] = []
    """The calls of that best complete schedule (this step's first)."""
    labels: list[str] = []
    """Its actions."""


class SuggestedSchedule(_Msg):
    """A whole schedule found, from the search's start."""

    rank: int
    labels: list[str]
    calls: list[str]
    text: str
    """The lines ``exo.insertSuggestion`` inserts for it."""
    cycles: int
    speedup: float | None
    correct: bool = True


class SuggestionsParams(_Msg):
    """Notification ``exo/suggestions``: the state and ranked results of a search."""

    uri: str
    version: int | None
    """The script version the results belong to."""
    step: int
    """The trace step the search started after."""
    line: int
    """0-based line of that step's call."""
    proc: str
    state: SuggestState
    evaluations: int = 0
    budget: int = 0
    cached: int = 0
    """Evaluations answered from the cache of earlier searches (it survives edits)."""
    seconds: float = 0.0
    start_cycles: int | None = None
    """Cycles of the proc at the step, before any suggestion."""
    start_speedup: float | None = None
    steps: list[SuggestedStep] = []
    """Ranked next steps, best first."""
    schedules: list[SuggestedSchedule] = []
    """The best whole schedules, best first."""
    message: str = ""
    file: str | None = None
    """URI of the Markdown file kept current with these results (editors without our view)."""


class SuggestResult(_Msg):
    """What ``exo.suggestSchedule`` answers at once; results follow as ``exo/suggestions``."""

    started: bool
    uri: str
    version: int | None = None
    step: int | None = None
    line: int | None = None
    file: str | None = None
    error: str | None = None


class SuggestCancelArgs(_Msg):
    """Argument of ``exo.cancelSuggestions``."""

    uri: str


class SuggestCancelResult(_Msg):
    cancelled: bool
    """Whether a search was running."""


class SuggestInsertArgs(_Msg):
    """Argument of ``exo.insertSuggestion``."""

    uri: str
    what: Literal["step", "schedule"] = "step"
    """The next step (``index`` into ``steps``) or a whole schedule (into ``schedules``)."""
    index: int = 0


class SuggestInsertResult(_Msg):
    applied: bool
    """Whether the client applied the edit (``workspace/applyEdit``)."""
    version: int | None = None
    """The document version the edit was made for."""
    line: int | None = None
    """0-based line the text was inserted before."""
    text: str = ""
    """The inserted text."""
    error: str | None = None
