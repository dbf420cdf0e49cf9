"""Quick fixes for the script's diagnostics: a pattern that matched nothing is replaced by
each near miss that really applies at that step (checked by running the op with it)."""

from __future__ import annotations

import logging

from lsprotocol import types as lsp

from ...shared.contract import CheckFixesParams
from .actions import CODE_ACTION_OPTIONS, workspace_edit

log = logging.getLogger("exo_lsp.quickfix")


def _wants_quickfix(params: lsp.CodeActionParams) -> bool:
    only = params.context.only
    return not only or any(lsp.CodeActionKind.QuickFix.startswith(k) for k in only)


def _same_range(a: lsp.Range, b) -> bool:
    return (a.start.line, a.start.character, a.end.line, a.end.character) == (
        b.start.line, b.start.character, b.end.line, b.end.character)


async def quick_fixes(ls, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    from ..server import to_lsp_range

    uri = params.text_document.uri
    trace = ls.trace_for(uri)
    got = ls.script_text(uri)
    if trace is None or got is None or trace.version != got[1]:
        return []  # diagnostics of another version: their ranges may not hold
    out = []
    for diag in params.context.diagnostics:
        if diag.source != "exo" or diag.code != "pattern-no-match":
            continue
        problem = next((p for p in trace.problems if p.code == diag.code and p.step is not None
                        and _same_range(diag.range, p.range)), None)
        if problem is None or not problem.fixes:
            continue
        step = trace.steps[problem.step]
        arg = next((a for a in step.arguments if a.range is not None and _same_range(diag.range, a.range)), None)
        if arg is None:
            continue
        try:
            checked = await ls.engine.query(trace.path, CheckFixesParams(
                step=step.index, argument=arg.name, candidates=problem.fixes, version=trace.version))
        except RuntimeError as exc:
            log.warning("checking quick fixes failed: %s", exc)
            continue
        for i, text in enumerate(checked.working if checked else []):
            out.append(lsp.CodeAction(
                title=f"Replace with {text}",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diag],
                is_preferred=i == 0 and len(checked.working) == 1,
                edit=workspace_edit(ls, uri, trace.version, [lsp.TextEdit(range=to_lsp_range(arg.range), new_text=text)]),
            ))
    return out


def register(server) -> None:
    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_CODE_ACTION, CODE_ACTION_OPTIONS, join_lists=True)
    async def on_code_action(ls, params: lsp.CodeActionParams):
        if not ls.trusted or not params.context.diagnostics or not _wants_quickfix(params):
            return None
        return await quick_fixes(ls, params) or None
