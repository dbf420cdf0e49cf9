"""Virtual documents: the proc at a step (``exo-proc:``) and its generated C (``exo-c:``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from exo_lsp_protocol import messages as m

from ..trace import Step, Trace


class ViewRef(msgspec.Struct, frozen=True):
    scheme: str  # exo-proc | exo-c
    script_path: str
    proc: str | None
    step: int | None  # None = last


def parse_view_uri(uri: str) -> ViewRef:
    parts = urlsplit(uri)
    if parts.scheme not in ("exo-proc", "exo-c"):
        raise ValueError(f"not an exo view: {uri}")
    query = parse_qs(parts.query)
    proc = query.get("proc", [None])[0] or None
    step_s = query.get("step", ["last"])[0]
    step = None if step_s in ("", "last") else int(step_s)
    return ViewRef(parts.scheme, parts.path, proc, step)


def view_uri(scheme: str, script_path: str, proc: str | None, step: int | str) -> str:
    q = f"proc={proc}&step={step}" if proc else f"step={step}"
    return f"{scheme}:{script_path}?{q}"


def select_handle(trace: Trace, proc: str | None, step: int | None) -> tuple[int, Step | None]:
    """The proc a view shows: after `step` (before it, if it failed), or at the end."""
    if step is not None:
        if not 0 <= step < len(trace.steps):
            raise ValueError(f"step {step} does not exist (the script has {len(trace.steps)} steps)")
        s = trace.steps[step]
        handle = s.proc_out if s.ok and s.proc_out is not None else s.proc_in
        if handle is None:
            raise ValueError(f"step {step} ({s.op}) has no proc")
        return handle, s
    for s in reversed(trace.steps):
        if s.ok and s.proc_out is not None and (proc is None or s.proc_name == proc or _out_name(trace, s) == proc):
            return s.proc_out, s
    for d in trace.procs:
        if proc is None or d.name == proc:
            return d.handle, None
    raise ValueError(f"no proc named {proc!r} in this script")


def _out_name(trace: Trace, s: Step) -> str | None:
    # rename() changes the name: the step after a rename carries the new name as input
    nxt = next((t for t in trace.steps if t.index > s.index and t.proc_in == s.proc_out), None)
    return nxt.proc_name if nxt else None


async def view_text(ls, uri: str) -> str:
    ref = parse_view_uri(uri)
    from ..server import path_to_uri

    script_uri = path_to_uri(ref.script_path)
    trace = await ls.ensure_trace(script_uri)
    if trace is None:
        raise ValueError(f"{ref.script_path} has not been run (is the workspace trusted?)")
    handle, _ = select_handle(trace, ref.proc, ref.step)
    kind = "procText" if ref.scheme == "exo-proc" else "cCode"
    return await ls.engine.query(kind, ref.script_path, {"handle": handle})


def register(server) -> None:
    from ..server import params_as

    @server.feature("exo/viewText")
    async def on_view_text(ls, params: Any) -> dict:
        p = params_as(params, m.ViewTextParams)
        text = await view_text(ls, p.uri)
        return msgspec.to_builtins(m.ViewTextResult(text=text, version=ls.view_version))
