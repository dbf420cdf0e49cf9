"""Canned answers for exo/steps, exo/viewText, exo.compileAndSimulate; exo/runStatus and
exo/viewsChanged on every open/change. Steps are the ``p = op(...)`` lines of the script."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer

STEP = re.compile(r"^\s*\w+\s*=\s*(\w+)\(")
PROC = re.compile(r"^def\s+(\w+)\(", re.M)
RENAME = re.compile(r"rename\(\s*\w+\s*,\s*[\"'](\w+)[\"']")

server = LanguageServer("exo-lsp-stub", "0")
state = {"trusted": None, "trust_changes": [], "edits": {}}


def get(obj, key, default=None):
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def file_path(uri: str) -> str:
    return unquote(urlsplit(uri).path)


def steps_of(uri: str) -> list[dict]:
    doc = server.workspace.get_text_document(uri)
    text = doc.source
    m = RENAME.search(text) or PROC.search(text)
    proc = m.group(1) if m else "proc"
    out = []
    for line, src in enumerate(text.splitlines()):
        s = STEP.match(src)
        if s:
            out.append({"index": len(out), "line": line, "op": s.group(1), "proc": proc, "ok": True})
    return out


def script_uri(path: str) -> str:
    for uri in server.workspace.text_documents:
        if file_path(uri) == path:
            return uri
    return "file://" + path


def report(uri: str, version):
    text = server.workspace.get_text_document(uri).source
    if not state["trusted"]:
        status = {"state": "untrusted", "errors": 0, "warnings": 0, "message": "workspace not trusted: scripts are not run"}
    elif "# stub: crash" in text:
        status = {"state": "crashed", "errors": 0, "warnings": 0, "message": "the worker died and was restarted"}
    elif "# stub: errors" in text:
        status = {"state": "errors", "errors": 2, "warnings": 0, "message": "two problems"}
    else:
        status = {"state": "ok", "errors": 0, "warnings": 1, "message": "stub run"}
    server.protocol.notify("exo/runStatus", {"uri": uri, "version": version, "state": "running", "errors": 0, "warnings": 0, "durationMs": 0, "message": ""})
    server.protocol.notify("exo/runStatus", {"uri": uri, "version": version, "durationMs": 1234, **status})
    server.protocol.notify("exo/viewsChanged", {"scriptUri": uri})


@server.feature(T.INITIALIZE)
def initialize(ls, params: T.InitializeParams):
    state["trusted"] = get(params.initialization_options or {}, "trusted")


@server.feature(T.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls, params: T.DidOpenTextDocumentParams):
    report(params.text_document.uri, params.text_document.version)


@server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls, params: T.DidChangeTextDocumentParams):
    uri = params.text_document.uri
    state["edits"][uri] = state["edits"].get(uri, 0) + 1
    report(uri, params.text_document.version)


@server.feature("exo/trustChanged")
def trust_changed(ls, params):
    state["trust_changes"].append(get(params, "trusted"))
    state["trusted"] = get(params, "trusted")
    for uri, doc in list(ls.workspace.text_documents.items()):
        report(uri, doc.version)


@server.feature("exo/stub/state")
def stub_state(ls, params):
    return {"trusted": state["trusted"], "trustChanges": state["trust_changes"]}


@server.feature("exo/steps")
def steps(ls, params):
    uri = get(params, "uri")
    if not state["trusted"]:
        return {"steps": []}
    return {"steps": steps_of(uri)}


@server.feature("exo/viewText")
def view_text(ls, params):
    raw = get(params, "uri")
    parts = urlsplit(raw)
    query = parse_qs(parts.query)
    proc, step = query["proc"][0], query["step"][0]
    uri = script_uri(unquote(parts.path))
    edits = state["edits"].get(uri, 0)
    comment = "//" if parts.scheme == "exo-c" else "#"
    body = [f"{comment} wire uri: {raw}", f"{comment} proc {proc} after step {step}", f"{comment} edits seen: {edits}"]
    if parts.scheme == "exo-c":
        body.append(f"void {proc}(void) {{ /* step {step} */ }}")
    else:
        body.append(f"def {proc}():  # step {step}")
        body.append(f"    pass")
    return {"text": "\n".join(body) + "\n", "version": edits}


@server.command("exo.compileAndSimulate")
def simulate(ls, *args):
    arg = args[0] if args else {}
    time.sleep(0.3)
    proc = get(arg, "proc")
    result = {"proc": proc, "algorithm": "conv1d", "compiler": "zig", "compiler_description": "stub", "seed": 0, "ok": True, "correct": True, "speedup": 8.0,
              "lines": [{"c_line": 1, "cycles": 900, "instructions": 300, "stall_cycles": 50, "text": "a"},
                        {"c_line": 3, "cycles": 100, "instructions": 100, "stall_cycles": 0, "text": "b"}]}
    report = f"# Simulation of {proc}\n\nstub report for {get(arg, 'uri')}, step {get(arg, 'step', 'last')}\n\n| speedup | 8.00x |\n|---|---|\n"
    return {"result": result, "report": report}


def main(argv: list[str]) -> int:
    if argv != ["serve"]:
        print("usage: python -m exo_lsp serve", flush=True)
        return 2
    server.start_io()
    return 0
