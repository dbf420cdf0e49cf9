"""Pattern strings and cursors, resolved: hover, go to definition, references, document
highlights, inlay hints, code lenses and semantic tokens.

Everything starts from the trace of the document's current version:

* a step's argument (``"for i in _:_"``, ``y_alloc``, ``p.find_loop("c").expand(1, 0)``)
  carries the targets Exo resolved it to, in the proc as it was at that step;
* a lookup (``p.find_loop("c")``, ``.expand(1, 0)``, ``.after()``) is a cursor-returning
  call written in the script, recorded by the tracer with what it returned;
* a target's ``origin`` is the algorithm statement it came from (the header line for loops
  and ifs), which is what definition, references, highlights and code lenses follow.

Markdown for hovers and labels for inlay hints need the procs, so they are computed in the
worker (``exo_lsp.worker.queries.resolve``); the rest is read from the trace here.

Semantic tokens (legend ``LEGEND``) inside pattern strings:
``_`` holes → ``macro``; ``#N`` selectors → ``decorator``; loop names → ``parameter``;
buffers → ``variable``; size arguments → ``variable`` + ``readonly``; called procs →
``function``; ``for``/``in``/``if``/``seq``/... → ``keyword``; numbers → ``number``;
operators → ``operator``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from lsprotocol import types as lsp

from ...shared.positions import col_len, col_to_index
from ...shared.contract import HoverParams, InlayParams, InlayResult, NamesParams
from ...shared.trace import Location, Position, Range, Step, Target, Trace
from .views import in_script

log = logging.getLogger("exo_lsp.resolve")

TOKEN_TYPES = ["keyword", "variable", "parameter", "function", "number", "operator", "macro", "decorator"]
TOKEN_MODIFIERS = ["readonly", "declaration"]
LEGEND = lsp.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS)

_KEYWORDS = {"for", "in", "if", "else", "elif", "and", "or", "not", "seq", "par", "pass"}


# ----------------------------------------------------------------------------- locating


@dataclass
class Hit:
    """What is under a position in a script."""

    what: str  # argument | lookup | op
    range: Range
    step: int | None = None
    argument: str | None = None
    lookup: int | None = None
    targets: list[Target] = field(default_factory=list)


def _size(r: Range) -> tuple[int, int]:
    return (r.end.line - r.start.line, r.end.character - r.start.character if r.end.line == r.start.line else r.end.character)


def _contains(outer: Range, inner: Range) -> bool:
    return outer.contains(inner.start) and outer.contains(inner.end)


def op_name_range(step: Step, line_text: str) -> Range | None:
    """The op's name in the step's call: ``divide_loop`` of ``divide_loop(p, ...)``."""
    start = col_to_index(line_text, step.range.start.character)
    seg = line_text[start:]
    paren = seg.find("(")
    if paren < 0:
        return None
    name_part = seg[:paren]
    i = name_part.rfind(step.op)
    if i < 0 or name_part[i:].strip() != step.op:
        return None
    a = col_len(line_text[: start + i])
    line = step.range.start.line
    return Range(Position(line, a), Position(line, a + col_len(step.op)))


# Arguments the op resolves in the proc, each hovered with what it matched at its step.
RESOLVED_KINDS = ("pattern", "cursor", "window", "expr", "proc")
# Targets that describe an argument (the accesses a window covers, the loops an index
# names) rather than what the op was applied to: not "scheduled by" that step.
DESCRIPTIVE_TARGETS = ("access", "binder")


def _string_literal(text: str) -> bool:
    """A string written as an argument (a new name, a tail strategy): it gets a short hover
    saying what it is."""
    return re.match(r"^[rRuUfFbB]{0,2}('|\")", text) is not None


def hits(trace: Trace, lines: list[str]) -> list[Hit]:
    """Every resolvable thing in a script: arguments, lookups and their patterns, op names."""
    out: list[Hit] = []
    for s in trace.steps:
        if s.parent is not None:
            continue
        for a in s.arguments:
            if a.range is None or (a.kind not in RESOLVED_KINDS and not _string_literal(a.text)):
                continue
            if a.kind == "proc" and a.name == s.arguments[0].name:
                continue  # the proc being scheduled: its op and other arguments show it
            targets = [t for t in s.targets if t.argument == a.name]
            if not targets and s.children and s.targets:
                targets = list(s.targets)  # a helper: its primitives resolved the pattern
            out.append(Hit("argument", a.range, step=s.index, argument=a.name, targets=targets))
        line = lines[s.range.start.line] if s.range.start.line < len(lines) else ""
        r = op_name_range(s, line)
        if r is not None:
            out.append(Hit("op", r, step=s.index))
    for lk in trace.lookups:
        out.append(Hit("lookup", lk.range, lookup=lk.index, targets=list(lk.targets)))
        for a in lk.arguments:
            if a.kind == "pattern" and a.range is not None:
                out.append(Hit("lookup", a.range, lookup=lk.index, targets=list(lk.targets)))
    return out


def hit_at(trace: Trace, lines: list[str], pos: Position) -> Hit | None:
    """The innermost thing at `pos`; for equal ranges a step's argument wins over a lookup
    (it also knows the step), and a later lookup over an earlier one (loops re-run)."""
    best: Hit | None = None
    rank = {"op": 0, "argument": 1, "lookup": 2}
    for h in hits(trace, lines):
        if not h.range.contains(pos):
            continue
        if best is None or _size(h.range) < _size(best.range):
            best = h
        elif _size(h.range) == _size(best.range):
            if rank[h.what] < rank[best.what] or (h.what == best.what == "lookup" and h.lookup > best.lookup):
                best = h
    return best


def origin_key(loc: Location) -> tuple[str, int]:
    return (loc.path, loc.range.start.line)


def origins(targets: Iterable[Target]) -> list[Location]:
    """Distinct origins of targets, each cut to its first line: a block of statements is
    shown by its first statement (loops and ifs already come as their header line)."""
    out: list[Location] = []
    for t in targets:
        if t.origin is not None and all(origin_key(o) != origin_key(t.origin) for o in out):
            out.append(first_line(t.origin))
    return out


_LINE_LENGTHS: dict[str, tuple[float, list[int]]] = {}


def _line_length(path: str, line: int) -> int | None:
    import os

    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    got = _LINE_LENGTHS.get(path)
    if got is None or got[0] != mtime:
        try:
            with open(path, encoding="utf-8") as fh:
                got = (mtime, [col_len(x) for x in fh.read().splitlines()])
        except (OSError, UnicodeDecodeError):
            return None
        _LINE_LENGTHS[path] = got
    lengths = got[1]
    return lengths[line] if 0 <= line < len(lengths) else None


def first_line(loc: Location) -> Location:
    r = loc.range
    if r.start.line == r.end.line:
        return loc
    end = _line_length(loc.path, r.start.line)
    if end is None:
        end = r.start.character
    return Location(loc.path, Range(r.start, Position(r.start.line, end)))


def related(trace: Trace, lines: list[str], keys: set[tuple[str, int]]) -> list[Hit]:
    """Arguments and lookups of the script whose targets come from one of `keys`; an item
    inside an item with the same origin (``p.find_loop("c")`` in ``....after()``) is left
    out, and so are duplicates."""
    items = [h for h in hits(trace, lines) if h.what != "op" and any(origin_key(o) in keys for o in origins(h.targets))]
    items.sort(key=lambda h: _size(h.range), reverse=True)
    kept: list[Hit] = []
    for h in items:
        mine = {origin_key(o) for o in origins(h.targets)} & keys
        if any(
            k.range == h.range or (_contains(k.range, h.range) and mine & {origin_key(o) for o in origins(k.targets)})
            for k in kept
        ):
            continue
        kept.append(h)
    kept.sort(key=lambda h: (h.range.start.line, h.range.start.character))
    return kept


def step_of(trace: Trace, h: Hit) -> Step | None:
    if h.step is not None:
        return trace.steps[h.step]
    return None


def top_step(trace: Trace, s: Step) -> Step:
    while s.parent is not None:
        s = trace.steps[s.parent]
    return s


def algorithm_lenses(traces: Iterable[Trace], path: str) -> list[tuple[Range, Trace, list[Step]]]:
    """Per algorithm statement in `path`: the top-level steps that selected it, per script."""
    out = []
    for trace in traces:
        by_line: dict[int, tuple[Range, list[Step]]] = {}
        for s in trace.steps:
            for o in origins(t for t in s.targets if t.kind not in DESCRIPTIVE_TARGETS):
                if o.path != path:
                    continue
                top = top_step(trace, s)
                rng, steps = by_line.setdefault(o.range.start.line, (o.range, []))
                if top not in steps:
                    steps.append(top)
        for line in sorted(by_line):
            rng, steps = by_line[line]
            out.append((rng, trace, sorted(steps, key=lambda s: s.index)))
    return out


def lens_title(steps: list[Step]) -> str:
    if len(steps) == 1:
        s = steps[0]
        return f"scheduled by line {s.line + 1}: {s.op}"
    lines = ", ".join(str(s.line + 1) for s in steps[:6]) + (", …" if len(steps) > 6 else "")
    ops = []
    for s in steps:
        if s.op not in ops:
            ops.append(s.op)
    return f"scheduled by {len(steps)} steps, lines {lines}: {', '.join(ops[:4])}{', …' if len(ops) > 4 else ''}"


# ----------------------------------------------------------------------------- semantic tokens

_TOKEN = re.compile(
    r"(?P<sel>#\s*\d+)|(?P<name>[A-Za-z_]\w*)|(?P<num>\d+(?:\.\d*)?)|(?P<op>\+=|[-+*/%<>=!]=?|:)"
)
_LITERAL = re.compile(r"^(?P<prefix>[rRuU]?)(?P<quote>'''|\"\"\"|'|\")")


def pattern_tokens(
    line_text: str, rng: Range, names: dict[str, list[str]], shorthand: str | None
) -> list[tuple[int, int, int, int, int]]:
    """(line, start column, length in columns, type index, modifier bits) of each token in the
    single-line string literal at `rng`."""
    if rng.start.line != rng.end.line:
        return []
    a = col_to_index(line_text, rng.start.character)
    b = col_to_index(line_text, rng.end.character)
    lit = line_text[a:b]
    m = _LITERAL.match(lit)
    if m is None:
        return []
    q = m["quote"]
    start = len(m["prefix"]) + len(q)
    if not lit.endswith(q) or len(lit) < start + len(q):
        return []
    content = lit[start : len(lit) - len(q)]
    if "\\" in content and not m["prefix"]:
        return []
    loops = set(names.get("loops", []))
    sizes = set(names.get("sizes", []))
    procs = set(names.get("procs", []))
    bare = re.fullmatch(r"\s*[A-Za-z_]\w*\s*(#\s*\d+)?\s*", content) is not None
    out = []
    for t in _TOKEN.finditer(content):
        kind, mods = None, 0
        text = t.group()
        if t["sel"]:
            kind = "decorator"
        elif t["name"]:
            if text == "_":
                kind = "macro"
            elif text in _KEYWORDS:
                kind = "keyword"
            elif bare and shorthand == "loop" or text in loops:
                kind = "parameter"
            elif text in procs:
                kind = "function"
            elif text in sizes:
                kind, mods = "variable", 1
            else:
                kind = "variable"
                if bare and shorthand == "alloc":
                    mods = 2  # the allocation the shorthand names
        elif t["num"]:
            kind = "number"
        elif t["op"]:
            kind = "operator"
        if kind is None:
            continue
        i = a + start + t.start()
        col = col_len(line_text[:i])
        out.append((rng.start.line, col, col_len(text), TOKEN_TYPES.index(kind), mods))
    return out


def encode_tokens(tokens: list[tuple[int, int, int, int, int]]) -> list[int]:
    data: list[int] = []
    pl, pc = 0, 0
    for line, col, length, typ, mods in sorted(set(tokens)):
        dl = line - pl
        dc = col - pc if dl == 0 else col
        data += [dl, dc, length, typ, mods]
        pl, pc = line, col
    return data


def pattern_literals(trace: Trace) -> list[tuple[Range, int | None, str | None]]:
    """(range, proc handle it was matched in, shorthand kind) of each pattern string."""
    out = []
    for s in trace.steps:
        if s.parent is not None:
            continue
        for a in s.arguments:
            if a.kind == "pattern" and a.range is not None:
                kinds = {t.kind for t in s.targets if t.argument == a.name}
                short = "loop" if "loop" in kinds else "alloc" if "alloc" in kinds else None
                out.append((a.range, s.proc_in, short))
    for lk in trace.lookups:
        for a in lk.arguments:
            if a.kind == "pattern" and a.range is not None:
                short = {"find_loop": "loop", "find_alloc_or_arg": "alloc"}.get(lk.method)
                out.append((a.range, lk.proc, short))
    return out


# ----------------------------------------------------------------------------- server glue


def _lsp_range(r: Range) -> lsp.Range:
    return lsp.Range(start=lsp.Position(line=r.start.line, character=r.start.character),
                     end=lsp.Position(line=r.end.line, character=r.end.character))


def _pos(p: lsp.Position) -> Position:
    return Position(p.line, p.character)


def _lines(ls, uri: str) -> list[str]:
    got = ls.script_text(uri)
    return got[0].splitlines() if got else []


async def current_trace(ls, uri: str, *, force: bool) -> Trace | None:
    """The trace of the document as it is now. Requests a user makes (hover, definition)
    run the script at once if needed; requests the editor makes on its own after every
    keystroke (inlay hints, tokens, lenses) wait for the debounced run instead."""
    if not ls.trusted:
        return None
    got = ls.script_text(uri)
    trace = ls.trace_for(uri)
    if got is None or (trace is not None and trace.version == got[1]):
        return trace
    if not force:
        pending = ls._pending.get(uri)
        if pending is not None and not pending.done():
            try:
                await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():  # superseded by a newer edit: that run is the one to wait for
                    return await current_trace(ls, uri, force=force)
                raise
            trace = ls.trace_for(uri)
            got = ls.script_text(uri)
            if trace is not None and got is not None and trace.version == got[1]:
                return trace
    return await ls.ensure_trace(uri)


class Resolver:
    def __init__(self, ls) -> None:
        self.ls = ls
        # (worker restarts, script, proc handle) -> names: handles are per worker, and each
        # script has its own
        self.names: dict[tuple[int, str, int], dict] = {}

    async def query(self, trace: Trace, params) -> Any:
        """The worker's answer about `trace`'s run (None when it has none or failed)."""
        try:
            return await self.ls.engine.query(trace.path, params)
        except RuntimeError as exc:
            log.warning("%s failed: %s", type(params).__name__, exc)
            return None

    async def proc_names(self, trace: Trace, handles: set[int]) -> dict[int, dict]:
        epoch = (self.ls.engine.restarts, trace.path)
        missing = [h for h in handles if (*epoch, h) not in self.names]
        if missing:
            got = await self.query(trace, NamesParams(handles=missing, version=trace.version))
            for h, v in (got.procs if got else {}).items():
                self.names[(*epoch, h)] = v
            if len(self.names) > 4096:
                self.names.clear()
        return {h: self.names.get((*epoch, h), {}) for h in handles}


def inlay_hints(trace: Trace, got: InlayResult, want: Range) -> list[lsp.InlayHint]:
    """Hints of a worker's answer inside ``want``. The answer may name steps and lookups the
    trace has not got yet: mid-run, the worker is ahead of the last partial trace published."""
    out = []
    for i, label in got.steps.items():
        if i >= len(trace.steps):
            continue
        s = trace.steps[i]
        out.append((s.range.end, label, s))
    step_ranges = [s.range for s in trace.steps if s.parent is None]
    lk_ranges = [lk.range for lk in trace.lookups]
    for i, label in got.lookups.items():
        if i >= len(trace.lookups):
            continue
        lk = trace.lookups[i]
        if any(_contains(r, lk.range) for r in step_ranges):
            continue  # the step's own hint says it
        if any(r != lk.range and _contains(r, lk.range) for r in lk_ranges):
            continue  # only the end of a chain: p.find(...).after()
        out.append((lk.range.end, label, None))
    hints = []
    seen = set()
    for pos, label, s in sorted(out, key=lambda x: (x[0].line, x[0].character)):
        if not want.contains(pos) or (pos, label) in seen:
            continue
        seen.add((pos, label))
        tooltip = None
        if s is not None and not s.ok and s.error:
            tooltip = s.error
        elif s is not None and (s.targets or s.index in got.produced):
            # what it selected, then what it produced (created nodes and the diff)
            parts = ["selected: " + "; ".join(t.text for t in s.targets[:4])] if s.targets else []
            if s.index in got.produced:
                parts.append(got.produced[s.index])
            tooltip = "\n\n".join(parts)
        hints.append(
            lsp.InlayHint(
                position=lsp.Position(line=pos.line, character=pos.character),
                label=label,
                kind=lsp.InlayHintKind.Type,
                padding_left=True,
                tooltip=tooltip,
            )
        )
    return hints


def register(server) -> None:
    resolver: Resolver | None = None

    def get() -> Resolver:
        nonlocal resolver
        if resolver is None:
            resolver = Resolver(server)
        return resolver

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_HOVER, applies=in_script)
    async def on_hover(ls, params: lsp.HoverParams) -> lsp.Hover | None:
        uri = params.text_document.uri
        trace = await current_trace(ls, uri, force=True)
        if trace is None:
            return None
        h = hit_at(trace, _lines(ls, uri), _pos(params.position))
        if h is None:
            return None
        q = HoverParams(what=h.what, version=trace.version, step=h.step, argument=h.argument, lookup=h.lookup)
        got = await get().query(trace, q)
        if got is None:
            return None
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=got.markdown),
            range=_lsp_range(h.range),
        )

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_DEFINITION, applies=in_script)
    async def on_definition(ls, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        from ..server import path_to_uri

        uri = params.text_document.uri
        trace = await current_trace(ls, uri, force=True)
        if trace is None:
            return None
        h = hit_at(trace, _lines(ls, uri), _pos(params.position))
        if h is None or h.what == "op":
            return None
        locs = origins(h.targets)
        return [lsp.Location(uri=path_to_uri(o.path), range=_lsp_range(o.range)) for o in locs] or None

    def _keys_at(trace: Trace | None, traces: list[Trace], lines: list[str], path: str, pos: Position):
        if trace is not None:
            h = hit_at(trace, lines, pos)
            if h is not None and h.what != "op":
                return {origin_key(o) for o in origins(h.targets)}
        # in an algorithm: the statement on this line, if any step selected it
        keys = set()
        for t in traces:
            for s in t.steps:
                for o in origins(s.targets):
                    if o.path == path and o.range.start.line <= pos.line <= o.range.end.line and o.range.contains(pos):
                        keys.add(origin_key(o))
        return keys

    def _script_lines(t: Trace, uri_of) -> list[str]:
        got = server.script_text(uri_of(t.path))
        return got[0].splitlines() if got else []

    async def _keys_here(ls, uri: str, position: lsp.Position):
        """The run traces, the document's lines and the algorithm statements at `position`."""
        from ..server import uri_to_path

        trace = await current_trace(ls, uri, force=True)
        traces = list(ls.engine.traces.values())
        lines = _lines(ls, uri)
        return trace, traces, lines, _keys_at(trace, traces, lines, uri_to_path(uri), _pos(position))

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_REFERENCES)
    async def on_references(ls, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
        from ..server import path_to_uri

        trace, traces, _, keys = await _keys_here(ls, params.text_document.uri, params.position)
        if not keys:
            return None
        out: list[lsp.Location] = []
        if params.context.include_declaration:
            seen = set()
            for t in traces:
                for s in t.steps:
                    for o in origins(s.targets):
                        if origin_key(o) in keys and origin_key(o) not in seen:
                            seen.add(origin_key(o))
                            out.append(lsp.Location(uri=path_to_uri(o.path), range=_lsp_range(o.range)))
        for t in traces:
            for h in related(t, _script_lines(t, path_to_uri), keys):
                out.append(lsp.Location(uri=path_to_uri(t.path), range=_lsp_range(h.range)))
        return out or None

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    async def on_highlight(ls, params: lsp.DocumentHighlightParams) -> list[lsp.DocumentHighlight] | None:
        from ..server import uri_to_path

        path = uri_to_path(params.text_document.uri)
        trace, traces, lines, keys = await _keys_here(ls, params.text_document.uri, params.position)
        if not keys:
            return None
        out: list[lsp.DocumentHighlight] = []
        seen = set()
        for t in traces:
            for s in t.steps:
                for o in origins(s.targets):
                    if o.path == path and origin_key(o) in keys and origin_key(o) not in seen:
                        seen.add(origin_key(o))
                        out.append(lsp.DocumentHighlight(range=_lsp_range(o.range), kind=lsp.DocumentHighlightKind.Text))
        if trace is not None:
            for h in related(trace, lines, keys):
                out.append(lsp.DocumentHighlight(range=_lsp_range(h.range), kind=lsp.DocumentHighlightKind.Read))
        return out or None

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_INLAY_HINT)
    async def on_inlay(ls, params: lsp.InlayHintParams) -> list[lsp.InlayHint] | None:
        uri = params.text_document.uri
        trace = await current_trace(ls, uri, force=False)
        if trace is None or (not trace.steps and not trace.lookups):
            return None
        got = await get().query(trace, InlayParams(version=trace.version))
        if got is None:
            return None
        return inlay_hints(trace, got, _lsp_range_to_range(params.range))

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_CODE_LENS)
    async def on_code_lens(ls, params: lsp.CodeLensParams) -> list[lsp.CodeLens] | None:
        from ..server import path_to_uri, uri_to_path

        uri = params.text_document.uri
        await current_trace(ls, uri, force=False)
        path = uri_to_path(uri)
        lenses = []
        for rng, t, steps in algorithm_lenses(list(ls.engine.traces.values()), path):
            last = steps[-1]
            arg = {"uri": path_to_uri(t.path), "proc": last.proc_name, "step": last.index}
            title = lens_title(steps)
            if t.path != path:
                title += f" in {t.path.rsplit('/', 1)[-1]}"
            lenses.append(lsp.CodeLens(range=_lsp_range(rng), command=lsp.Command(title=title, command="exo.showProc", arguments=[arg])))
        if not _client_has_inlay_hints(ls):
            lenses += await step_lenses(ls, uri)
        return lenses

    async def step_lenses(ls, uri: str) -> list[lsp.CodeLens]:
        """Where the client shows no inlay hints, each step's preview becomes a code lens
        above the call (clicking it opens the proc after that step)."""
        trace = ls.trace_for(uri)
        if trace is None or not trace.steps:
            return []
        got = await get().query(trace, InlayParams(version=trace.version))
        lenses = []
        for i, label in sorted(got.steps.items() if got else []):
            s = trace.steps[i]
            arg = {"uri": uri, "proc": s.proc_name, "step": s.index}
            head = Range(s.range.start, s.range.start)
            lenses.append(lsp.CodeLens(range=_lsp_range(head), command=lsp.Command(title=label, command="exo.showProc", arguments=[arg])))
        return lenses

    @server.dispatcher.handle(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
    async def on_tokens(ls, params: lsp.SemanticTokensParams) -> lsp.SemanticTokens | None:
        uri = params.text_document.uri
        trace = await current_trace(ls, uri, force=False)
        if trace is None:
            return lsp.SemanticTokens(data=[])
        lits = pattern_literals(trace)
        names = await get().proc_names(trace, {h for _, h, _ in lits if h is not None})
        lines = _lines(ls, uri)
        tokens = []
        for rng, h, short in lits:
            if rng.start.line < len(lines):
                tokens += pattern_tokens(lines[rng.start.line], rng, names.get(h, {}) if h is not None else {}, short)
        return lsp.SemanticTokens(data=encode_tokens(tokens))

    listeners = getattr(server, "run_listeners", None)
    if listeners is not None:
        listeners.append(_refresh)


def _client_has_inlay_hints(ls) -> bool:
    caps = getattr(ls, "client_capabilities", None)
    td = getattr(caps, "text_document", None) if caps else None
    return getattr(td, "inlay_hint", None) is not None


def _lsp_range_to_range(r: lsp.Range) -> Range:
    return Range(Position(r.start.line, r.start.character), Position(r.end.line, r.end.character))


def _refresh(ls, uri: str, trace: Trace) -> None:
    """A run finished: ask the client to re-read hints, tokens and lenses it supports."""
    caps = getattr(ls, "client_capabilities", None)
    ws = getattr(caps, "workspace", None) if caps else None
    for attr, method in (
        ("inlay_hint", lsp.WORKSPACE_INLAY_HINT_REFRESH),
        ("semantic_tokens", lsp.WORKSPACE_SEMANTIC_TOKENS_REFRESH),
        ("code_lens", lsp.WORKSPACE_CODE_LENS_REFRESH),
    ):
        cap = getattr(ws, attr, None) if ws else None
        if cap is not None and getattr(cap, "refresh_support", False):
            try:
                ls.protocol.send_request(method, None)
            except Exception:  # the client went away; nothing to refresh
                pass
