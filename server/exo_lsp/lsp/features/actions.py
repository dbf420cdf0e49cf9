"""Code actions: scheduling transforms that really apply here, validated, with a preview.

Places (``textDocument/codeAction``):

* on a pattern string or cursor argument of a scheduling call in the script: transforms of
  the node(s) it selected, as they are after that step;
* anywhere else on a scheduling call: transforms of the whole proc after that step
  (instruction replacements, ``simplify``);
* on a statement of an algorithm ``@proc``: transforms of what that statement became at
  the end of the schedule;
* on a statement of a proc view (``exo-proc:`` document): transforms of that statement
  at the view's step.

Each action inserts one line, ``<var> = <call>``, after the step (in the script). The
worker enumerates candidates and validates each by evaluating that very call on the proc
(``exo_lsp.worker.queries.actions``); ``codeAction/resolve`` adds the preview as ``data.preview``:
``{title, call, proc, before, after, diff}`` — the proc before and after, as the proc view
prints them, and their unified diff. ``data`` also carries ``line`` (the inserted line),
``group`` (replace, memory_fix, divide, reorder, ...) and ``note`` (why a memory fix is
offered).

Validation has a time budget per request (``actionBudgetMs``, default 700 ms): what is not
validated in time is finished by background queries, so a later request at the same place
answers from the worker's cache. Unvalidated candidates are never offered.
"""

from __future__ import annotations

import ast
import asyncio
import logging
from dataclasses import dataclass
import msgspec
from lsprotocol import types as lsp

from ...shared.contract import ActionInfo, ActionList, ActionsParams, Place, PreviewParams
from ...shared.trace import Position, Step, Trace
from .show import client_can

log = logging.getLogger("exo_lsp.actions")

DEFAULT_BUDGET_MS = 700.0
BACKGROUND_CHUNK_MS = 400.0


# ----------------------------------------------------------------------------- script text


@dataclass
class Insertion:
    var: str  # the proc variable the step assigns
    line: int  # 0-based line the new line goes before
    indent: str
    at_eof_without_newline: bool = False


def _loops_around(tree: ast.AST) -> dict[int, bool]:
    """id(statement) -> whether it sits in a Python loop (inserting there would repeat)."""
    out: dict[int, bool] = {}

    def walk(node, in_loop: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                out[id(child)] = in_loop
            nested = in_loop or isinstance(child, (ast.For, ast.While, ast.AsyncFor))
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                nested = False
            walk(child, nested)

    walk(tree, False)
    return out


class ScriptInfo:
    """What the actions need from a script's text: where each step's line can go."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines()
        try:
            self.tree: ast.Module | None = ast.parse(text)
        except SyntaxError:
            self.tree = None
        self._assigns: list[ast.Assign] = []
        self._procs: list[tuple[int, int]] = []  # algorithm @proc bodies: 0-based [first, last]
        if self.tree is None:
            return
        in_loop = _loops_around(self.tree)
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and not in_loop.get(id(node), False)
            ):
                self._assigns.append(node)
            if isinstance(node, ast.FunctionDef) and any(_is_proc_decorator(d) for d in node.decorator_list):
                if node.body:
                    self._procs.append((node.body[0].lineno - 1, (node.end_lineno or node.lineno) - 1))

    def insertion_for(self, step: Step) -> Insertion | None:
        r = step.range
        for node in self._assigns:
            call = node.value
            if call.lineno - 1 == r.start.line and (call.end_lineno or call.lineno) - 1 == r.end.line:
                end = node.end_lineno or node.lineno
                line_text = self.lines[node.lineno - 1] if node.lineno - 1 < len(self.lines) else ""
                indent = line_text[: len(line_text) - len(line_text.lstrip())]
                eof = end >= len(self.lines) and not self.text.endswith("\n")
                return Insertion(node.targets[0].id, end, indent, eof)
        return None

    def in_algorithm(self, line: int) -> bool:
        return any(a <= line <= b for a, b in self._procs)


def _is_proc_decorator(d: ast.expr) -> bool:
    f = d.func if isinstance(d, ast.Call) else d
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    return name in ("proc", "instr")


_SCRIPTS: dict[tuple[str, int | None], ScriptInfo] = {}


def script_info(uri: str, text: str, version: int | None) -> ScriptInfo:
    key = (uri, version)
    info = _SCRIPTS.get(key)
    if info is None or info.text != text:
        if len(_SCRIPTS) > 16:
            _SCRIPTS.clear()
        info = _SCRIPTS[key] = ScriptInfo(text)
    return info


def eligible_vars(trace: Trace, info: ScriptInfo) -> dict[str, tuple[str, Insertion]]:
    """step index -> (proc variable, where its line goes), for steps an action may follow:
    top-level, ran once, written as ``var = op(...)`` outside any Python loop."""
    top = [s for s in trace.steps if s.parent is None and s.ok and s.proc_out is not None]
    ranges: dict[tuple, int] = {}
    for s in trace.steps:
        if s.parent is None:
            key = (s.range.start.line, s.range.start.character, s.range.end.line, s.range.end.character)
            ranges[key] = ranges.get(key, 0) + 1
    out = {}
    for s in top:
        key = (s.range.start.line, s.range.start.character, s.range.end.line, s.range.end.character)
        if ranges[key] != 1:
            continue
        ins = info.insertion_for(s)
        if ins is not None:
            out[str(s.index)] = (ins.var, ins)
    return out


# ----------------------------------------------------------------------------- places


def _contains(r, pos: Position) -> bool:
    return (r.start.line, r.start.character) <= (pos.line, pos.character) <= (r.end.line, r.end.character)


def script_place(trace: Trace, info: ScriptInfo, pos: Position) -> tuple[int | None, Place] | None:
    """(step, place) for a position in the script, or None when nothing applies there."""
    hits = [s for s in trace.steps if s.parent is None and _contains(s.range, pos)]
    if hits:
        s = min(hits, key=lambda s: (s.range.end.line - s.range.start.line, s.range.end.character - s.range.start.character))
        for a in s.arguments:
            if a.range is not None and a.kind in ("pattern", "cursor") and _contains(a.range, pos):
                return s.index, Place(kind="arg", arg=a.name)
        return s.index, Place(kind="proc")
    if info.in_algorithm(pos.line):
        return None, Place(kind="algo_line", line=pos.line)
    return None


# ----------------------------------------------------------------------------- LSP


def _budget(ls) -> float | None:
    b = getattr(ls, "action_budget_ms", DEFAULT_BUDGET_MS)
    return None if b is None or b <= 0 else float(b)


async def compute_actions(ls, uri: str, pos: Position) -> list[lsp.CodeAction]:
    from ..server import path_to_uri, uri_to_path
    from .views import parse_view_uri, select_handle

    handle = None
    if uri.startswith("exo-proc:"):
        ref = parse_view_uri(uri)
        script_uri = path_to_uri(ref.script_path)
        trace = ls.trace_for(script_uri)
        if trace is None:
            return []
        try:
            handle, step = select_handle(trace, ref.proc, ref.step)
        except ValueError:
            return []
        if step is None or step.parent is not None or not step.ok:
            return []
        step_index: int | None = step.index
        place = Place(kind="view_line", line=pos.line)
    else:
        script_uri = uri
        trace = ls.trace_for(uri)
        if trace is None:
            return []
        found = None
    got = ls.script_text(script_uri)
    if got is None or trace.version != got[1]:
        return []  # the trace is of an older text: never block the editor on a run
    text, version = got
    info = script_info(script_uri, text, version)
    eligible = eligible_vars(trace, info)
    if not uri.startswith("exo-proc:"):
        found = script_place(trace, info, pos)
        if found is None:
            return []
        step_index, place = found
        if step_index is not None and str(step_index) not in eligible:
            return []
    vars_ = {k: v[0] for k, v in eligible.items()}
    if step_index is not None:
        if str(step_index) not in vars_:
            return []
        vars_ = {str(step_index): vars_[str(step_index)]}
    params = ActionsParams(step=step_index, handle=handle, place=place, vars=vars_, budget_ms=_budget(ls))
    # The same request on the same version gets the same menu: the first answer is kept
    # (what it could not validate in time is offered unchecked and validated when chosen).
    cache_key = (uri, version, msgspec.json.encode(params))
    cached = _answers.get(cache_key)
    if cached is not None:
        return cached
    path = uri_to_path(script_uri)
    try:
        result = await ls.engine.query(path, params)
    except Exception as exc:
        log.warning("code actions failed: %s", exc)
        return []
    if result.pending:
        _continue_in_background(ls, path, msgspec.structs.replace(params, step=result.step), script_uri, version)
    step_key = str(result.step)
    if step_key not in eligible:
        return []
    var, ins = eligible[step_key]
    answer = [_code_action(ls, script_uri, version, result, a, ins) for a in result.actions]
    if len(_answers) >= 256:
        _answers.pop(next(iter(_answers)))
    _answers[cache_key] = answer
    return answer


_answers: dict[tuple, list[lsp.CodeAction]] = {}  # (document, version, request) -> the menu given


def workspace_edit(ls, uri: str, version, edits: list[lsp.TextEdit]) -> lsp.WorkspaceEdit:
    """Versioned `documentChanges` where the client supports them, plain `changes` otherwise."""
    if client_can(ls, "workspace", "workspace_edit", "document_changes"):
        return lsp.WorkspaceEdit(document_changes=[
            lsp.TextDocumentEdit(text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version), edits=edits)
        ])
    return lsp.WorkspaceEdit(changes={uri: edits})


def _code_action(ls, script_uri: str, version, result: ActionList, a: ActionInfo, ins: Insertion) -> lsp.CodeAction:
    new_line = f"{ins.indent}{ins.var} = {a.call}"
    if ins.at_eof_without_newline:
        edit = lsp.TextEdit(range=lsp.Range(start=lsp.Position(ins.line - 1, 10**6), end=lsp.Position(ins.line - 1, 10**6)),
                            new_text="\n" + new_line)
    else:
        edit = lsp.TextEdit(range=lsp.Range(start=lsp.Position(ins.line, 0), end=lsp.Position(ins.line, 0)),
                            new_text=new_line + "\n")
    return lsp.CodeAction(
        title=a.title,
        kind=a.kind,
        edit=workspace_edit(ls, script_uri, version, [edit]),
        data={
            "uri": script_uri,
            "version": version,
            "step": result.step,
            "handle": result.handle,
            "var": result.var,
            "call": a.call,
            "group": a.group,
            "title": a.title,
            "line": new_line.strip(),
            "note": a.note,
            "checked": a.checked,
        },
    )


_background: dict[str, asyncio.Task] = {}


def _continue_in_background(ls, path: str, params: ActionsParams, script_uri: str, version) -> None:
    """Validate what the budget left out, in small chunks, while the text stays the same."""
    old = _background.get(path)
    if old is not None and not old.done():
        old.cancel()

    async def run():
        for _ in range(50):
            got = ls.script_text(script_uri)
            if got is None or got[1] != version:
                return
            try:
                r = await ls.engine.query(path, msgspec.structs.replace(params, budget_ms=BACKGROUND_CHUNK_MS))
            except Exception:
                return
            if not r.pending:
                return
            await asyncio.sleep(0.05)

    _background[path] = asyncio.get_running_loop().create_task(run())


async def resolve_action(ls, action: lsp.CodeAction) -> lsp.CodeAction:
    from ..server import uri_to_path

    data = action.data if isinstance(action.data, dict) else {}
    if not data.get("call"):
        return action
    try:
        params = msgspec.convert({k: data[k] for k in ("handle", "var", "call", "step", "title") if k in data}, PreviewParams)
        preview = await ls.engine.query(uri_to_path(data["uri"]), params)
    except Exception as exc:
        log.warning("preview failed: %s", exc)
        if data.get("checked") is False and "does not apply" in str(exc):
            # offered before it was validated, and it turned out not to apply: nothing to do
            reason = str(exc).split("ValueError: ", 1)[-1]
            action.edit = None
            action.disabled = lsp.CodeActionDisabled(reason=reason)
            ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Warning, message=f"Exo: {reason}"))
        return action
    action.data = {**data, "preview": msgspec.to_builtins(preview)}
    return action


# quick fixes (features/quickfix.py) answer the same request; their lists are joined
CODE_ACTION_OPTIONS = lsp.CodeActionOptions(
    code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.RefactorRewrite], resolve_provider=True
)


def register(server) -> None:
    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_CODE_ACTION, CODE_ACTION_OPTIONS, join_lists=True)
    async def on_code_action(ls, params: lsp.CodeActionParams):
        if not ls.trusted:
            return None
        if params.context.only and not any(
            "refactor.rewrite.exo".startswith(k) or k.startswith("refactor.rewrite.exo") for k in params.context.only
        ):
            return None
        start = params.range.start
        actions = await compute_actions(ls, params.text_document.uri, Position(start.line, start.character))
        if actions and getattr(ls, "suggestions", None) is not None:
            from .suggest import annotate

            actions = annotate(ls, params.text_document.uri, actions)  # a search's estimates, best first
        return actions or None

    @server.dispatcher.handle(lsp.CODE_ACTION_RESOLVE)
    async def on_resolve(ls, action: lsp.CodeAction) -> lsp.CodeAction:
        return await resolve_action(ls, action)

