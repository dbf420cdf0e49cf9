"""Pattern strings and cursors over stdio: hover, definition, highlights, references,
inlay hints, code lenses and semantic tokens, on the conv1d case study and on an unsaved
scratch script (cursor variables, navigation, a failed step, UTF-16 columns, edits)."""

from __future__ import annotations

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, NEOVIM_ONLY, ROOT, VSCODE_ONLY, change_script, open_script

pytestmark = pytest.mark.asyncio(loop_scope="module")

CONV1D = EXAMPLES / "conv1d.py"
MARK = "# ◀"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def conv1d(client: LanguageClient) -> str:
    uri, status = await open_script(client, CONV1D)
    assert status["state"] == "ok", status
    return uri


def doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def hover(client, uri, line, character) -> lsp.Hover | None:
    return await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=lsp.Position(line=line, character=character))
    )


def rng(r: lsp.Range) -> tuple[int, int, int, int]:
    return (r.start.line, r.start.character, r.end.line, r.end.character)


def marked(h: lsp.Hover) -> list[str]:
    return [ln.strip() for ln in h.contents.value.splitlines() if MARK in ln]


# Every pattern string of conv1d: (0-based line, start, end, text, kind, marked line)
CONV1D_PATTERNS = [
    (34, 19, 33, "for i in _:_", "loop", "for i in seq(0, 16):  # ◀ selected"),
    (35, 19, 33, "for j in _:_", "loop", "for j in seq(0, 16):  # ◀ selected"),
    (36, 21, 28, "ii jo", "loop", "for ii in seq(0, 4):  # ◀ selected"),
    (37, 19, 34, "for io in _:_", "loop", "for io in seq(0, 4):  # ◀ selected"),
    (38, 21, 29, "ioi jo", "loop", "for ioi in seq(0, 4):  # ◀ selected"),
    (42, 29, 32, "c", "loop", "for c in seq(0, 4):  # ◀ selected"),
    (43, 18, 27, "acc : _", "allocation", "acc : i32 @DRAM  # ◀ selected"),
    (44, 18, 27, "acc : _", "allocation", "acc : i32[4] @DRAM  # ◀ selected"),
    (45, 18, 27, "acc : _", "allocation", "acc : i32[4, 4] @DRAM  # ◀ selected"),
    (46, 18, 27, "acc : _", "allocation", "acc : i32[4, 4, 4] @DRAM  # ◀ selected"),
    (47, 22, 34, "acc[_] = 0", "assignment", "acc[ioi, ii, ji] = 0  # ◀ selected"),
    (48, 27, 30, "c", "loop", "for c in seq(0, 4):  # ◀ selected"),
    (51, 21, 27, "ji c", "loop", "for ji in seq(0, 4):  # ◀ selected"),
    (52, 21, 27, "ii c", "loop", "for ii in seq(0, 4):  # ◀ selected"),
    (53, 21, 28, "ioi c", "loop", "for ioi in seq(0, 4):  # ◀ selected"),
    (56, 18, 25, "y : _", "allocation", "y : i32 @DRAM  # ◀ selected"),
    (57, 18, 25, "y : _", "allocation", "y : i32[4] @DRAM  # ◀ selected"),
    (58, 18, 25, "y : _", "allocation", "y : i32[4, 4] @DRAM  # ◀ selected"),
    (59, 22, 31, "if _: _", "if statement", "if ji + r + 4 * jo < 16:  # ◀ selected"),
    (60, 19, 38, "for ioi in _:_ #1", "loop", "for ioi in seq(0, 4):  # ◀ selected"),
    (61, 19, 37, "for ii in _:_ #1", "loop", "for ii in seq(0, 4):  # ◀ selected"),
    (64, 17, 35, "for ii in _:_ #1", "block of 1 statement", "for ii in seq(0, 4):  # ◀ selected"),
    (66, 18, 35, "kernel_tile : _", "allocation", "kernel_tile : i32[4, 4] @DRAM  # ◀ selected"),
    (67, 18, 35, "kernel_tile : _", "allocation", "kernel_tile : i32[4, 4, 4] @DRAM  # ◀ selected"),
    (68, 17, 36, "for ioi in _:_ #1", "block of 1 statement", "for ioi in seq(0, 4):  # ◀ selected"),
    (72, 18, 25, "y : _", "allocation", "y : i32[4, 4] @DRAM  # ◀ selected"),
    (73, 18, 27, "acc : _", "allocation", "acc : i32[4, 4, 4] @DRAM  # ◀ selected"),
    (74, 18, 35, "kernel_tile : _", "allocation", "kernel_tile : i32[4, 4, 4] @DRAM  # ◀ selected"),
    (75, 18, 33, "data_tile : _", "allocation", "data_tile : i32[4, 4] @DRAM  # ◀ selected"),
    (76, 15, 33, "for ii in _:_ #0", "block of 1 statement", "for ii in seq(0, 4):  # ◀ selected"),
    (77, 15, 33, "for i0 in _:_ #0", "block of 1 statement", "for i0 in seq(0, 4):  # ◀ selected"),
    (78, 15, 33, "for i0 in _:_ #0", "block of 1 statement", "for i0 in seq(0, 4):  # ◀ selected"),
    (79, 15, 33, "for ii in _:_ #0", "block of 1 statement", "for ii in seq(0, 4):  # ◀ selected"),
    (80, 15, 33, "for ii in _:_ #0", "block of 1 statement", "for ii in seq(0, 4):  # ◀ selected"),
    (83, 19, 24, "ioi", "loop", "for ioi in seq(0, 4):  # ◀ selected"),
    (84, 19, 24, "ioi", "loop", "for ioi in seq(0, 4):  # ◀ selected"),
    (85, 19, 24, "ioi", "loop", "for ioi in seq(0, 4):  # ◀ selected"),
    (87, 21, 30, "acc : _", "allocation", "acc : i32[4, 4, 4] @RVM_TILE  # ◀ selected"),
    (88, 21, 38, "kernel_tile : _", "allocation", "kernel_tile : i32[4, 4, 4] @RVM_TILE  # ◀ selected"),
    (89, 20, 39, "kernel_tile_0 : _", "allocation", "kernel_tile_0 : i32[4, 4] @RVM_TILE  # ◀ selected"),
    (89, 41, 60, "kernel_tile_3 : _", "allocation", "kernel_tile_3 : i32[4, 4] @RVM_TILE  # ◀ selected"),
    (93, 18, 25, "y : _", "allocation", "y : i32[4, 4] @DRAM_STATIC  # ◀ selected"),
    (94, 18, 25, "y : _", "allocation", "y : i32[4, 4, 4] @DRAM_STATIC  # ◀ selected"),
]


async def test_the_table_covers_every_pattern_string():
    """Every string passed where Exo takes a cursor or a pattern is in the table."""
    import ast

    tree = ast.parse(CONV1D.read_text())
    cursor_params = {"divide_loop": [1], "reorder_loops": [1], "expand_dim": [1], "lift_alloc": [1],
                     "fission": [1], "remove_loop": [1], "stage_mem": [1], "set_memory": [1],
                     "replace": [1], "unroll_loop": [1], "unroll_buffer": [1], "reuse_buffer": [1, 2],
                     "find": [0], "find_loop": [0]}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            for i in cursor_params.get(name, []):
                a = node.args[i] if i < len(node.args) else None
                if isinstance(a, ast.Constant) and isinstance(a.value, str):
                    found.append((a.lineno - 1, a.col_offset, a.end_col_offset, a.value))
    assert sorted(found) == sorted((ln, a, b, t) for ln, a, b, t, _, _ in CONV1D_PATTERNS)


@pytest.mark.parametrize("line,start,end,text,kind,mark", CONV1D_PATTERNS, ids=[f"{p[0] + 1}:{p[3]}" for p in CONV1D_PATTERNS])
async def test_hover_every_pattern_of_conv1d(client, conv1d, line, start, end, text, kind, mark):
    h = await hover(client, conv1d, line, start + 1)
    assert h is not None
    assert rng(h.range) == (line, start, line, end)
    value = h.contents.value
    assert value.startswith(f"**{kind}**")
    assert f'"{text}"' in value.splitlines()[1]  # the pattern (or the lookup around it) as written
    assert "```python\ndef conv1d_rvm(" in value
    assert marked(h) == [mark]


async def test_multi_match_pattern_reports_which_and_how_many(client, conv1d):
    h = await hover(client, conv1d, 60, 25)  # "for ioi in _:_ #1"
    first = h.contents.value.splitlines()[0]
    assert first == "**loop** `for ioi in seq(0, 4):` · match #1 of 4  "
    h = await hover(client, conv1d, 83, 20)  # unroll_loop(p, "ioi"): the first of three
    assert "· match #0 of 3" in h.contents.value.splitlines()[0]
    h = await hover(client, conv1d, 34, 20)  # a single match says nothing about matches
    assert "match" not in h.contents.value.splitlines()[0]


async def test_hover_cursor_navigation(client, conv1d):
    # p.find_loop("c").expand(1, 0): on `expand`, the block it made
    h = await hover(client, conv1d, 42, 40)
    assert rng(h.range) == (42, 17, 42, 46)
    assert h.contents.value.startswith("**block of 2 statements**")
    assert "before step 7 (`stage_mem`, line 43)" in h.contents.value
    assert marked(h) == [
        "out[ii + 4 * ioi + 16 * ioo, ji + 4 * jo] = 0  # ◀ selected",
        "for c in seq(0, 4):  # ◀ selected",
    ]
    # p.find_loop("c") itself, on `find_loop`
    h = await hover(client, conv1d, 42, 22)
    assert rng(h.range) == (42, 17, 42, 33)
    assert "after step 6 (`simplify`, line 40)" in h.contents.value
    assert marked(h) == ["for c in seq(0, 4):  # ◀ selected"]
    # p.find("acc[_] = 0").after(): a gap, shown as a marker line after the statement
    h = await hover(client, conv1d, 47, 38)
    assert rng(h.range) == (47, 15, 47, 43)
    assert h.contents.value.startswith("**gap after** `acc[ioi, ii, ji] = 0`")
    lines = [ln.strip() for ln in h.contents.value.split("```python\n")[1].split("```")[0].splitlines()]
    i = lines.index("acc[ioi, ii, ji] = 0")
    assert lines[i + 1] == "# ◀ gap"
    assert lines[i + 2] == "for c in seq(0, 4):"


async def test_hover_op_name(client, conv1d):
    h = await hover(client, conv1d, 34, 6)  # divide_loop
    assert rng(h.range) == (34, 4, 34, 15)
    v = h.contents.value
    assert v.startswith("```python\ndivide_loop(proc, loop_cursor, div_const, new_iters, tail='guard', perfect=False)\n```")
    assert "Divide a loop into an outer and inner loop" in v
    assert "- loop `for io in seq(0, 4):` — line 2 of the proc after · from [conv1d.py:19](" in v
    assert "- loop `for ii in seq(0, 4):` — line 3 of the proc after · from [conv1d.py:19](" in v
    assert "```diff\n" in v and "-    for i in seq(0, 16):" in v and "+    for io in seq(0, 4):" in v
    h = await hover(client, conv1d, 76, 6)  # replace(..., rvm_mzero): the call it made
    assert "- call `rvm_mzero(acc[ioi + 0, 0:4, 0:4])`" in h.contents.value
    h = await hover(client, conv1d, 42, 6)  # stage_mem: the buffer and its store
    v = h.contents.value
    assert "- alloc `acc : i32 @DRAM`" in v
    assert "- store `out[4 * ioi + 16 * ioo + ii, 4 * jo + ji] = acc`" in v


async def test_nothing_to_hover_on_plain_values(client, conv1d):
    assert await hover(client, conv1d, 34, 35) is None  # the 4 of divide_loop
    assert await hover(client, conv1d, 20, 10) is None  # inside the algorithm


async def test_plain_strings_say_what_they_are(client, conv1d):
    h = await hover(client, conv1d, 31, 20)  # rename's new name: the parameter and its doc
    assert h.contents.value.startswith("**`name`** of `rename`: `conv1d_rvm`")


async def definition(client, uri, line, character):
    return await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc(uri), position=lsp.Position(line=line, character=character))
    )


@pytest.mark.parametrize(
    "line,character,target",
    [
        (34, 22, (18, 4, 18, 24)),  # "for i in _:_" -> for i in seq(0, 16):
        (35, 22, (19, 8, 19, 28)),  # "for j in _:_"
        (42, 30, (21, 12, 21, 31)),  # find_loop("c") -> for c in seq(0, 4):
        (42, 40, (20, 12, 20, 25)),  # .expand(1, 0) -> the block's first statement
        (47, 25, (20, 12, 20, 25)),  # "acc[_] = 0" -> out[i, j] = 0 (acc was staged there)
        (56, 20, (23, 20, 23, 26)),  # "y : _" -> y: i32
        (59, 25, (24, 20, 24, 34)),  # "if _: _" -> the if's header only
    ],
)
async def test_definition_lands_on_the_algorithm_statement(client, conv1d, line, character, target):
    [loc] = await definition(client, conv1d, line, character)
    assert loc.uri == conv1d
    assert rng(loc.range) == target


async def test_highlights_and_references_follow_the_algorithm_statement(client, conv1d):
    got = await client.text_document_document_highlight_async(
        lsp.DocumentHighlightParams(text_document=doc(conv1d), position=lsp.Position(line=42, character=30))
    )
    assert [(rng(h.range), h.kind) for h in got] == [
        ((21, 12, 21, 31), lsp.DocumentHighlightKind.Text),  # for c in seq(0, 4): in the algorithm
        ((42, 17, 42, 33), lsp.DocumentHighlightKind.Read),  # p.find_loop("c")
        ((48, 15, 48, 39), lsp.DocumentHighlightKind.Read),  # p.find_loop("c").after()
        ((93, 30, 93, 33), lsp.DocumentHighlightKind.Read),  # expand_dim's index "c" names the loop
    ]
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=doc(conv1d),
            position=lsp.Position(line=21, character=14),  # on the algorithm's `for c`
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    assert sorted(rng(r.range) for r in refs) == [(42, 17, 42, 33), (48, 15, 48, 39), (93, 30, 93, 33)]


async def inlay(client, uri) -> dict[int, str]:
    got = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(
            text_document=doc(uri),
            range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=400, character=0)),
        )
    )
    out = {}
    for h in got:
        assert h.position.line not in out
        out[h.position.line] = (h.position.character, h.label)
    return out


CONV1D_HINTS = {
    31: (32, "→ conv1d_rvm"),  # rename: the new name
    34: (65, "→ for i in seq(0, 16)"),
    35: (65, "→ for j in seq(0, 16)"),
    36: (29, "→ for ii in seq(0, 4)"),
    37: (68, "→ for io in seq(0, 4)"),
    38: (30, "→ for ioi in seq(0, 4)"),
    39: (15, "→ 4 statements changed"),  # simplify: how many statements it rewrote
    42: (99, "→ 2 stmts"),
    43: (37, "→ acc : i32[4] @DRAM"),
    44: (37, "→ acc : i32[4, 4] @DRAM"),
    45: (38, "→ acc : i32[4, 4, 4] @DRAM"),
    46: (39, "→ acc : i32[4, 4, 4] @DRAM"),
    47: (55, "→ gap after: acc[ioi, ii, ji] = 0"),
    48: (51, "→ gap after: for c in seq(0, 4)"),
    51: (28, "→ for ji in seq(0, 4)"),
    52: (28, "→ for ii in seq(0, 4)"),
    53: (29, "→ for ioi in seq(0, 4)"),
    56: (34, "→ y : i32[4] @DRAM"),
    57: (35, "→ y : i32[4, 4] @DRAM"),
    58: (37, "→ y : i32[4, 4] @DRAM"),
    59: (52, "→ gap after: if ji + r + 4 * jo < 16"),
    60: (39, "→ for ioi in seq(0, 4) (#1 of 4)"),
    61: (38, "→ for ii in seq(0, 4) (#1 of 4)"),
    64: (113, "→ for ii in seq(0, 4) (#1 of 3)"),
    65: (15, "→ 6 statements changed"),
    66: (46, "→ kernel_tile : i32[4, 4, 4] @DRAM"),
    67: (36, "→ kernel_tile : i32[4, 4, 4] @DRAM"),
    68: (65, "→ for ioi in seq(0, 4) (#1 of 3)"),
    69: (15, "→ 5 statements changed"),
    72: (39, "→ y : i32[4, 4] @DRAM_STATIC"),
    73: (38, "→ acc : i32[4, 4, 4] @RVM_TILE"),
    74: (46, "→ kernel_tile : i32[4, 4, 4] @RVM_TILE"),
    75: (44, "→ data_tile : i32[4, 4] @RVM_TILE"),
    76: (45, "→ for ii in seq(0, 4) (#0 of 3)"),
    77: (43, "→ for i0 in seq(0, 4) (#0 of 2)"),
    78: (43, "→ for i0 in seq(0, 4) (#0 of 1)"),
    79: (45, "→ for ii in seq(0, 4) (#0 of 2)"),
    80: (43, "→ for ii in seq(0, 4) (#0 of 1)"),
    83: (25, "→ for ioi in seq(0, 4) (#0 of 3)"),
    84: (25, "→ for ioi in seq(0, 4) (#0 of 2)"),
    85: (25, "→ for ioi in seq(0, 4)"),
    86: (15, "→ 16 statements changed"),
    87: (34, "→ acc : i32[4, 4, 4] @RVM_TILE"),
    88: (42, "→ kernel_tile : i32[4, 4, 4] @RVM_TILE"),
    89: (61, "→ kernel_tile_0 : i32[4, 4] @RVM_TILE; kernel_tile_3 : i32[4, 4] @RVM_TILE"),
    93: (34, "→ y : i32[4, 4, 4] @DRAM_STATIC"),
    94: (26, "→ y : i32[4, 4, 4] @DRAM_STATIC"),
}


async def test_inlay_hints_for_every_step_of_conv1d(client, conv1d):
    assert await inlay(client, conv1d) == CONV1D_HINTS


async def test_code_lens_on_algorithm_statements(client, conv1d):
    lenses = await client.text_document_code_lens_async(lsp.CodeLensParams(text_document=doc(conv1d)))
    got = [lens for lens in lenses if lens.command.command == "exo.showProc"]
    # the others: "Suggest schedule", one per scheduling line, none on the algorithm
    assert {lens.command.command for lens in lenses} == {"exo.showProc", "exo.suggestSchedule"}
    assert all(lens.range.start.line >= 31 for lens in lenses if lens.command.command == "exo.suggestSchedule")
    by_line = {lens.range.start.line: lens for lens in got}
    assert sorted(by_line) == [18, 19, 20, 21, 23, 24]
    c = by_line[21]
    assert rng(c.range) == (21, 12, 21, 31)
    assert c.command.title == "scheduled by line 49: fission"
    assert c.command.command == "exo.showProc"
    assert list(c.command.arguments) == [{"uri": conv1d, "proc": "conv1d_rvm", "step": 13}]
    assert by_line[19].command.title == "scheduled by 2 steps, lines 36, 52: divide_loop, reorder_loops"
    assert rng(by_line[20].range) == (20, 12, 20, 25)  # a block is shown on its first statement


def decode(data: list[int]) -> list[tuple[int, int, int, int, int]]:
    out, line, col = [], 0, 0
    for i in range(0, len(data), 5):
        dl, dc, n, t, m = data[i : i + 5]
        line += dl
        col = col + dc if dl == 0 else dc
        out.append((line, col, n, t, m))
    return out


async def tokens(client, uri, line: int) -> list[tuple[str, str, int]]:
    got = await client.text_document_semantic_tokens_full_async(lsp.SemanticTokensParams(text_document=doc(uri)))
    types = ["keyword", "variable", "parameter", "function", "number", "operator", "macro", "decorator"]
    return [(types[t], m, c, n) for ln, c, n, t, m in decode(got.data) if ln == line]


async def test_semantic_tokens_in_patterns(client, conv1d):
    src = CONV1D.read_text().splitlines()

    async def on(line):
        return [(src[line][c : c + n], kind, mods) for kind, mods, c, n in await tokens(client, conv1d, line)]

    assert await on(60) == [  # p = remove_loop(p, "for ioi in _:_ #1")
        ("for", "keyword", 0), ("ioi", "parameter", 0), ("in", "keyword", 0), ("_", "macro", 0),
        (":", "operator", 0), ("_", "macro", 0), ("#1", "decorator", 0),
    ]
    assert await on(47) == [  # p.find("acc[_] = 0")
        ("acc", "variable", 0), ("_", "macro", 0), ("=", "operator", 0), ("0", "number", 0),
    ]
    assert await on(83) == [("ioi", "parameter", 0)]  # unroll_loop(p, "ioi")
    assert await on(72) == [("y", "variable", 0), (":", "operator", 0), ("_", "macro", 0)]
    assert (await on(34))[:2] == [("for", "keyword", 0), ("i", "parameter", 0)]


# ----------------------------------------------------------------------------- scratch script

SCRATCH_PATH = ROOT / "tests" / "lsp" / "unsaved_resolve_scratch.py"  # never written to disk
SCRATCH = '''from __future__ import annotations

from exo import proc
from exo.stdlib.scheduling import *


@proc
def scale(x: f32[16], y: f32[16]):
    for i in seq(0, 16):
        y[i] = 2.0 * x[i]
    for j in seq(0, 16):
        y[j] += x[j]


loop = scale.find_loop("j")
p = divide_loop(scale, loop, 4, ["jo", "ji"], perfect=True)
stmt = p.find_loop("ji").body()[0]
p = ("é😀", divide_loop(p, "for i in _:_", 4, ["io", "ii"], perfect=True))[1]
p = divide_loop(p, "for ii in _:_", 3, ["a", "b"], perfect=True)
'''


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scratch(client: LanguageClient) -> str:
    assert not SCRATCH_PATH.exists()
    uri, status = await open_script(client, SCRATCH_PATH, SCRATCH)
    assert status["state"] == "errors", status
    return uri


async def test_cursor_variable_and_navigation(client, scratch):
    h = await hover(client, scratch, 15, 24)  # `loop` as divide_loop's argument
    assert rng(h.range) == (15, 23, 15, 27)
    v = h.contents.value
    assert v.startswith("**loop** `for j in seq(0, 16):`")
    assert "made by `scale.find_loop(\"j\")` at line 15" in v
    assert marked(h) == ["for j in seq(0, 16):  # ◀ selected"]
    [loc] = await definition(client, scratch, 15, 24)
    assert rng(loc.range) == (10, 4, 10, 24)
    h = await hover(client, scratch, 16, 33)  # the [0] of .body()[0]
    assert rng(h.range) == (16, 7, 16, 34)
    assert h.contents.value.startswith("**reduction (+=)** `y[4 * jo + ji] += x[4 * jo + ji]`")
    assert marked(h) == ["y[4 * jo + ji] += x[4 * jo + ji]  # ◀ selected"]
    h = await hover(client, scratch, 16, 28)  # .body()
    assert rng(h.range) == (16, 7, 16, 31)
    assert h.contents.value.startswith("**block of 1 statement**")


@VSCODE_ONLY  # UTF-16 columns: the encoding VS Code uses (Neovim is offered utf-8: test_utf8_columns)
async def test_utf16_columns(client, scratch):
    # `p = ("é😀", ` is 11 characters but 12 UTF-16 code units
    h = await hover(client, scratch, 17, 30)
    assert rng(h.range) == (17, 27, 17, 41)
    assert marked(h) == ["for i in seq(0, 16):  # ◀ selected"]
    h = await hover(client, scratch, 17, 14)  # divide_loop, after the emoji
    assert rng(h.range) == (17, 12, 17, 23)
    assert (await inlay(client, scratch))[17] == (73, "→ for i in seq(0, 16)")
    assert [(k, c, n) for k, _, c, n in await tokens(client, scratch, 17)][:2] == [("keyword", 28, 3), ("parameter", 32, 1)]


@NEOVIM_ONLY
async def test_utf8_columns(client, scratch):
    # test_utf16_columns in the encoding the server chose for Neovim: `p = ("é😀", ` is
    # 12 UTF-16 code units but 15 UTF-8 bytes
    h = await hover(client, scratch, 17, 33)
    assert h is not None and rng(h.range) == (17, 30, 17, 44)
    assert marked(h) == ["for i in seq(0, 16):  # ◀ selected"]
    h = await hover(client, scratch, 17, 17)  # divide_loop, after the emoji
    assert h is not None and rng(h.range) == (17, 15, 17, 26)
    assert (await inlay(client, scratch))[17] == (76, "→ for i in seq(0, 16)")
    assert [(k, c, n) for k, _, c, n in await tokens(client, scratch, 17)][:2] == [("keyword", 31, 3), ("parameter", 35, 1)]


async def test_failed_step_shows_its_marker(client, scratch):
    hints = await inlay(client, scratch)
    assert hints[18] == (64, "✗ divide_loop: cannot perfectly divide '4' by 3")
    h = await hover(client, scratch, 18, 22)
    v = h.contents.value
    assert "**✗ divide_loop failed:** divide_loop: cannot perfectly divide '4' by 3" in v
    assert marked(h) == ["for ii in seq(0, 4):  # ◀ selected"]


@VSCODE_ONLY  # UTF-16 columns on the line with the emoji
async def test_works_on_unsaved_edits(client, scratch):
    edited = "# a new first line\n" + SCRATCH.replace('"for i in _:_", 4', '"for i in _:_", 8')
    status = await change_script(client, scratch, edited, 2)
    assert status["state"] == "errors"
    h = await hover(client, scratch, 18, 30)  # everything moved down a line
    assert rng(h.range) == (18, 27, 18, 41)
    assert marked(h) == ["for i in seq(0, 16):  # ◀ selected"]
    h = await hover(client, scratch, 18, 14)
    assert "- loop `for io in seq(0, 2):`" in h.contents.value
    hints = await inlay(client, scratch)
    assert hints[19] == (64, "✗ divide_loop: cannot perfectly divide '8' by 3")
    [loc] = await definition(client, scratch, 16, 24)
    assert rng(loc.range) == (11, 4, 11, 24)
