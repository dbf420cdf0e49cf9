"""The worker side of the views (rendering, cache, lineage, step labels) and the pure
helpers of features/views (URIs, statement lookup, diffs), in process."""

from __future__ import annotations

import os
import runpy
import textwrap

import pytest

from exo_lsp.shared.contract import ViewTextParams
from exo_lsp.worker.queries import views as vq
from exo_lsp.lsp.features import views
from exo_lsp.worker.tracer import Tracer
from exo_lsp_protocol import messages as m

SCRIPT = textwrap.dedent(
    """\
    from __future__ import annotations

    from exo import proc
    from exo.stdlib.scheduling import *


    @proc
    def scale(x: f32[8], y: f32[8]):
        for i in seq(0, 8):
            y[i] = 2.0 * x[i]


    p = rename(scale, "scale2")
    p = divide_loop(p, "i", 2, ["io", "ii"], perfect=True)
    p = repeat(unroll_loop)(p, "ii")
    p = simplify(p)
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("views") / "helper.py")
    with open(path, "w") as f:
        f.write(SCRIPT)
    tracer = Tracer()
    state = tracer.run(path, SCRIPT, 1)
    assert state.trace.ok
    expected = runpy.run_path(path)
    return tracer, path, state.trace, expected


def test_trace_shape(run):
    _, _, trace, _ = run
    got = [(s.index, s.op, s.parent, s.ok) for s in trace.steps]
    assert got == [
        (0, "rename", None, True),
        (1, "divide_loop", None, True),
        (2, "repeat(unroll_loop)", None, True),  # named as the script calls it
        (3, "unroll_loop", 2, True),
        (4, "unroll_loop", 2, False),  # repeat stops when the loop is gone
        (5, "simplify", None, True),
    ]


def test_lineage_goes_through_a_helpers_primitives(run):
    _, _, trace, _ = run
    last = trace.steps[5].proc_out
    assert [s.index for s in vq.lineage(trace, last, None)] == [0, 1, 3, 5]
    # the view at the helper's step: its primitives count, later steps do not
    assert [s.index for s in vq.lineage(trace, trace.steps[2].proc_out, 2)] == [0, 1, 3]
    assert vq.lineage(trace, trace.steps[0].proc_in, None) == []


def test_view_data_text_map_and_labels(run):
    tracer, path, trace, expected = run
    final = expected["p"]
    d = vq.view_data(tracer, path, trace.steps[5].proc_out, 5, True)
    assert d.text == final.c_code_str()
    assert d.aligned and d.proc == "scale2" and d.chain == [0, 1, 3, 5]
    got = [(vq_path(s.path), s.kind, s.text, s.lines, s.created, s.changed, s.origin.range.start.line) for s in d.stmts]
    assert got == [
        ("", "proc", "def scale2(x : f32[8] @DRAM, y : f32[8] @DRAM):", [0, 1], None, None, 7),
        ("body[0]", "loop", "for io in seq(0, 4):", [1, 2], None, 1, 8),
        ("body[0].body[0]", "assign", "y[2 * io] = 2.0 * x[2 * io]", [2, 3], 3, 5, 9),
        ("body[0].body[1]", "assign", "y[1 + 2 * io] = 2.0 * x[1 + 2 * io]", [3, 4], 3, 5, 9),
    ]
    c = d.text.split("\n")
    assert [c[a].strip() for s in d.stmts[1:] for a, _ in s.c] == [
        "for (int_fast32_t io = 0; io < 4; io++) {",
        "y[2 * io] = 2.0f * x[2 * io];",
        "y[1 + 2 * io] = 2.0f * x[1 + 2 * io];",
    ]
    proc = vq.view_data(tracer, path, trace.steps[5].proc_out, 5, False)
    assert proc.text == str(final) and all(s.c == [] for s in proc.stmts)


def test_c_lines_name_the_proc_view_line_of_their_statement(run):
    from exo_lsp.worker.queries.simulate import c_line_statements

    tracer, path, trace, expected = run
    got = c_line_statements(tracer, trace.steps[5].proc_out)
    c = expected["p"].c_code_str().split("\n")
    assert {c[k - 1].strip(): v for k, v in got.items()} == {
        "for (int_fast32_t io = 0; io < 4; io++) {": "proc line 2: for io in seq(0, 4):",
        "y[2 * io] = 2.0f * x[2 * io];": "proc line 3: y[2 * io] = 2.0 * x[2 * io]",
        "y[1 + 2 * io] = 2.0f * x[1 + 2 * io];": "proc line 4: y[1 + 2 * io] = 2.0 * x[1 + 2 * io]",
        "}": "proc line 2: for io in seq(0, 4):",
    }


def vq_path(path) -> str:
    return views.path_text(path)


def test_cache_renders_once_per_proc(run):
    tracer, path, trace, _ = run
    tracer._view_cache = vq.ViewCache()
    h = trace.steps[1].proc_out
    first = vq.q_view_text(tracer, path, ViewTextParams(handle=h, c=True))
    stats = dict(vq.cache_of(tracer).stats)
    assert stats == {"proc_renders": 0, "c_renders": 1, "hits": 0}
    assert vq.q_view_text(tracer, path, ViewTextParams(handle=h, c=True)) == first
    vq.q_view_text(tracer, path, ViewTextParams(handle=h))
    vq.q_view_text(tracer, path, ViewTextParams(handle=h))
    assert vq.cache_of(tracer).stats == {"proc_renders": 1, "c_renders": 1, "hits": 2}
    # a handle the registry dropped is not answered from the cache
    with pytest.raises(KeyError):
        vq.q_view_text(tracer, path, ViewTextParams(handle=10_000))


def test_view_uris():
    ref = views.parse_view_uri("exo-proc:/a/b c.py?proc=p&step=3")
    assert ref == views.ViewRef("exo-proc", "/a/b c.py", "p", 3)
    assert views.parse_view_uri("exo-c:/a/b%20c.py?proc%3Dp%26step%3D-1") == views.ViewRef("exo-c", "/a/b c.py", "p", -1)
    assert views.parse_view_uri("exo-proc:/x.py?proc=p").step is None
    assert views.parse_view_uri("exo-proc:/x.py?proc=p&step=last").step is None
    uri = views.view_uri("exo-c", "/a/b c.py", "p", 4)
    assert uri == "exo-c:/a/b%20c.py?proc=p&step=4"
    assert views.parse_view_uri(uri) == views.ViewRef("exo-c", "/a/b c.py", "p", 4)
    assert views.view_uri("exo-proc", "/x.py", "p", None).endswith("?proc=p&step=last")
    with pytest.raises(ValueError):
        views.parse_view_uri("file:///x.py")


def test_select_handle_as_defined_and_after_steps(run):
    _, _, trace, _ = run
    scale = next(d.handle for d in trace.procs if d.name == "scale")
    assert views.select_handle(trace, "scale", -1) == (scale, None)
    assert views.select_handle(trace, None, 2)[0] == trace.steps[2].proc_out
    failed = views.select_handle(trace, None, 4)  # a failed step shows what it got
    assert failed[0] == trace.steps[4].proc_in
    with pytest.raises(ValueError, match="no proc named 'scale2' is defined"):
        views.select_handle(trace, "scale2", -1)


def _span(a, b):
    return m.LineSpan(start=a, end=b)


def test_statement_at_picks_the_innermost():
    def st(path, own, extent, c):
        return m.ViewStatement(path=path, kind="loop", text=path, proc_lines=_span(*own),
                               proc_extent=_span(*extent), c_lines=[_span(*x) for x in c])

    stmts = [st("", (0, 1), (0, 6), [(0, 3), (9, 10)]), st("body[0]", (1, 2), (1, 6), [(3, 9)]),
             st("body[0].body[0]", (2, 4), (2, 4), [(4, 5)]), st("body[0].body[1]", (5, 6), (4, 6), [(5, 8), (8, 9)])]
    vm = m.ViewMapResult(uri="u", version=1, kind="proc", proc="p", step=None, chain=[], aligned=True, statements=stmts)
    assert [views.statement_at(vm, n).path if views.statement_at(vm, n) else None for n in range(7)] == [
        "", "body[0]", "body[0].body[0]", "body[0].body[0]", "body[0].body[1]", "body[0].body[1]", None]
    vm.kind = "c"
    assert [views.statement_at(vm, n).path if views.statement_at(vm, n) else None for n in range(11)] == [
        "", "", "", "body[0]", "body[0].body[0]", "body[0].body[1]", "body[0].body[1]", "body[0].body[1]",
        "body[0].body[1]", "", None]


def test_text_diff_spans():
    diff, removed, added = views.text_diff("a\nb\nc\nd", "a\nB\nc\nd\ne", "old", "new")
    assert diff.split("\n") == ["--- old", "+++ new", "@@ -1,4 +1,5 @@", " a", "-b", "+B", " c", " d", "+e"]
    assert removed == [_span(1, 2)] and added == [_span(1, 2), _span(4, 5)]
    assert views.text_diff("x", "x", "a", "b") == ("", [], [])
