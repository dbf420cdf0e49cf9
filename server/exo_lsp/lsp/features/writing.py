"""Writing schedules: completion, signature help, "Bind what <op> created", and hovers on
the names such lines bind.

* ``textDocument/completion``: what the proc at that step really has — statements for
  pattern strings, windows, memories, instrs, names, divisors, cursor navigation (see
  ``exo_lsp.worker.queries.complete``). It works on the line being typed: the worker
  completes against the script's last run that recorded steps. Items are filtered here by
  the text typed so far and the list is marked incomplete, so the client asks again as the
  user types (answers come from the worker's caches).
* ``textDocument/signatureHelp``: Exo's signature and doc of the op or cursor method, the
  active parameter, and what the argument under the cursor selects now.
* ``textDocument/codeAction``: on a step that created nodes, one action inserting a line per
  node, ``name = <cursor expression>``, each checked against the step's output proc.
* ``textDocument/hover`` on a name bound to a cursor (``tile_alloc`` of
  ``tile_alloc = p.find("tile : _")``, or a later use of it): the node it selects.

The scanner that reads the call under the cursor (``shared/callsite.py``) runs here first,
so positions where nothing can be completed never reach the worker.
"""

from __future__ import annotations

import ast
import logging
import re

from lsprotocol import types as lsp

from ...shared.callsite import call_site
from ...shared.contract import BindParams, CompleteParams, HoverParams, SignatureParams
from ...shared.trace import Position, Trace
from .actions import workspace_edit
from .views import in_script

log = logging.getLogger("exo_lsp.writing")

TRIGGERS = ['"', "'", ".", "(", ",", " ", "["]

_KINDS = {
    "loop": lsp.CompletionItemKind.Keyword,
    "pair": lsp.CompletionItemKind.Keyword,
    "if": lsp.CompletionItemKind.Keyword,
    "alloc": lsp.CompletionItemKind.Variable,
    "assign": lsp.CompletionItemKind.Field,
    "reduce": lsp.CompletionItemKind.Field,
    "call": lsp.CompletionItemKind.Function,
    "instr": lsp.CompletionItemKind.Function,
    "gap": lsp.CompletionItemKind.Reference,
    "window": lsp.CompletionItemKind.Value,
    "memory": lsp.CompletionItemKind.Class,
    "names": lsp.CompletionItemKind.Text,
    "divisor": lsp.CompletionItemKind.Value,
    "method": lsp.CompletionItemKind.Method,
}


def _markdown(ls, feature: str) -> bool:
    """Whether the client renders Markdown documentation in completion items or signatures."""
    caps = getattr(getattr(ls, "client_capabilities", None), "text_document", None)
    if feature == "completion":
        item = getattr(getattr(caps, "completion", None), "completion_item", None)
        formats = getattr(item, "documentation_format", None)
    else:
        info = getattr(getattr(caps, "signature_help", None), "signature_information", None)
        formats = getattr(info, "documentation_format", None)
    return bool(formats) and lsp.MarkupKind.Markdown in formats


def _documentation(text: str, markdown: bool):
    if not text:
        return None
    if markdown:
        return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)
    # plain text: the same words and code, without the fences
    return "\n".join(ln for ln in text.splitlines() if not ln.startswith("```"))


def _uri_path(uri: str) -> str:
    from ..server import uri_to_path

    return uri_to_path(uri)


async def _ask(ls, uri: str, params):
    try:
        return await ls.engine.query(_uri_path(uri), params)
    except Exception as exc:  # the worker restarted or failed: no items rather than an error
        log.warning("%s failed: %s", type(params).__name__, exc)
        return None


def _typed(text: str, line: int, start: int, character: int) -> str:
    from ...shared.positions import col_slice

    lines = text.splitlines()
    return col_slice(lines[line], start, character) if line < len(lines) else ""


def _schedule_text(ls, uri: str) -> str | None:
    """The editor's text of a schedule script we may run, or None."""
    if not ls.trusted:
        return None
    got = ls.script_text(uri)
    return got[0] if got is not None and ls.is_schedule(got[0]) else None


async def completion(ls, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    uri = params.text_document.uri
    text = _schedule_text(ls, uri)
    if text is None:
        return None
    pos = params.position
    site = call_site(text, pos.line, pos.character)
    if site.callee is None and site.member_of is None:
        return None
    res = await _ask(ls, uri, CompleteParams(text=text, line=pos.line, character=pos.character))
    if res is None:
        return None
    markdown = _markdown(ls, "completion")
    items = []
    for e in res.items:
        line, start, end = e.range
        typed = _typed(text, line, start, pos.character)
        if typed and not e.filter.startswith(typed):
            continue
        items.append(
            lsp.CompletionItem(
                label=e.label,
                kind=_KINDS.get(e.kind, lsp.CompletionItemKind.Text),
                detail=e.detail or None,
                documentation=_documentation(e.doc, markdown),
                sort_text=e.sort or None,
                filter_text=e.filter,
                text_edit=lsp.TextEdit(
                    range=lsp.Range(start=lsp.Position(line=line, character=start), end=lsp.Position(line=line, character=end)),
                    new_text=e.insert,
                ),
                data={"kind": e.kind, "where": res.where},
            )
        )
    return lsp.CompletionList(is_incomplete=True, items=items)


async def signature_help(ls, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
    uri = params.text_document.uri
    text = _schedule_text(ls, uri)
    if text is None:
        return None
    pos = params.position
    if call_site(text, pos.line, pos.character).callee is None:
        return None
    res = await _ask(ls, uri, SignatureParams(text=text, line=pos.line, character=pos.character))
    if res is None:
        return None
    doc = res.doc
    if res.selects:
        doc = f"{doc}\n\n**Selects now:**\n\n{res.selects}" if doc else res.selects
    sig = lsp.SignatureInformation(
        label=res.label,
        documentation=_documentation(doc, _markdown(ls, "signature")),
        parameters=[lsp.ParameterInformation(label=p.label, documentation=p.doc or None) for p in res.parameters],
        active_parameter=res.active,
    )
    return lsp.SignatureHelp(signatures=[sig], active_signature=0, active_parameter=res.active)


# ----------------------------------------------------------------------------- bind


def _names_in(text: str) -> list[str]:
    return sorted(set(re.findall(r"\b[A-Za-z_]\w*\b", text)))


async def bind_actions(ls, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
    from .actions import eligible_vars, script_info

    if not ls.trusted or not in_script(ls, params):
        return None
    if params.context.only and not any(
        "refactor.rewrite.exo.bind".startswith(k) or k.startswith("refactor.rewrite.exo.bind") for k in params.context.only
    ):
        return None
    uri = params.text_document.uri
    trace = ls.trace_for(uri)
    got = ls.script_text(uri)
    if trace is None or got is None or trace.version != got[1]:
        return None  # the trace is of an older text: never block the editor on a run
    text, version = got
    line = params.range.start.line
    steps = [s for s in trace.steps if s.parent is None and s.range.start.line <= line <= s.range.end.line]
    if not steps:
        return None
    step = steps[-1]
    eligible = eligible_vars(trace, script_info(uri, text, version))
    if str(step.index) not in eligible:
        return None
    var, ins = eligible[str(step.index)]
    res = await _ask(ls, uri, BindParams(step=step.index, var=var, taken=_names_in(text), version=trace.version))
    if res is None or not res.lines:
        return None
    new = "".join(f"{ins.indent}{b.name} = {b.expr}\n" for b in res.lines)
    if ins.at_eof_without_newline:
        edit = lsp.TextEdit(range=lsp.Range(start=lsp.Position(ins.line - 1, 10**6), end=lsp.Position(ins.line - 1, 10**6)),
                            new_text="\n" + new.rstrip("\n"))
    else:
        edit = lsp.TextEdit(range=lsp.Range(start=lsp.Position(ins.line, 0), end=lsp.Position(ins.line, 0)), new_text=new)
    return [
        lsp.CodeAction(
            title=f"Bind what {res.op} created ({len(res.lines)} cursor{'s' if len(res.lines) != 1 else ''})",
            kind="refactor.rewrite.exo.bind",
            edit=workspace_edit(ls, uri, version, [edit]),
            data={"uri": uri, "version": version, "step": step.index, "group": "bind",
                  "lines": [f"{b.name} = {b.expr}" for b in res.lines],
                  "nodes": [{"name": b.name, "kind": b.kind, "text": b.text} for b in res.lines]},
        )
    ]


# ----------------------------------------------------------------------------- hover on bound names


def bound_lookup(trace: Trace, text: str, pos: Position) -> int | None:
    """The lookup a name at `pos` is bound to: ``name = <cursor expression>`` written in the
    script, the latest such assignment at or before the position."""
    lines = text.splitlines()
    if pos.line >= len(lines):
        return None
    from ...shared.positions import col_to_index

    cur = lines[pos.line]
    i = col_to_index(cur, pos.character)
    for m in re.finditer(r"[A-Za-z_]\w*", cur):
        if m.start() <= i <= m.end():
            name = m.group()
            break
    else:
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    best = None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name and node.lineno - 1 <= pos.line):
            if best is None or node.lineno > best.lineno:
                best = node
    if best is None:
        return None
    v = best.value
    from ...shared.positions import LineIndex

    rng = LineIndex(text).range(v.lineno, v.col_offset, v.end_lineno, v.end_col_offset)
    found = [lk.index for lk in trace.lookups if lk.range == rng]
    return found[-1] if found else None


async def hover_bound(ls, params: lsp.HoverParams) -> lsp.Hover | None:
    from .resolve import current_trace

    uri = params.text_document.uri
    trace = await current_trace(ls, uri, force=True)
    got = ls.script_text(uri)
    if trace is None or got is None or trace.version != got[1]:
        return None
    idx = bound_lookup(trace, got[0], Position(params.position.line, params.position.character))
    if idx is None:
        return None
    res = await _ask(ls, uri, HoverParams(what="lookup", version=trace.version, lookup=idx))
    if res is None:
        return None
    return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=res.markdown))


def register(server) -> None:
    server.dispatcher.handle(
        lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=TRIGGERS), applies=in_script
    )(completion)
    server.dispatcher.handle(
        lsp.TEXT_DOCUMENT_SIGNATURE_HELP, lsp.SignatureHelpOptions(trigger_characters=["(", ","]), applies=in_script
    )(signature_help)
    # code actions are joined with the transforms of features/actions.py (both say join_lists)
    server.dispatcher.handle(lsp.TEXT_DOCUMENT_CODE_ACTION, join_lists=True)(bind_actions)
    # asked after resolve's hover, which answers for arguments and lookups themselves
    server.dispatcher.handle(lsp.TEXT_DOCUMENT_HOVER, applies=in_script)(hover_bound)
