"""Worker side of the views: the proc and C text of a proc handle, and their source maps.

Everything is rendered on demand and cached per proc handle (procs are immutable, and a
handle always names the same proc object), so re-reading an open view, hovering in it or
diffing against it after a re-run whose memo returned the same proc costs a dict lookup.
C generation can be slow on large procs (seconds); it happens only for C views.

Which step produced a statement: along the chain of steps that made the view's proc, each
statement of a step's input is forwarded through Exo's provenance to the step's output;
a statement that no input statement forwards to, or whose own printed line changed, was
produced by that step. Labels are kept as the handle of the proc where the statement got
its current line, so they stay valid when a later run reuses memoized procs under new
step numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..exo import printing, procs
from ...shared.positions import LineIndex
from ...shared.trace import Location, Step, Trace
from . import handles
from ...shared.contract import StmtEntry, ViewData, ViewMapParams, ViewStats, ViewStatsParams, ViewTextParams, ViewTextResult


@dataclass
class _Rendered:
    proc: Any
    text: str
    printed: printing.ProcPrint
    lines: list[tuple[int, int]] | None  # raw line -> formatted lines


@dataclass
class _RenderedC:
    proc: Any
    text: str
    ranges: dict[tuple, list[tuple[int, int]]]


class ViewCache:
    def __init__(self) -> None:
        self.proc: dict[int, _Rendered] = {}
        self.c: dict[int, _RenderedC] = {}
        self.labels: dict[tuple[int | None, int], dict[tuple, int | None]] = {}
        self.stats = {"proc_renders": 0, "c_renders": 0, "hits": 0}

    def prune(self, registry) -> None:
        for table in (self.proc, self.c):
            for h in [h for h, r in table.items() if registry.get(h) is not r.proc]:
                del table[h]
        for key in [k for k in self.labels if registry.get(k[1]) is None]:
            del self.labels[key]


def cache_of(tracer) -> ViewCache:
    cache = getattr(tracer, "_view_cache", None)
    if cache is None:
        cache = tracer._view_cache = ViewCache()
    return cache


def _proc(tracer, handle: int):
    p = tracer.registry.get(int(handle))
    if p is None:
        raise KeyError(f"no proc with handle {handle} (the script has changed since)")
    return p


def _cached(tracer, handle: int, kind: str, limit: int, build):
    """The rendering of proc `handle` from the cache, or `build(p)`ed and kept there."""
    cache = cache_of(tracer)
    table = getattr(cache, kind)
    p = _proc(tracer, handle)
    r = table.get(handle)
    if r is not None and r.proc is p:
        cache.stats["hits"] += 1
        return r
    if len(table) > limit:
        cache.prune(tracer.registry)
    r = table[handle] = build(p)
    cache.stats[f"{kind}_renders"] += 1
    return r


def rendered(tracer, handle: int) -> _Rendered:
    def build(p) -> _Rendered:
        text = printing.proc_text(p)
        printed = printing.print_proc_map(p)
        return _Rendered(p, text, printed, printing.align_lines(printed.raw, text.split("\n")))

    return _cached(tracer, handle, "proc", 256, build)


def rendered_c(tracer, handle: int) -> _RenderedC:
    def build(p) -> _RenderedC:
        try:
            text, ranges = printing.c_code_map(p)
        finally:
            procs.reset_exo_state()
        return _RenderedC(p, text, ranges)

    return _cached(tracer, handle, "c", 64, build)


def view_lines(r: _Rendered, st: printing.PrintedStmt) -> tuple[list[int], list[int], int | None]:
    """Where a printed statement is in the proc view (0-based lines): its own lines
    [start, end) (the header of a loop or an if), its extent with the body, and the
    ``else:`` line of an if; [-1, -1] and None when the map is not aligned."""
    if r.lines is None:
        return [-1, -1], [-1, -1], None
    lines = [r.lines[st.raw[0]][0], r.lines[st.raw[1] - 1][1]]
    extent = [r.lines[st.raw_extent[0]][0], r.lines[st.raw_extent[1] - 1][1]]
    else_line = None if st.raw_else is None else r.lines[st.raw_else][0]
    return lines, extent, else_line


def stmt_at_line(tracer, handle: int, line: int) -> printing.StmtPath | None:
    """The path of the statement shown on 0-based `line` of proc `handle`'s view: the one
    whose own lines (a yapf-wrapped statement spans several) or ``else:`` line it is.
    None on the header (signature, asserts), on a line of no statement, or when the map
    is not aligned."""
    r = rendered(tracer, handle)
    for st in r.printed.stmts:
        lines, _, else_line = view_lines(r, st)
        if st.path and (lines[0] <= line < lines[1] or line == else_line):
            return st.path
    return None


# --------------------------------------------------------------------------- lineage


def lineage(trace: Trace, handle: int, upto: int | None) -> list[Step]:
    """The primitive steps that made proc `handle`, oldest first (none: as defined)."""
    chain: list[Step] = []
    cur, limit = handle, len(trace.steps) - 1
    if upto is not None:  # a helper's primitives come after it
        limit = max([upto, *trace.steps[upto].children])
    while True:
        found = None
        for s in reversed(trace.steps[: limit + 1]):
            if s.ok and s.proc_out == cur and s.proc_in is not None and s.proc_in != cur and not s.children:
                found = s
                break
        if found is None:
            break
        chain.append(found)
        cur, limit = found.proc_in, found.index - 1
    chain.reverse()
    return chain


def _own_texts(tracer, handle: int) -> dict[tuple, str]:
    r = cache_of(tracer).proc.get(handle)
    printed = r.printed if r is not None else printing.print_proc_map(_proc(tracer, handle))
    return {s.path: s.text for s in printed.stmts}


Label = tuple  # (handle where the statement appeared, handle where its line last changed)


def labels_for(tracer, chain: list[Step], handle: int) -> dict[tuple, Label]:
    """Statement path -> (created, changed): handles of the procs in which the statement
    first appeared and in which its own printed line last changed (None: the algorithm)."""
    cache = cache_of(tracer)
    if not chain:
        return {path: (None, None) for path in printing.stmt_paths(_proc(tracer, handle))}
    labels: dict[tuple, Label] | None = None
    start = 0
    for i in range(len(chain) - 1, -1, -1):  # reuse the newest cached prefix
        got = cache.labels.get((chain[i].proc_in, chain[i].proc_out))
        if got is not None:
            labels, start = got, i + 1
            break
    if labels is None:
        labels = {path: (None, None) for path in printing.stmt_paths(_proc(tracer, chain[0].proc_in))}
    t_in = _own_texts(tracer, chain[start].proc_in) if start < len(chain) else {}
    for s in chain[start:]:
        p_in, p_out = _proc(tracer, s.proc_in), _proc(tracer, s.proc_out)
        fwd = printing.forward_stmt_paths(p_in, p_out)
        t_out = _own_texts(tracer, s.proc_out)
        if fwd is None:  # no provenance (e.g. a new signature): same place, same line
            fwd = {path: path for path in t_in if t_in[path] == t_out.get(path)}
        back = {q: r for r, q in fwd.items()}
        new: dict[tuple, Label] = {}
        for q in printing.stmt_paths(p_out):
            r = back.get(q)
            if r is None or r not in labels:
                new[q] = (s.proc_out, s.proc_out)
            elif t_in.get(r) == t_out.get(q):
                new[q] = labels[r]
            else:
                new[q] = (labels[r][0], s.proc_out)
        labels, t_in = new, t_out
        cache.labels[(s.proc_in, s.proc_out)] = labels
    return labels


# --------------------------------------------------------------------------- maps


def _file_index(filename: str) -> LineIndex:
    import linecache

    lines = linecache.getlines(filename)
    return LineIndex("".join(lines))


def _origin(si, header_only: bool) -> Location | None:
    if si is None or not getattr(si, "filename", None):
        return None
    idx = _file_index(si.filename)
    if header_only or si.end_lineno is None:
        rng = idx.range(si.lineno, si.col_offset, si.lineno, len(idx.line(si.lineno - 1).encode()))
    else:
        rng = idx.range(si.lineno, si.col_offset, si.end_lineno, si.end_col_offset)
    return Location(os.path.abspath(si.filename), rng)


def view_data(tracer, path: str, handle: int, upto: int | None, with_c: bool) -> ViewData:
    r = rendered(tracer, handle)
    state = tracer.runs.get(os.path.abspath(path))
    chain = lineage(state.trace, handle, upto) if state is not None else []
    labels = labels_for(tracer, chain, handle)
    step_of = {s.proc_out: s.index for s in chain}
    c = rendered_c(tracer, handle) if with_c else None
    stmts = []
    for st in r.printed.stmts:
        lines, extent, else_line = view_lines(r, st)
        created, changed = labels.get(st.path, (None, None)) if st.path else (None, None)
        stmts.append(
            StmtEntry(
                path=[list(x) for x in st.path],
                kind=st.kind,
                text=st.text,
                lines=lines,
                extent=extent,
                else_line=else_line,
                origin=_origin(st.srcinfo, st.kind in ("proc", "loop", "if")),
                created=step_of.get(created),
                changed=step_of.get(changed),
                c=[list(x) for x in c.ranges.get(st.path, [])] if c is not None else [],
            )
        )
    return ViewData(
        handle=handle,
        proc=procs.proc_name(r.proc),
        text=c.text if c is not None else r.text,
        aligned=r.lines is not None,
        stmts=stmts,
        chain=[s.index for s in chain],
    )


# --------------------------------------------------------------------------- queries


@handles(ViewTextParams)
def q_view_text(tracer, path: str, params: ViewTextParams) -> ViewTextResult:
    r = rendered_c(tracer, params.handle) if params.c else rendered(tracer, params.handle)
    return ViewTextResult(r.text)


@handles(ViewMapParams)
def q_view_map(tracer, path: str, params: ViewMapParams) -> ViewData:
    return view_data(tracer, path, params.handle, params.upto, params.c)


@handles(ViewStatsParams)
def q_view_stats(tracer, path: str, params: ViewStatsParams) -> ViewStats:
    return ViewStats(dict(cache_of(tracer).stats))
