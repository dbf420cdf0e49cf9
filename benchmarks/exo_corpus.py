"""Exo's own schedules through the real server, as a user opening each file: the corpus
check of real code. Takes a checkout of exo-lang/exo at v1.0.0 (not part of this repo:
fetch it, e.g. `git clone --branch v1.0.0 https://github.com/exo-lang/exo`), finds every
script of its apps/ and examples/ that imports Exo, and for each prints:

  plain s      `python script.py` in its folder (the baseline of the ratios)
  cold/plain   didOpen -> the run's final status, a new server (empty memo) per script
  first step s didOpen -> the first published steps (exo/viewsChanged)
  errors       error diagnostics, where plain python succeeds (must be 0)
  steps (top)  steps of the run (top-level ones)
  hovers       pattern strings and cursor expressions with a hover, of those on lines that
               ran under plain python (coverage.py, measured only when one has no hover:
               a helper the script never calls has nothing to show); "+N not run" after
  edit/cold    a comment line added near the end, over the cold run
  same         the identical text again: cached steps / steps

Run: .venv/bin/python benchmarks/exo_corpus.py --exo PATH [--only SUBSTR] [--max-plain 120] [--json]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from lsprotocol import types as lsp

FINAL = ("ok", "errors", "crashed", "cancelled")
LOOKUPS = {"find", "find_loop", "find_alloc_or_arg", "find_all", "forward", "next", "prev", "parent", "body", "expand",
           "before", "after", "body", "orelse", "hi", "lo", "lhs", "rhs"}
SKIP_NAMES = ("setup.py", "conftest.py", "plot.py", "__init__.py")


def discover(exo: pathlib.Path) -> tuple[list[pathlib.Path], list[tuple[pathlib.Path, str]]]:
    found, skipped = [], []
    for top in ("apps", "examples"):
        for path in sorted((exo / top).rglob("*.py")):
            text = path.read_text(errors="replace")
            if path.name in SKIP_NAMES or path.name.startswith("test_"):
                skipped.append((path, "a build or test helper"))
            elif not any(line.startswith(("from exo", "import exo")) for line in text.splitlines()):
                skipped.append((path, "does not import Exo"))
            else:
                found.append(path)
    return found, skipped


def cursor_params() -> dict[str, set[str]]:
    """Scheduling op -> its parameters that take a pattern or a cursor (Exo's own argument
    processors say which)."""
    import exo.API_scheduling as s

    out: dict[str, set[str]] = {}
    for name, v in vars(s).items():
        if isinstance(v, s.AtomicSchedulingOp):
            out[name] = {p for p, a in zip(v.sig.parameters, v.arg_procs) if type(a).__name__.endswith("CursorA")}
    return out


def hover_points(text: str, ops: dict[str, set[str]]) -> list[tuple[int, int, str]]:
    """(0-based line, column, what) of every pattern string passed to a scheduling op or a
    lookup, and every lookup call (a cursor expression)."""
    points = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if isinstance(node.func, ast.Attribute) and name in LOOKUPS:
            points.append((node.func.end_lineno - 1, node.func.end_col_offset - 1, f"cursor {name}()"))
        wanted = ops.get(name or "")
        if wanted is None and name not in LOOKUPS:
            continue
        params = list(wanted or ())
        args = [(None, a) for a in node.args] + [(k.arg, k.value) for k in node.keywords]
        for i, (kw, a) in enumerate(args):
            if not isinstance(a, (ast.Constant, ast.JoinedStr)) or (isinstance(a, ast.Constant) and not isinstance(a.value, str)):
                continue
            if wanted is not None and kw is not None and kw not in wanted:
                continue
            if wanted is not None and kw is None and not _positional_is_cursor(name, i, wanted):
                continue
            points.append((a.lineno - 1, a.col_offset + 1, "pattern"))
    return sorted(set(points))


def _positional_is_cursor(op: str, i: int, wanted: set[str]) -> bool:
    import exo.API_scheduling as s

    names = list(getattr(s, op).sig.parameters)
    return i < len(names) and names[i] in wanted


def plain(path: pathlib.Path, limit: float) -> tuple[float, bool]:
    t0 = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, path.name], cwd=path.parent, capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, False
    return time.perf_counter() - t0, r.returncode == 0


def executed_lines(path: pathlib.Path) -> set[int]:
    """1-based lines of the script that ran under plain python (coverage.py)."""
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "cov")
        subprocess.run([sys.executable, "-m", "coverage", "run", f"--data-file={data}", path.name], cwd=path.parent,
                       capture_output=True)
        import coverage

        cov = coverage.Coverage(data_file=data)
        cov.load()
        return set(cov.get_data().lines(str(path.resolve())) or ())


class Session:
    """One server over stdio, one script, as an editor drives it."""

    def __init__(self, path: pathlib.Path) -> None:
        from pygls.lsp.client import LanguageClient

        self.client = LanguageClient("exo-corpus", "1")
        self.uri = path.resolve().as_uri()
        self.done: dict[int, asyncio.Future] = {}
        self.status: dict[int, dict] = {}
        self.first_views: float | None = None
        self.diagnostics: list = []

        @self.client.feature("exo/runStatus")
        def on_status(ls, params):
            state, version = getattr(params, "state", None), getattr(params, "version", None)
            if state in FINAL:
                self.status[version] = {"state": state, "cached": getattr(params, "cachedSteps", 0)}
                f = self._future(version)
                if not f.done():
                    f.set_result(state)

        @self.client.feature("exo/viewsChanged")
        def on_views(ls, params):
            if self.first_views is None:
                self.first_views = time.perf_counter()

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(ls, params):
            if params.uri == self.uri:
                self.diagnostics = params.diagnostics

    def _future(self, version) -> asyncio.Future:
        return self.done.setdefault(version, asyncio.get_running_loop().create_future())

    async def open(self, text: str) -> float:
        await self.client.start_io(sys.executable, "-m", "exo_lsp", "serve")
        await self.client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), initialization_options={"trusted": True, "debounceMs": 0}))
        self.client.initialized(lsp.InitializedParams())
        t0 = time.perf_counter()
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
            uri=self.uri, language_id="python", version=1, text=text)))
        await asyncio.wait_for(self._future(1), 900)
        return t0

    async def change(self, text: str, version: int) -> float:
        t0 = time.perf_counter()
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=self.uri, version=version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))
        await asyncio.wait_for(self._future(version), 900)
        return time.perf_counter() - t0

    async def steps(self) -> list:
        res = await self.client.protocol.send_request_async("exo/steps", {"uri": self.uri})
        return list(getattr(res, "steps", None) or [])

    async def hover(self, line: int, col: int) -> bool:
        got = await self.client.text_document_hover_async(lsp.HoverParams(
            text_document=lsp.TextDocumentIdentifier(uri=self.uri), position=lsp.Position(line=line, character=col)))
        return got is not None

    async def close(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def near_end(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    return "\n".join(lines[:-1] + ["# an edit near the end", lines[-1]]) + "\n"


async def measure(path: pathlib.Path, ops: dict[str, set[str]], max_plain: float) -> dict:
    row: dict = {"script": str(path)}
    plain_s, plain_ok = plain(path, max_plain)
    row.update(plain_s=plain_s, plain_ok=plain_ok)
    if not plain_ok and plain_s >= max_plain:
        row["skipped"] = f"over {max_plain:.0f} s under plain python"
        return row
    text = path.read_text()
    s = Session(path)
    try:
        t0 = await s.open(text)
        cold = time.perf_counter() - t0
        row.update(cold_s=cold, first_step_s=(s.first_views - t0) if s.first_views else None)
        await asyncio.sleep(0.5)  # the diagnostics of the run may follow its status
        row["errors"] = sum(1 for d in s.diagnostics if d.severity == lsp.DiagnosticSeverity.Error)
        steps = await s.steps()
        row.update(steps=len(steps), top=sum(1 for st in steps if getattr(st, "parent", None) is None))
        points = hover_points(text, ops)
        missed = [p for p in points if not await s.hover(p[0], p[1])]
        ran = executed_lines(path) if missed else None
        not_run = [p for p in missed if ran is not None and p[0] + 1 not in ran]
        row.update(hovers=len(points) - len(not_run), resolved=len(points) - len(missed), not_run=len(not_run),
                   unresolved=[f"{p[0] + 1}:{p[1]} {p[2]}" for p in missed if p not in not_run])
        edited = near_end(text)
        row["edit_s"] = await s.change(edited, 2)
        await s.change(edited, 3)
        row.update(same_cached=s.status[3]["cached"], same_steps=len(await s.steps()))
    finally:
        await s.close()
    return row


def show(row: dict, exo: pathlib.Path) -> str:
    name = str(pathlib.Path(row["script"]).relative_to(exo))
    if "skipped" in row:
        return f"| {name} | {row['plain_s']:.2f} | skipped: {row['skipped']} |"
    py = "" if row["plain_ok"] else " (python fails too)"
    first = f"{row['first_step_s']:.2f}" if row.get("first_step_s") else "—"
    extra = f" +{row['not_run']} not run" if row["not_run"] else ""
    return (f"| {name}{py} | {row['plain_s']:.2f} | {row['cold_s'] / row['plain_s']:.2f} | {first} | {row['errors']} | "
            f"{row['steps']} ({row['top']}) | {row['resolved']}/{row['hovers']}{extra} | "
            f"{row['edit_s'] / row['cold_s']:.3f} | {row['same_cached']}/{row['same_steps']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exo", type=pathlib.Path, required=True, help="a checkout of exo-lang/exo v1.0.0")
    ap.add_argument("--only", default="")
    ap.add_argument("--max-plain", type=float, default=120.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    exo = args.exo.resolve()
    scripts, skipped = discover(exo)
    ops = cursor_params()
    rows = []
    print("| script | plain s | cold/plain | first step s | errors | steps (top) | hovers | edit/cold | same |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in scripts:
        if args.only in str(path):
            row = asyncio.run(measure(path, ops, args.max_plain))
            rows.append(row)
            print(show(row, exo), flush=True)
            for u in row.get("unresolved", []):
                print(f"    no hover: {u}")
    for path, why in skipped:
        print(f"skipped {path.relative_to(exo)}: {why}")
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
