"""Virtual documents: the proc at a step (``exo-proc:``) and its generated C (``exo-c:``).

URIs: ``exo-proc:<script path>?proc=<name>&step=<n|last|-1>`` (``-1``: the proc as
defined, before any step) and ``exo-c:`` the same way. The client reads a view with
``exo/viewText`` and re-reads its open views on ``exo/viewsChanged``; every run bumps
the views' version.

Inside views, hover and go to definition follow the source maps (``exo/viewMap``): a C
line goes to its proc statement, a proc statement to its algorithm line (Exo's srcinfo)
and to the scheduling calls that made it and last changed it. Steps can be diffed
(``exo/stepDiff``), and ``exo/stepChange`` says what the call on a script line did.

Rendering happens in the worker, on demand, cached per proc (see ``view_queries``). The
worker answers one request at a time, so a cold C render of a large proc delays a run
queued behind it by that long; it happens once per proc, only when a C view is read.
Hovers inside views never start a run and reuse the map of the version last served.
"""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec
from lsprotocol import types as lsp

from exo_lsp_protocol import messages as m

from ...shared.contract import ViewMapParams, ViewTextParams
from ...shared.positions import col_len
from ...shared.trace import Step, Trace, view_uri

SCHEMES = ("exo-proc", "exo-c")


class ViewRef(msgspec.Struct, frozen=True):
    scheme: str  # exo-proc | exo-c
    script_path: str
    proc: str | None
    step: int | None  # None = last; -1 = as defined


def is_view_uri(uri: str) -> bool:
    return uri.split(":", 1)[0] in SCHEMES


def parse_view_uri(uri: str) -> ViewRef:
    parts = urlsplit(uri)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"not an exo view: {uri}")
    # VS Code's own URI encoder percent-encodes '=' and '&' in the query: accept both
    query = parse_qs(unquote(parts.query))
    proc = query.get("proc", [None])[0] or None
    step_s = query.get("step", ["last"])[0]
    step = None if step_s in ("", "last") else int(step_s)
    return ViewRef(parts.scheme, unquote(parts.path), proc, step)



def select_handle(trace: Trace, proc: str | None, step: int | None) -> tuple[int, Step | None]:
    """The proc a view shows: after `step` (before it, if it failed), or at the end; with
    step -1, the proc `proc` as defined."""
    if step == -1:
        made = {s.proc_out for s in trace.steps}
        for d in trace.procs:
            if d.name == proc and d.handle not in made:
                return d.handle, None
        raise ValueError(f"no proc named {proc!r} is defined in this script")
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


def _script_uri(ref: ViewRef) -> str:
    from ..server import path_to_uri

    return path_to_uri(ref.script_path)


async def _trace(ls, script_uri: str, run: bool) -> Trace:
    trace = await ls.ensure_trace(script_uri) if run else (ls.trace_for(script_uri) or await ls.ensure_trace(script_uri))
    if trace is None:
        raise ValueError(f"{script_uri} has not been run (is the workspace trusted?)")
    return trace


async def view_text(ls, uri: str) -> str:
    ref = parse_view_uri(uri)
    trace = await _trace(ls, _script_uri(ref), True)
    handle, _ = select_handle(trace, ref.proc, ref.step)
    return await _view_text(ls, ref.script_path, handle, c=ref.scheme == "exo-c")


async def _view_text(ls, path: str, handle: int | None, *, c: bool = False) -> str:
    return (await ls.engine.query(path, ViewTextParams(handle=handle, c=c))).text


# --------------------------------------------------------------------------- maps


def path_text(path: list[list[str | int]]) -> str:
    return ".".join(f"{a}[{i}]" for a, i in path)


def _loc(loc, path_to_uri) -> m.Location | None:
    if loc is None:
        return None
    r = loc.range
    return m.Location(
        uri=path_to_uri(loc.path),
        range=m.Range(start=m.Position(line=r.start.line, character=r.start.character),
                      end=m.Position(line=r.end.line, character=r.end.character)),
    )


def _step_loc(trace: Trace, index: int | None, script_uri: str) -> m.Location | None:
    if index is None or not 0 <= index < len(trace.steps):
        return None
    r = trace.steps[index].range
    return m.Location(
        uri=script_uri,
        range=m.Range(start=m.Position(line=r.start.line, character=r.start.character),
                      end=m.Position(line=r.end.line, character=r.end.character)),
    )


async def view_map(ls, uri: str, *, run: bool = True) -> m.ViewMapResult:
    from ..server import path_to_uri
    cached = ls.view_maps.get(uri)
    if cached is not None and cached.version == ls.view_version:
        return cached
    ref = parse_view_uri(uri)
    script_uri = _script_uri(ref)
    trace = await _trace(ls, script_uri, run)
    handle, step = select_handle(trace, ref.proc, ref.step)
    data = await ls.engine.query(
        ref.script_path,
        ViewMapParams(handle=handle, c=ref.scheme == "exo-c", upto=None if step is None else step.index),
    )
    stmts = []
    for st in data.stmts:
        stmts.append(
            m.ViewStatement(
                path=path_text(st.path),
                kind=st.kind,
                text=st.text,
                proc_lines=m.LineSpan(start=st.lines[0], end=st.lines[1]),
                proc_extent=m.LineSpan(start=st.extent[0], end=st.extent[1]),
                c_lines=[m.LineSpan(start=a, end=b) for a, b in st.c],
                origin=_loc(st.origin, path_to_uri),
                created_step=st.created,
                created_at=_step_loc(trace, st.created, script_uri),
                changed_step=st.changed,
                changed_at=_step_loc(trace, st.changed, script_uri),
            )
        )
    result = m.ViewMapResult(
        uri=uri,
        version=ls.view_version,
        kind="c" if ref.scheme == "exo-c" else "proc",
        proc=data.proc,
        step=None if step is None else step.index,
        chain=data.chain,
        aligned=data.aligned,
        statements=stmts,
    )
    ls.view_maps[uri] = result
    return result


def statement_at(vm: m.ViewMapResult, line: int) -> m.ViewStatement | None:
    """The innermost statement on a line of the view."""
    best, best_len = None, None
    for st in vm.statements:
        if vm.kind == "c":
            spans = st.c_lines
        else:
            own = st.proc_lines
            spans = [own] if own.start <= line < own.end else [st.proc_extent]
        for sp in spans:
            if sp.start <= line < sp.end and (best_len is None or sp.end - sp.start < best_len):
                best, best_len = st, sp.end - sp.start
    return best


def _line_range(lines: list[str], span: m.LineSpan) -> m.Range:
    first = lines[span.start] if span.start < len(lines) else ""
    last = lines[span.end - 1] if 0 < span.end <= len(lines) else ""
    indent = len(first) - len(first.lstrip())
    return m.Range(start=m.Position(line=span.start, character=indent),
                   end=m.Position(line=span.end - 1, character=col_len(last)))


def _to_lsp_location(loc: m.Location) -> lsp.Location:
    r = loc.range
    return lsp.Location(
        uri=loc.uri,
        range=lsp.Range(start=lsp.Position(line=r.start.line, character=r.start.character),
                        end=lsp.Position(line=r.end.line, character=r.end.character)),
    )


async def definitions(ls, uri: str, line: int) -> list[m.Location]:
    """Go to definition inside a view. C view: the proc statement, then its algorithm line.
    Proc view: the algorithm line, the call that made the statement, the call that last
    changed it."""
    vm = await view_map(ls, uri, run=False)
    st = statement_at(vm, line)
    if st is None:
        return []
    out: list[m.Location] = []
    if vm.kind == "c":
        ref = parse_view_uri(uri)
        proc_uri = view_uri("exo-proc", ref.script_path, ref.proc, ref.step)
        text = await view_text(ls, proc_uri)
        out.append(m.Location(uri=proc_uri, range=_line_range(text.split("\n"), st.proc_lines)))
        if st.origin:
            out.append(st.origin)
        return out
    for loc in (st.origin, st.created_at, st.changed_at):
        if loc is not None and loc not in out:
            out.append(loc)
    return out


async def hover_text(ls, uri: str, line: int) -> str | None:
    vm = await view_map(ls, uri, run=False)
    st = statement_at(vm, line)
    if st is None:
        return None
    trace = ls.trace_for(_script_uri(parse_view_uri(uri)))
    parts = [f"**{st.kind}** `{st.text}`" if st.path else f"**{vm.proc}**"]
    if st.origin is not None:
        parts.append(f"algorithm: line {st.origin.range.start.line + 1} of `{st.origin.uri.rsplit('/', 1)[-1]}`")

    def step_line(label: str, index: int | None) -> None:
        if index is None or trace is None or index >= len(trace.steps):
            return
        s = trace.steps[index]
        parts.append(f"{label}: step {index} `{s.op}` (script line {s.line + 1})")

    if st.path:
        if st.created_step is None:
            parts.append("made by: the algorithm")
        step_line("made by", st.created_step)
        if st.changed_step != st.created_step:
            step_line("last changed by", st.changed_step)
    if vm.kind == "c":
        parts.append(f"proc view: lines {st.proc_lines.start + 1}–{st.proc_lines.end}")
    elif st.c_lines:
        parts.append("C: " + ", ".join(f"lines {s.start + 1}–{s.end}" for s in st.c_lines))
    return "  \n".join(parts)


# --------------------------------------------------------------------------- diffs


def _spans(opcodes, side: int) -> list[m.LineSpan]:
    out = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        a, b = (i1, i2) if side == 0 else (j1, j2)
        if b > a:
            out.append(m.LineSpan(start=a, end=b))
    return out


def text_diff(old: str, new: str, old_name: str, new_name: str) -> tuple[str, list[m.LineSpan], list[m.LineSpan]]:
    a, b = old.split("\n"), new.split("\n")
    diff = "\n".join(difflib.unified_diff(a, b, old_name, new_name, lineterm=""))
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return diff, _spans(ops, 0), _spans(ops, 1)


def _before_uri(trace: Trace, s: Step, script_path: str) -> str:
    """View URI of the proc a step received."""
    prev = None
    for t in trace.steps[: s.index]:
        if t.ok and t.proc_out == s.proc_in and t.proc_out is not None:
            prev = t  # the last one: a helper step and its last primitive share it
    if prev is not None:
        top = prev if prev.parent is None else trace.steps[prev.parent]
        idx = top.index if top.proc_out == prev.proc_out else prev.index
        return view_uri("exo-proc", script_path, s.proc_name, idx)
    return view_uri("exo-proc", script_path, s.proc_name, -1)


def _describe(trace: Trace, step: int | None, proc: str | None) -> str:
    if step is None or step < 0:
        return f"{proc} (as defined)"
    s = trace.steps[step]
    return f"after step {step} {s.op} (line {s.line + 1})"


async def step_diff(ls, p: m.StepDiffParams) -> m.StepDiffResult:
    from ..server import uri_to_path

    trace = await _trace(ls, p.uri, True)
    path = uri_to_path(p.uri)
    to_step = None if p.to_step == "last" else int(p.to_step)
    to_handle, to_s = select_handle(trace, p.proc, to_step)
    proc = p.proc
    if p.from_step == -1 and proc is None:
        # the proc the chain of `to` started from
        first = to_s
        while first is not None:
            prev = next((t for t in reversed(trace.steps[: first.index]) if t.ok and t.proc_out == first.proc_in), None)
            if prev is None:
                break
            first = prev
        proc = first.proc_name if first is not None else None
    from_handle, _ = select_handle(trace, proc, p.from_step)
    to_index = None if to_s is None else to_s.index
    from_uri = view_uri("exo-proc", path, proc, p.from_step)
    to_name = p.proc or (None if to_s is None else _out_name(trace, to_s) or to_s.proc_name)
    to_uri = view_uri("exo-proc", path, to_name, to_index if to_index is not None else "last")
    old = await _view_text(ls, path, from_handle)
    new = await _view_text(ls, path, to_handle)
    a_name, b_name = _describe(trace, p.from_step, proc), _describe(trace, to_index, to_name)
    diff, removed, added = text_diff(old, new, a_name, b_name)
    return m.StepDiffResult(from_uri=from_uri, to_uri=to_uri, title=f"{a_name} ↔ {b_name}", diff=diff,
                            removed=removed, added=added)


async def step_change(ls, p: m.StepChangeParams) -> m.StepChangeResult:
    from ..server import uri_to_path

    trace = await _trace(ls, p.uri, True)
    path = uri_to_path(p.uri)
    on_line = [s for s in trace.steps if s.parent is None and s.line == p.line]
    if not on_line:
        return m.StepChangeResult(step=None)
    first, last = on_line[0], on_line[-1]
    if first.proc_in is None:
        return m.StepChangeResult(step=last.index, op=last.op, ok=last.ok, error=last.error)
    before = _before_uri(trace, first, path)
    old = await _view_text(ls, path, first.proc_in)
    if not (last.ok and last.proc_out is not None):
        return m.StepChangeResult(step=last.index, op=last.op, ok=False, error=last.error, before_uri=before)
    after = view_uri("exo-proc", path, _out_name(trace, last) or last.proc_name, last.index)
    new = await _view_text(ls, path, last.proc_out)
    diff, removed, added = text_diff(old, new, f"before line {p.line + 1}", f"after line {p.line + 1} ({last.op})")
    return m.StepChangeResult(step=last.index, op=last.op, ok=True, before_uri=before, after_uri=after,
                              diff=diff, removed=removed, added=added)


# --------------------------------------------------------------------------- registration


def as_view_uri(ls, uri: str) -> str | None:
    """The view a document shows: itself for a view URI, the view of one of our view files,
    None for anything else."""
    if is_view_uri(uri):
        return uri
    if uri.startswith("file:"):
        from ..server import uri_to_path

        return ls.view_files.view_of(uri_to_path(uri))
    return None


def in_view(ls, params) -> bool:
    """For the dispatcher: the request is about a proc or C view."""
    return as_view_uri(ls, params.text_document.uri) is not None


def in_script(ls, params) -> bool:
    return not in_view(ls, params)


def register(server) -> None:
    from ..server import params_as

    if not hasattr(server, "view_maps"):
        server.view_maps = {}

    @server.feature("exo/viewText")
    async def on_view_text(ls, params: Any) -> dict:
        p = params_as(params, m.ViewTextParams)
        text = await view_text(ls, p.uri)
        return msgspec.to_builtins(m.ViewTextResult(text=text, version=ls.view_version))

    @server.feature("exo/viewMap")
    async def on_view_map(ls, params: Any) -> dict:
        p = params_as(params, m.ViewMapParams)
        return msgspec.to_builtins(await view_map(ls, p.uri))

    @server.feature("exo/stepDiff")
    async def on_step_diff(ls, params: Any) -> dict:
        return msgspec.to_builtins(await step_diff(ls, params_as(params, m.StepDiffParams)))

    @server.feature("exo/stepChange")
    async def on_step_change(ls, params: Any) -> dict:
        return msgspec.to_builtins(await step_change(ls, params_as(params, m.StepChangeParams)))

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_HOVER, applies=in_view)
    async def hover(ls, params: lsp.HoverParams) -> lsp.Hover | None:
        text = await hover_text(ls, as_view_uri(ls, params.text_document.uri), params.position.line)
        if text is None:
            return None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text))

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_DEFINITION, applies=in_view)
    async def definition(ls, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        from .show import openable_uri

        locs = await definitions(ls, as_view_uri(ls, params.text_document.uri), params.position.line)
        out = []
        for loc in locs:
            out.append(_to_lsp_location(msgspec.structs.replace(loc, uri=await openable_uri(ls, loc.uri))))
        return out or None
