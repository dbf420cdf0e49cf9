"""The language server: a thin LSP face over the engine's traces.

Open schedule scripts are run in the worker on open and (debounced) on every change;
each run's problems become diagnostics, its steps feed the other features, which live in
``features/`` and register themselves here.
"""

from __future__ import annotations

import ast
import asyncio
import io
import logging
import tokenize
import os
import re
from typing import Any

import msgspec
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from exo_lsp_protocol import messages as m

from ..shared import positions
from ..shared.positions import use_encoding
from . import trust
from .dispatch import Dispatcher
from .protocol import ExoProtocol
from .settings import InitOptions, read_options
from .view_files import ViewFiles
from .features.show import document_uri, refresh_view_files
from .engine import Engine
from .run_progress import RunProgress
from .worker_client import Settings
from ..shared.trace import Problem, Trace

log = logging.getLogger("exo_lsp.server")

TRUST, NOT_NOW = "Trust", "Not now"
BIG_DOCUMENT = 1 << 20
_IMPORT_LINE = re.compile(r"^[ \t]*(from[ \t]+exo[ \t.]|import[ \t]+exo\b)", re.M)


def imports_exo(text: str) -> bool:
    """Whether the script imports Exo, from its syntax tree (a docstring that says
    ``import exo`` does not count). A script that does not parse yet is read token by
    token, so that its syntax error is still reported."""
    if "exo" not in text:
        return False
    if len(text) > BIG_DOCUMENT:
        # Parsing is ~6 s per MB of statements, on the server's event loop: for such
        # documents the import lines are found by their first words.
        return bool(_IMPORT_LINE.search(text))
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return _imports_exo_tokens(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "exo" or a.name.startswith("exo.") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
            node.module == "exo" or node.module.startswith("exo.")
        ):
            return True
    return False


def _imports_exo_tokens(text: str) -> bool:
    names: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME or (tok.type == tokenize.OP and tok.string == "."):
                names.append(tok.string)
                if len(names) >= 2 and names[-2] in ("import", "from") and names[-1] == "exo":
                    return True
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                names.append("")
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return False


def to_lsp_range(r) -> lsp.Range:
    return lsp.Range(
        start=lsp.Position(line=r.start.line, character=r.start.character),
        end=lsp.Position(line=r.end.line, character=r.end.character),
    )


def path_to_uri(path: str) -> str:
    if re.match(r"^[a-zA-Z][\w+.-]*:", path) and not os.path.isabs(path):
        return path  # already a URI (virtual documents, untitled buffers)
    return from_fs_path(path) or path


def uri_to_path(uri: str) -> str:
    if uri.startswith("file:"):
        return os.path.abspath(to_fs_path(uri) or uri)
    return uri


class ExoLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("exo-lsp", "0.1.0", protocol_cls=ExoProtocol)
        self.engine = Engine(Settings())
        self.dispatcher = Dispatcher()
        self.view_files = ViewFiles()
        self.options = InitOptions()
        self.trust_option: bool | None = True  # the client's say (None: ask per folder)
        self.debounce_s = self.options.debounce_ms / 1000
        self.action_budget_ms = self.options.action_budget_ms
        self._pending: dict[str, asyncio.Task] = {}  # uri -> debounced run
        self._runs: dict[str, tuple[int | None, asyncio.Task]] = {}  # uri -> run of a version
        self._published: dict[str, set[str]] = {}  # script uri -> uris it put diagnostics on
        self._asked: set[str] = set()  # folders the user was asked about this session
        self.view_version = 0
        self.run_listeners: list = []  # called as f(ls, uri, trace) after each published run
        self.change_listeners: list = []  # f(ls, uri) after each accepted didChange
        self.close_listeners: list = []  # f(ls, uri) after didClose
        self.shutdown_hooks: list = []  # async f(ls) at shutdown

    # ------------------------------------------------------------ trust

    @property
    def trusted(self) -> bool:
        """False only when the client said the workspace is not trusted; whether a given
        script may run is ``may_run``'s to say."""
        return self.trust_option is not False

    @trusted.setter
    def trusted(self, value: bool) -> None:
        self.trust_option = value

    def folder_of(self, path: str) -> str:
        """The workspace folder holding `path` (the deepest), or its own directory."""
        best = None
        for f in self.workspace.folders.values():
            fp = uri_to_path(f.uri)
            if trust.contains(fp, path) and (best is None or len(fp) > len(best)):
                best = fp
        root = self.workspace.root_path
        if best is None and root and trust.contains(root, path):
            best = root
        return best or os.path.dirname(path)

    def may_run(self, uri: str) -> bool:
        if self.trust_option is not None:
            return self.trust_option
        if not uri.startswith("file:"):
            return False
        return trust.is_trusted(uri_to_path(uri))

    def ask_trust(self, uri: str) -> None:
        """Once per folder and session: ask the user whether to run its scripts."""
        folder = self.folder_of(uri_to_path(uri))
        if folder in self._asked:
            return
        self._asked.add(folder)
        asyncio.get_running_loop().create_task(self._ask(folder))

    async def _ask(self, folder: str) -> None:
        answer = None
        try:
            answer = await self.window_show_message_request_async(lsp.ShowMessageRequestParams(
                type=lsp.MessageType.Warning,
                message=f"Run the Exo scripts in {folder}? Exo runs a schedule script to check it: "
                        "trust the folder only if you trust its code.",
                actions=[lsp.MessageActionItem(title=TRUST), lsp.MessageActionItem(title=NOT_NOW)],
            ))
        except Exception as exc:  # a client without the request: say why nothing runs
            log.info("trust request failed: %s", exc)
        if answer is not None and answer.title == TRUST:
            trust.remember(folder)
            for uri in list(self.workspace.text_documents):
                if uri.startswith("file:") and trust.contains(folder, uri_to_path(uri)):
                    self.schedule_run(uri, 0)
            return
        self.window_show_message(lsp.ShowMessageParams(
            type=lsp.MessageType.Info,
            message=f"Exo: the scripts in {folder} are not run, because the folder is not trusted. "
                    f"To trust it: reopen a script and answer {TRUST}, or run `exo-lsp trust {folder}`.",
        ))

    # ------------------------------------------------------------ documents and runs

    def script_text(self, uri: str) -> tuple[str, int | None] | None:
        """The text of a document the client opened (never a file read from disk)."""
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return None
        try:
            return doc.source, doc.version
        except (OSError, FileNotFoundError):
            return None

    def is_schedule(self, text: str) -> bool:
        return imports_exo(text)

    def schedule_run(self, uri: str, delay: float) -> None:
        old = self._pending.pop(uri, None)
        if old is not None and not old.done():
            old.cancel()
        self._pending[uri] = asyncio.get_running_loop().create_task(self._run_after(uri, delay))

    async def _run_after(self, uri: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await self.run_document(uri)

    async def run_document(self, uri: str) -> Trace | None:
        """Run the document's current version, or await its run already going (one run
        per version, whoever asks; a caller that is cancelled leaves the run alone)."""
        got = self.script_text(uri)
        if got is None:
            return None
        text, version = got
        if not self.is_schedule(text):
            return None
        if not self.may_run(uri):
            self.notify_status(m.RunStatusParams(uri=uri, version=version, state="untrusted",
                                                 message="workspace not trusted: scripts are not run"))
            if self.trust_option is None and uri.startswith("file:"):
                self.ask_trust(uri)  # (a buffer that is no file has no folder to trust)
            return None
        known = self._runs.get(uri)
        if known is not None and known[0] == version and not known[1].cancelled():
            task = known[1]
            if not task.done() or task.result() is not None:
                return await asyncio.shield(task)
        task = asyncio.get_running_loop().create_task(self._run_and_publish(uri, text, version))
        self._runs[uri] = (version, task)
        return await asyncio.shield(task)

    def _current(self, uri: str, version: int | None) -> bool:
        got = self.script_text(uri)
        return got is not None and got[1] == version

    async def _run_and_publish(self, uri: str, text: str, version: int | None) -> Trace | None:
        self.notify_status(m.RunStatusParams(uri=uri, version=version, state="running"))
        progress = RunProgress(self, uri)
        try:
            trace = await self.engine.run(uri_to_path(uri), text, version, on_progress=progress)
        except Exception as exc:  # never let a run take the server down
            log.exception("run failed")
            self.notify_status(m.RunStatusParams(uri=uri, version=version, state="crashed", message=str(exc)))
            return None
        finally:
            progress.end()
        if not self._current(uri, version):
            return None  # a newer version (or a close) came: never publish a stale run
        if trace is None:
            if not self.engine.closed:
                self.schedule_run(uri, 0)  # cancelled, yet still the current version: run it again
            return None
        await refresh_view_files(self, uri, trace)  # before the diagnostics that point at them
        self.publish(uri, trace)
        for listener in self.run_listeners:
            try:
                listener(self, uri, trace)
            except Exception:
                log.exception("run listener failed")
        self.notify_status(run_status(uri, trace))
        self.view_version += 1
        self.notify(m.ViewsChangedParams(script_uri=uri), "exo/viewsChanged")
        return trace

    def trace_for(self, uri: str) -> Trace | None:
        return self.engine.traces.get(uri_to_path(uri))

    async def ensure_trace(self, uri: str) -> Trace | None:
        """The trace of the document's current version, running it if needed."""
        got = self.script_text(uri)
        trace = self.trace_for(uri)
        if got is not None and (trace is None or trace.version != got[1]):
            trace = await self.run_document(uri) or self.trace_for(uri)
        return trace

    # ------------------------------------------------------------ output

    def publish(self, uri: str, trace: Trace) -> None:
        by_uri: dict[str, list[lsp.Diagnostic]] = {uri: []}
        for p in trace.problems:
            target = uri if p.path == trace.path else path_to_uri(p.path)
            by_uri.setdefault(target, []).append(to_diagnostic(p, lambda path: document_uri(self, path)))
        stale = self._published.get(uri, set()) - set(by_uri)
        for other in stale:
            by_uri[other] = []
        self._published[uri] = {u for u, d in by_uri.items() if d and u != uri}
        for target, diags in by_uri.items():
            version = trace.version if target == uri else None
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(uri=target, diagnostics=diags, version=version)
            )

    def notify(self, payload: msgspec.Struct, method: str) -> None:
        self.protocol.notify(method, msgspec.to_builtins(payload))

    def notify_status(self, status: m.RunStatusParams) -> None:
        self.notify(status, "exo/runStatus")


def run_status(uri: str, trace: Trace) -> m.RunStatusParams:
    errors = sum(1 for p in trace.problems if p.severity == "error")
    warnings = sum(1 for p in trace.problems if p.severity == "warning")
    return m.RunStatusParams(
        uri=uri,
        version=trace.version,
        state="crashed" if trace.crashed else ("errors" if errors else "ok"),
        errors=errors,
        warnings=warnings,
        duration_ms=round(trace.ms, 1),
        cached_steps=trace.cached_steps,
        message=trace.problems[0].message if trace.crashed and trace.problems else "",
    )


def to_diagnostic(p: Problem, uri_of=None) -> lsp.Diagnostic:
    """`uri_of` says where a related location can be opened (views: a file or a view URI)."""
    uri_of = uri_of or path_to_uri
    severity = {
        "error": lsp.DiagnosticSeverity.Error,
        "warning": lsp.DiagnosticSeverity.Warning,
        "information": lsp.DiagnosticSeverity.Information,
        "hint": lsp.DiagnosticSeverity.Hint,
    }[p.severity]
    related = [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=uri_of(r.location.path), range=to_lsp_range(r.location.range)),
            message=r.message,
        )
        for r in p.related
    ]
    return lsp.Diagnostic(
        range=to_lsp_range(p.range),
        message=p.message,
        severity=severity,
        source="exo",
        code=p.code,
        related_information=related or None,
    )


def params_as(params: Any, cls: type[msgspec.Struct]):
    """Custom-method params arrive as pygls objects; read them as our Struct. Params that
    do not fit are the client's error: -32602 Invalid params, naming what is wrong."""
    try:
        return msgspec.convert(_plain(params), cls)
    except msgspec.ValidationError as exc:
        raise JsonRpcInvalidParams(f"invalid params for {cls.__name__}: {exc}") from None


def _plain(obj: Any) -> Any:
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return [_plain(v) for v in obj]
    if hasattr(obj, "_asdict"):
        return {k: _plain(v) for k, v in obj._asdict().items()}
    if hasattr(obj, "__dict__"):
        return {k: _plain(v) for k, v in vars(obj).items()}
    return obj


server = ExoLanguageServer()


@server.feature(lsp.INITIALIZE)
def on_initialize(ls: ExoLanguageServer, params: lsp.InitializeParams) -> None:
    opts, notes = read_options(_plain(params.initialization_options))
    # pygls chose the client's first offered encoding it knows; every column follows it
    use_encoding(ls.workspace.position_encoding or "utf-16")
    ls.engine.settings.encoding = positions.encoding()
    ls.options = opts
    ls.trust_option = opts.trusted
    s = ls.engine.settings
    s.timeout_s = opts.timeout_seconds
    s.memory_mb = opts.memory_mb
    s.python = opts.worker_python or s.python
    s.max_workers = opts.max_workers
    s.idle_s = opts.idle_worker_seconds
    ls.debounce_s = opts.debounce_ms / 1000
    ls.action_budget_ms = opts.action_budget_ms
    if notes:
        ls.window_show_message(lsp.ShowMessageParams(
            type=lsp.MessageType.Warning,
            message="Exo: some initialization options were ignored: " + "; ".join(notes),
        ))


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
async def did_open(ls: ExoLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule_run(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: ExoLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule_run(params.text_document.uri, ls.debounce_s)
    _tell(ls, ls.change_listeners, params.text_document.uri)


def _tell(ls: ExoLanguageServer, listeners: list, uri: str) -> None:
    for listener in listeners:
        try:
            listener(ls, uri)
        except Exception:
            log.exception("document listener failed")


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: ExoLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
    trace = ls.trace_for(params.text_document.uri)
    if trace is None:
        ls.schedule_run(params.text_document.uri, 0)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ExoLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    task = ls._pending.pop(uri, None)
    if task is not None:
        task.cancel()
    ls._runs.pop(uri, None)  # a run still going finishes, unpublished (the document is gone)
    ls.engine.release(uri_to_path(uri))
    for target in ls._published.pop(uri, set()) | {uri}:
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=target, diagnostics=[]))
    _tell(ls, ls.close_listeners, uri)


@server.feature("exo/trustChanged")
async def trust_changed(ls: ExoLanguageServer, params: Any) -> None:
    p = params_as(params, m.TrustChangedParams)
    was = ls.trust_option
    ls.trust_option = p.trusted
    if p.trusted and not was:
        for uri in list(ls.workspace.text_documents):
            ls.schedule_run(uri, 0)


@server.feature("exo/steps")
async def steps(ls: ExoLanguageServer, params: Any) -> dict:
    p = params_as(params, m.StepsParams)
    trace = await ls.ensure_trace(p.uri) if ls.trusted else None
    if trace is None:
        return msgspec.to_builtins(m.StepsResult(version=None, steps=[]))
    out = [
        m.StepInfo(index=s.index, line=s.line, op=s.op, proc=s.proc_name, ok=s.ok, parent=s.parent, changed=s.changed)
        for s in trace.steps
    ]
    return msgspec.to_builtins(m.StepsResult(version=trace.version, steps=out))


@server.feature(lsp.SHUTDOWN)
async def on_shutdown(ls: ExoLanguageServer, params: Any) -> None:
    for hook in ls.shutdown_hooks:
        try:
            await hook(ls)
        except Exception:
            log.exception("shutdown hook failed")
    await ls.engine.shutdown()


def _register_features() -> None:
    from .features import register_all

    register_all(server)
    server.dispatcher.install(server)


def serve(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    logging.basicConfig(level=os.environ.get("EXO_LSP_LOG", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("pygls").setLevel(os.environ.get("EXO_LSP_PYGLS_LOG", "WARNING"))
    _register_features()
    if tcp:
        server.start_tcp(host, port)
    else:
        server.start_io()
