"""Server-side commands that show things: ``exo.showProc``, ``exo.showC``, ``exo.showDiff``.

Each takes one argument object ``{uri, proc?, step?}`` (the same as lenses and actions put
in their commands), so a lens works in any editor. VS Code's extension reads the views as
virtual documents (``virtualDocuments`` initialization option) and has client commands of
the same names; every other editor gets read-only view files (``lsp/view_files.py``),
opened with ``window/showDocument`` where the client supports it.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from lsprotocol import types as lsp

from exo_lsp_protocol import messages as m

from ...shared.trace import view_uri
from .views import select_handle, step_diff, view_text

log = logging.getLogger("exo_lsp.show")

COMMANDS = {"exo.showProc": "exo-proc", "exo.showC": "exo-c", "exo.showDiff": "exo-diff"}


def client_can(ls, *path: str) -> bool:
    """Whether the client's capabilities have `path` set (e.g. "window", "show_document", "support")."""
    node: Any = getattr(ls, "client_capabilities", None)
    for name in path:
        node = getattr(node, name, None)
        if node is None:
            return False
    return bool(node)


def document_uri(ls, path_or_view: str) -> str:
    """Where a location the worker named can be opened by this client: a view URI as it is
    for VS Code, its file otherwise (``refresh_view_files`` wrote it before publishing)."""
    from ..server import path_to_uri

    if not path_or_view.startswith(("exo-proc:", "exo-c:")) or ls.options.virtual_documents:
        return path_to_uri(path_or_view)
    return ls.view_files.file_for(path_or_view).as_uri()


async def openable_uri(ls, uri: str) -> str:
    """Like ``document_uri``, with the view file written now."""
    if not uri.startswith(("exo-proc:", "exo-c:")) or ls.options.virtual_documents:
        return uri
    return ls.view_files.write(uri, await view_text(ls, uri)).as_uri()


async def show(ls, command: str, args: m.ShowArgs) -> m.ShowResult:
    from ..server import uri_to_path

    trace = await ls.ensure_trace(args.uri) if ls.trusted else None
    if trace is None:
        raise ValueError(f"{args.uri} has not been run (is the folder trusted?)")
    step = None if args.step in (None, "last") else int(args.step)
    path = uri_to_path(args.uri)
    scheme = COMMANDS[command]
    if scheme == "exo-diff":
        _, s = select_handle(trace, args.proc, step)
        if s is None:
            raise ValueError("the proc as defined has no step before it to diff against")
        d = await step_diff(ls, m.StepDiffParams(uri=args.uri, from_step=_previous(trace, s), to_step=s.index, proc=args.proc))
        target = view_uri("exo-diff", path, args.proc or s.proc_name, s.index)
        file = ls.view_files.write(target, d.diff or f"# {d.title}: no change\n")
        uri = file.as_uri()
    else:
        _, s = select_handle(trace, args.proc, step)  # raises on a proc or step that does not exist
        proc = args.proc or (s.proc_name if s is not None else None)
        target = view_uri(scheme, path, proc, "last" if args.step in (None, "last") else int(args.step))
        if ls.options.virtual_documents:
            uri = target
        else:
            uri = await openable_uri(ls, target)
    shown = await show_document(ls, uri)
    return m.ShowResult(uri=uri, shown=shown)


def _previous(trace, s) -> int:
    """The step whose proc this one started from (-1: the proc as defined)."""
    for t in reversed(trace.steps[: s.index]):
        if t.ok and t.proc_out == s.proc_in:
            return t.index
    return -1


async def show_document(ls, uri: str) -> bool:
    if not client_can(ls, "window", "show_document", "support"):
        ls.window_show_message(lsp.ShowMessageParams(type=lsp.MessageType.Info, message=f"Exo: {uri}"))
        return False
    try:
        got = await ls.window_show_document_async(lsp.ShowDocumentParams(uri=uri, take_focus=True))
    except Exception as exc:  # the client refused or failed: say where the file is instead
        log.warning("showDocument failed: %s", exc)
        return False
    return bool(got and got.success)


async def refresh_view_files(ls, script_uri: str, trace) -> None:
    """After a run, before its diagnostics: write the view files they point at and rewrite
    the script's other view files, so open ones stay current."""
    from ..server import uri_to_path

    if ls.options.virtual_documents:
        return
    for p in trace.problems:
        for r in p.related:
            if r.location.path.startswith(("exo-proc:", "exo-c:")):
                ls.view_files.by_view.setdefault(r.location.path, ls.view_files.file_for(r.location.path))
    for target in ls.view_files.written_for(uri_to_path(script_uri)):
        if target.startswith("exo-diff:"):
            continue
        try:
            ls.view_files.write(target, await view_text(ls, target))
        except Exception as exc:  # the step or proc is gone: say so in the file
            ls.view_files.write(target, f"# this view no longer exists: {exc}\n")


def register(server) -> None:
    from ..server import params_as

    def command(name: str):
        @server.command(name)
        async def run(ls, *items: Any) -> dict:
            if not items:
                raise ValueError(f"{name} takes one argument {{uri, proc?, step?}}")
            args = params_as(items[0], m.ShowArgs)
            return msgspec.to_builtins(await show(ls, name, args))

    for name in COMMANDS:
        command(name)

