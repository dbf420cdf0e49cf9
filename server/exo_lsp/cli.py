"""Command line: ``exo-lsp serve | check | trace | show | simulate | search | trust``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from .lsp.engine import Engine
from .lsp.worker_client import Settings
from .shared.contract import SimulateParams, ViewTextParams
from .shared.trace import Trace


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="exo-lsp", description="The IDE for Exo scheduling.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=2087)
    check = sub.add_parser("check", help="run schedules and report problems, compiler style")
    check.add_argument("files", nargs="+")
    trace = sub.add_parser("trace", help="print one line per scheduling step")
    trace.add_argument("file")
    show = sub.add_parser("show", help="print the proc after a step (or its C), as the views show it")
    show.add_argument("file")
    show.add_argument("--proc", help="proc name (default: the last scheduled proc)")
    show.add_argument("--step", help="step index (default: last; -1: the proc as defined)")
    show.add_argument("--c", action="store_true", help="print the generated C instead")
    sim = sub.add_parser("simulate", help="compile a proc for RV32+RVM, simulate it, compare with its algorithm")
    sim.add_argument("file")
    sim.add_argument("--proc", help="proc name (default: the last scheduled proc)")
    sim.add_argument("--step", help="step index (default: last)")
    sim.add_argument("--compiler", choices=["zig", "gcc"], default="zig")
    sim.add_argument("--json", action="store_true", help="print the structured result as JSON")
    from . import search_cli

    search_cli.add_parser(sub)
    for p in (check, trace, show, sim):
        p.add_argument("--timeout", type=float, default=30.0, help="seconds per script (default 30)")
    trust_cmd = sub.add_parser("trust", help="let the language server run the scripts in a folder (e.g. for CI)")
    trust_cmd.add_argument("folders", nargs="+")
    args = ap.parse_args(argv)

    if args.cmd == "serve":
        from .lsp.server import serve as run_server

        run_server(tcp=args.tcp, host=args.host, port=args.port)
    elif args.cmd == "check":
        sys.exit(asyncio.run(_check(args.files, args.timeout)))
    elif args.cmd == "trace":
        sys.exit(asyncio.run(_trace(args.file, args.timeout)))
    elif args.cmd == "show":
        sys.exit(asyncio.run(_show(args.file, args.proc, args.step, args.c, args.timeout)))
    elif args.cmd == "simulate":
        sys.exit(asyncio.run(_simulate(args)))
    elif args.cmd == "search":
        sys.exit(search_cli.run(args))
    elif args.cmd == "trust":
        from .lsp import trust

        for folder in args.folders:
            if not os.path.isdir(folder):
                print(f"exo-lsp trust: {folder} is not a folder", file=sys.stderr)
                sys.exit(2)
            trust.remember(folder)
            print(f"trusted: {os.path.realpath(folder)} (in {trust.store_path()})")


def _engine(timeout: float, files: int = 1) -> Engine:
    # The command line is explicit use: it runs what it is given, trusted or not.
    return Engine(Settings(timeout_s=timeout, spare=files > 1, idle_s=0.0))


async def _run_files(files: list[str], timeout: float) -> list[tuple[str, Trace]]:
    engine = _engine(timeout, len(files))
    out = []
    try:
        for f in files:
            with open(f, encoding="utf-8") as fh:
                source = fh.read()
            trace = await engine.run(f, source, None)
            assert trace is not None
            out.append((f, trace))
            engine.release(f)
    finally:
        await engine.shutdown()
    return out


def _display_path(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


async def _check(files: list[str], timeout: float) -> int:
    errors = 0
    for _, trace in await _run_files(files, timeout):
        for p in sorted(trace.problems, key=lambda p: (p.path, p.range.start.line, p.range.start.character)):
            first, *rest = p.message.splitlines() or [""]
            print(f"{_display_path(p.path)}:{p.range.start.line + 1}:{p.range.start.character + 1}: {p.severity}: {first}")
            for extra in rest:
                print(f"    {extra}")
            errors += p.severity == "error"
    return 1 if errors else 0


async def _trace(file: str, timeout: float) -> int:
    [(_, trace)] = await _run_files([file], timeout)
    for s in trace.steps:
        indent = "  " if s.parent is not None else ""
        target = s.targets[0].text if s.targets else ""
        if len(s.targets) > 1:
            target += f" (+{len(s.targets) - 1})"
        if len(target) > 48:
            target = target[:47] + "…"
        status = "" if s.ok else "  FAILED: " + (s.error or "").splitlines()[0]
        print(f"{s.line + 1:>5}  {indent}{s.op:<18} {target:<48} {s.ms:8.1f} ms{status}")
    print(f"{len(trace.steps)} steps, {trace.ms:.0f} ms, {len(trace.problems)} problems")
    for p in trace.problems:
        print(f"{_display_path(p.path)}:{p.range.start.line + 1}:{p.range.start.character + 1}: {p.severity}: {p.message.splitlines()[0]}")
    return 0 if trace.ok else 1


async def _show(file: str, proc: str | None, step: str | None, c: bool, timeout: float) -> int:
    from .lsp.features.views import select_handle

    engine = _engine(timeout)
    try:
        with open(file, encoding="utf-8") as fh:
            source = fh.read()
        trace = await engine.run(file, source, None)
        assert trace is not None
        try:
            handle, _ = select_handle(trace, proc, None if step in (None, "last") else int(step))
        except ValueError as exc:
            for p in trace.problems:
                print(f"{_display_path(p.path)}:{p.range.start.line + 1}:{p.range.start.character + 1}: {p.severity}: {p.message.splitlines()[0]}", file=sys.stderr)
            print(f"exo-lsp show: {exc}", file=sys.stderr)
            return 2
        text = (await engine.query(file, ViewTextParams(handle=handle, c=c))).text
    finally:
        await engine.shutdown()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


async def _simulate(args) -> int:
    import msgspec

    from .lsp.features.views import select_handle

    engine = _engine(args.timeout)
    try:
        with open(args.file, encoding="utf-8") as fh:
            source = fh.read()
        trace = await engine.run(args.file, source, None)
        assert trace is not None
        for p in trace.problems:
            if p.severity == "error":
                print(f"{_display_path(p.path)}:{p.range.start.line + 1}:{p.range.start.character + 1}: error: {p.message.splitlines()[0]}", file=sys.stderr)
        try:
            handle, _ = select_handle(trace, args.proc, None if args.step in (None, "last") else int(args.step))
        except ValueError as exc:
            print(f"exo-lsp simulate: {exc}", file=sys.stderr)
            return 2

        def progress(message: str, fraction: float) -> None:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

        answer = await engine.query(
            args.file, SimulateParams(handle=handle, compiler=args.compiler), on_progress=progress
        )
    finally:
        await engine.shutdown()
    result = answer.result
    if args.json:
        sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    else:
        sys.stdout.write(answer.report.rstrip("\n") + "\n")
    return 0 if result.ok and result.correct else 1
