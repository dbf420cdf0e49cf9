"""Every argument an op resolves hovers, helpers keep the selection, warnings only when
true: over stdio, on an unsaved script in the style of Exo's own schedules (x86 matmul's
bind_expr / stage_mem / expand_dim, sgemm's helpers, call_eqv and dce)."""

from __future__ import annotations

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import ROOT, open_script, rng

pytestmark = pytest.mark.asyncio(loop_scope="module")

PATH = ROOT / "tests" / "lsp" / "unsaved_precise.py"  # never written to disk
SCRIPT = '''from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *
from exo.stdlib.stdlib import *


@proc
def rank_k(K: size, A: f32[6, K], B: f32[K, 16], C: f32[6, 16]):
    for i in seq(0, 6):
        for j in seq(0, 16):
            for k in seq(0, K):
                C[i, j] += A[i, k] * B[k, j]


@proc
def axpy(n: size, x: f32[n], y: f32[n]):
    for i in seq(0, n):
        y[i] += x[i]


@proc
def kernel(x: f32[16], y: f32[16]):
    for i in seq(0, 16):
        y[i] += x[i]


@proc
def uses_kernel(x: f32[16], y: f32[16]):
    kernel(x, y)


p = reorder_loops(rank_k, "j k")
p = stage_mem(p, "for j in _:_", "C[i, 0:16]", "C_reg")
p = bind_expr(p, "A[i, k]", "A_reg")
p = expand_dim(p, "A_reg", 16, "j")
p = bind_expr(p, ["B[k, j]"], "B_reg")


def tile_all(p, loop):
    return round_loop(p, loop, 4)


def tile_named(p, name):
    return round_loop(p, p.find_loop(name), 4)


def reorder_with(p, pattern):
    return repeat(reorder_loops)(p, pattern)


def schedule_tile(p):
    p = simplify(p)
    p = divide_loop(p, p.find_loop("i"), 4, ["io", "ii"], perfect=True)
    return p


a = axpy.partial_eval(16)
for _ in range(3):
    t = schedule_tile(a)
r = tile_all(a, a.find_loop("i"))
r = tile_named(a, "i")
r = round_loop(a, a.find_loop("i"), 4)
d = dce(a)


def tidy(p):
    return simplify(p)


w = tidy(a)
w = tidy(divide_loop(a, "i", 4, ["io", "ii"], tail="cut"))

kernel_fast = divide_loop(rename(kernel, "kernel_fast"), "i", 4, ["io", "ii"], perfect=True)
kernel_same_name = divide_loop(kernel, "i", 4, ["io", "ii"], perfect=True)
u = call_eqv(uses_kernel, "kernel(_)", kernel_fast)
v = call_eqv(uses_kernel, "kernel(_)", kernel_same_name)
z = call_eqv(uses_kernel, kernel, kernel_fast)
m = repeat(reorder_loops)(rank_k, "i j")
m = reorder_with(rank_k, "i j")


def split(p, pattern):
    return divide_loop(p, pattern, 2, ["io", "ii"], perfect=True)


def split_twice(p, pattern):
    return split(split(p, pattern), "for ii in _:_")


s = split_twice(kernel, "for i in _:_")


def find_update(p, buffer):
    return p.find(f"{buffer}[_] += _")


found = find_update(kernel, "y")
r = divide_loop(a, "i", 3, ["io", "ii"], tail="cut_and_guard")
'''
LINES = SCRIPT.splitlines()
MARK = "# ◀"


def at(needle: str, nth_line: int = 0) -> tuple[int, int, int]:
    """(line, start, end) of `needle` on the `nth_line`-th line that holds it."""
    found = [i for i, ln in enumerate(LINES) if needle in ln]
    line = found[nth_line]
    start = LINES[line].index(needle)
    return line, start, start + len(needle)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def script(client: LanguageClient) -> str:
    assert not PATH.exists()
    uri, status = await open_script(client, PATH, SCRIPT)
    assert status["state"] == "ok", status
    return uri


def doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def hover(client, uri, needle: str, nth_line: int = 0) -> lsp.Hover | None:
    line, start, end = at(needle, nth_line)
    return await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=lsp.Position(line=line, character=(start + end) // 2))
    )


def marked(h: lsp.Hover) -> list[str]:
    return [ln.strip() for ln in h.contents.value.split("```python\n")[1].split("```")[0].splitlines() if MARK in ln]


def span(r: lsp.Range) -> tuple[int, int, int, int]:
    return (r.start.line, r.start.character, r.end.line, r.end.character)


# ----------------------------------------------------------------------------- expressions


async def test_bind_expr_pattern_hovers_the_expression(client, script):
    h = await hover(client, script, '"A[i, k]"')
    assert h is not None
    assert span(h.range) == (*at('"A[i, k]"')[:2], at('"A[i, k]"')[0], at('"A[i, k]"')[2])
    assert h.contents.value.startswith("**expression** `A[i, k]`")
    assert marked(h) == ["C_reg[j - 0] += A[i, k] * B[k, j]  # ◀ selected: A[i, k]"]


async def test_bind_expr_list_of_patterns_hovers(client, script):
    h = await hover(client, script, '["B[k, j]"]')
    assert h is not None
    assert h.contents.value.startswith("**expression** `B[k, j]`")
    assert marked(h) == ["C_reg[j - 0] += A_reg[j] * B[k, j]  # ◀ selected: B[k, j]"]


async def test_stage_mem_window_shows_the_accesses_it_covers(client, script):
    h = await hover(client, script, '"C[i, 0:16]"')
    assert h is not None
    assert h.contents.value.startswith("**window** `C[i, 0:16]` · covers 1 access to `C` in the block")
    assert marked(h) == ["C[i, j] += A[i, k] * B[k, j]  # ◀ selected"]
    line, start, _ = at('"C[i, 0:16]"')
    [loc] = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc(script), position=lsp.Position(line=line, character=start + 2))
    )
    assert span(loc.range)[:2] == at("C[i, j] += A[i, k] * B[k, j]")[:2]  # the access in the algorithm


async def test_expand_dim_size_and_index_hover(client, script):
    h = await hover(client, script, '"j"', 0)
    assert h is not None
    v = h.contents.value
    assert v.startswith("**expression** `j` · parsed at `A_reg : f32 @DRAM`")
    assert "`j` is the loop `for j in seq(0, 16):`" in v
    assert marked(h) == ["for j in seq(0, 16):  # ◀ selected", "A_reg : f32 @DRAM  # ◀ selected"]
    line, start, _ = at('"A_reg", 16')
    h = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(script), position=lsp.Position(line=line, character=start + len('"A_reg", ') + 1))
    )
    assert h is not None and h.contents.value.startswith("**expression** `16`")


async def test_inlay_hints_still_show_what_the_op_was_applied_to(client, script):
    got = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(
            text_document=doc(script),
            range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=len(LINES), character=0)),
        )
    )
    labels = {h.position.line: h.label for h in got}
    assert labels[at("stage_mem")[0]] == "→ for j in seq(0, 16)"  # not the window's accesses
    assert labels[at('"A[i, k]"')[0]] == "→ A[i, k]"
    assert labels[at("expand_dim")[0]] == "→ A_reg : f32[16] @DRAM"


# ----------------------------------------------------------------------------- helpers and procs


async def test_cursor_handed_to_a_stdlib_helper_keeps_its_selection(client, script):
    h = await hover(client, script, 'a.find_loop("i")', 1)  # round_loop(a, a.find_loop("i"), 4)
    assert h is not None
    assert h.contents.value.startswith("**loop** `for i in seq(0, 16):`")
    assert marked(h) == ["for i in seq(0, 16):  # ◀ selected"]


async def test_cursor_through_the_users_helper_keeps_its_selection(client, script):
    line, start, _ = at("round_loop(p, loop, 4)")
    col = start + len("round_loop(p, ") + 1
    h = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(script), position=lsp.Position(line=line, character=col))
    )
    assert h is not None
    assert marked(h) == ["for i in seq(0, 16):  # ◀ selected"]
    assert 'made by `a.find_loop("i")`' in h.contents.value


async def test_stdlib_helper_argument_passed_in_through_the_users_helper(client, script):
    line, start, _ = at('tile_all(a, a.find_loop("i"))')
    h = await client.text_document_hover_async(  # on `a.find_loop("i")`, handed to round_loop inside
        lsp.HoverParams(text_document=doc(script), position=lsp.Position(line=line, character=start + len("tile_all(a, a.fi")))
    )
    assert h is not None and marked(h) == ["for i in seq(0, 16):  # ◀ selected"]
    line, start, _ = at('tile_named(a, "i")')
    h = await client.text_document_hover_async(  # "i" -> p.find_loop(name) inside the helper
        lsp.HoverParams(text_document=doc(script), position=lsp.Position(line=line, character=start + len('tile_named(a, "')))
    )
    assert h is not None and marked(h) == ["for i in seq(0, 16):  # ◀ selected"]
    line, start, _ = at('reorder_with(rank_k, "i j")')
    h = await client.text_document_hover_async(  # "i j" -> repeat(reorder_loops)(p, pattern) inside
        lsp.HoverParams(text_document=doc(script), position=lsp.Position(line=line, character=start + len('reorder_with(rank_k, "i')))
    )
    assert h is not None and marked(h) == ["for i in seq(0, 6):  # ◀ selected"]


async def test_proc_arguments_hover_with_what_they_replace(client, script):
    h = await hover(client, script, "kernel_fast)")
    assert h is not None
    v = h.contents.value
    assert v.startswith("**proc** `kernel_fast` · replaces the call selected in `uses_kernel`")
    assert marked(h) == ["kernel(x, y)  # ◀ selected"]
    assert "def kernel_fast(x : f32[16] @DRAM, y : f32[16] @DRAM):" in v


async def test_pattern_passed_through_the_users_helpers(client, script):
    # split_twice(kernel, "for i in _:_") -> split(p, pattern) -> divide_loop(p, pattern, ...)
    h = await hover(client, script, '"for i in _:_"')
    assert h is not None
    assert marked(h) == ["for i in seq(0, 16):  # ◀ selected"]
    h = await hover(client, script, '"for ii in _:_"')
    assert h is not None
    assert marked(h) == ["for ii in seq(0, 2):  # ◀ selected"]


async def test_name_formatted_into_a_pattern_in_the_users_helper(client, script):
    h = await hover(client, script, '"y"')  # find_update(kernel, "y") -> p.find(f"{buffer}[_] += _")
    assert h is not None
    assert marked(h) == ["y[i] += x[i]  # ◀ selected"]


async def test_pattern_in_the_args_of_a_wrapped_op(client, script):
    h = await hover(client, script, '"i j"')  # repeat(reorder_loops)(p, "i j"): in the wrapper's *args
    assert h is not None
    assert marked(h) == ["for i in seq(0, 6):  # ◀ selected"]


async def test_plain_strings_say_what_they_are(client, script):
    h = await hover(client, script, '"cut_and_guard"')
    assert h is not None
    v = h.contents.value
    assert v.startswith("**`tail`** of `divide_loop`: `cut_and_guard`")
    assert 'value can be "cut", "guard", or "cut_and_guard"' in v


async def test_a_proc_naming_the_call_to_swap_hovers_the_call(client, script):
    line, start, _ = at("call_eqv(uses_kernel, kernel, kernel_fast)")
    col = start + len("call_eqv(uses_kernel, ") + 2
    h = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(script), position=lsp.Position(line=line, character=col))
    )
    assert h is not None
    assert h.contents.value.startswith("**call** `kernel(x, y)`")
    assert marked(h) == ["kernel(x, y)  # ◀ selected"]


# ----------------------------------------------------------------------------- warnings


def warnings(client, uri) -> dict[int, str]:
    got = {}
    for d in client.diagnostics[uri]:
        if d.severity == lsp.DiagnosticSeverity.Warning:
            assert d.range.start.line not in got, "one diagnostic per source position"
            got[d.range.start.line] = d.message
    return got


async def test_a_no_op_in_a_helper_is_said_once_where_the_user_wrote_it(client, script):
    assert warnings(client, script)[at("p = simplify(p)")[0]] == (
        "`simplify` changed nothing: the proc is the same before and after this step "
        f"(in 3 of 3 calls of `schedule_tile` from line {at('t = schedule_tile(a)')[0] + 1})"
    )


async def test_a_no_op_is_named_as_the_user_called_it(client, script):
    # the stdlib's `dce` is a closure named `rewrite`
    assert warnings(client, script)[at("d = dce(a)")[0]] == (
        "`dce` changed nothing: the proc is the same before and after this step"
    )


async def test_no_warning_when_some_call_of_the_helper_changed_the_proc(client, script):
    assert at("return simplify(p)")[0] not in warnings(client, script)  # tidy's second call simplified


async def test_call_eqv_with_a_same_named_callee_changed_the_program(client, script):
    # the printed proc is the same (it calls `kernel`), the proc it calls is not
    assert at("v = call_eqv")[0] not in warnings(client, script)


async def test_only_the_true_warnings(client, script):
    assert sorted(warnings(client, script)) == [at("p = simplify(p)")[0], at("d = dce(a)")[0]]
