""""Suggest Schedule" for every editor: the server-side commands ``exo.suggestSchedule``
(start a search from the step at a line, in the background), ``exo.cancelSuggestions`` and
``exo.insertSuggestion`` (a next step or a whole schedule, as a versioned edit), and a
"Suggest schedule" code lens on each scheduling line. The searches themselves are
``lsp/suggest.py``'s."""

from __future__ import annotations

from typing import Any

import msgspec
from lsprotocol import types as lsp

from exo_lsp_protocol import messages as m

SUGGEST, CANCEL, INSERT = "exo.suggestSchedule", "exo.cancelSuggestions", "exo.insertSuggestion"
LENS_TITLE = "Suggest schedule"


def lenses(ls, uri: str) -> list[lsp.CodeLens]:
    """One lens per top-level scheduling line of the script's current trace."""
    from ..suggest import best_action

    trace = ls.trace_for(uri)
    if trace is None or uri.startswith(("exo-proc:", "exo-c:")):
        return []
    out, seen = [], set()
    for s in trace.steps:
        if s.parent is not None or not s.ok or s.proc_out is None or s.line in seen:
            continue
        seen.add(s.line)
        at = lsp.Position(line=s.range.start.line, character=s.range.start.character)
        title = LENS_TITLE
        job = ls.suggestions.jobs.get(uri)
        if job is not None and job.step == s.index and job.result is not None and job.state != "stale":
            best = best_action(job.result)
            if best is not None:
                title += f" ({job.state}: best {best.cycles:,} cycles, {best.speedup:.1f}x)"
        out.append(lsp.CodeLens(range=lsp.Range(start=at, end=at),
                                command=lsp.Command(title=title, command=SUGGEST, arguments=[{"uri": uri, "step": s.index}])))
    return out


def annotate(ls, uri: str, actions: list[lsp.CodeAction]) -> list[lsp.CodeAction]:
    """Code actions whose step a search ranked get its estimate in their title, best first."""
    got = ls.script_text(uri)
    if got is None or not actions:
        return actions
    rated, rest = [], []
    for a in actions:
        data = a.data if isinstance(a.data, dict) else {}
        est = ls.suggestions.estimate(uri, got[1], data.get("step"), data.get("call", "")) if data.get("call") else None
        if est is None:
            rest.append(a)
            continue
        cycles, speedup = est
        speed = f", {speedup:.1f}x" if speedup else ""
        rated.append((cycles, len(rated), _retitled(a, f"{a.title} → best found {cycles:,} cycles{speed}")))
    return [a for _, _, a in sorted(rated, key=lambda x: x[:2])] + rest


def _retitled(a: lsp.CodeAction, title: str) -> lsp.CodeAction:
    import attrs

    return attrs.evolve(a, title=title)


def register(server) -> None:
    from ..server import params_as
    from ..suggest import Suggestions

    server.suggestions = Suggestions(server)
    server.change_listeners.append(lambda ls, uri: ls.suggestions.changed(uri))
    server.close_listeners.append(lambda ls, uri: ls.suggestions.closed(uri))
    server.shutdown_hooks.append(lambda ls: ls.suggestions.shutdown())

    @server.command(SUGGEST)
    async def on_suggest(ls, *items: Any) -> dict:
        if not items:
            raise ValueError(f"{SUGGEST} takes one argument {{uri, line?, step?, budget?, timeLimit?, seed?}}")
        return msgspec.to_builtins(await ls.suggestions.start(params_as(items[0], m.SuggestArgs)))

    @server.command(CANCEL)
    async def on_cancel(ls, *items: Any) -> dict:
        if not items:
            raise ValueError(f"{CANCEL} takes one argument {{uri}}")
        args = params_as(items[0], m.SuggestCancelArgs)
        return msgspec.to_builtins(m.SuggestCancelResult(cancelled=ls.suggestions.cancel(args.uri)))

    @server.command(INSERT)
    async def on_insert(ls, *items: Any) -> dict:
        if not items:
            raise ValueError(f"{INSERT} takes one argument {{uri, what, index}}")
        return msgspec.to_builtins(await ls.suggestions.insert(params_as(items[0], m.SuggestInsertArgs)))

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_CODE_LENS, join_lists=True)
    async def on_code_lens(ls, params: lsp.CodeLensParams):
        if not ls.trusted:
            return None
        return lenses(ls, params.text_document.uri) or None
