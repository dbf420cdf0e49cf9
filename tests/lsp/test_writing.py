"""Writing schedules over stdio: completion (pattern strings on the line being typed, at
every step of conv1d and matmul; stage_mem windows that run; navigation; divisors, names,
memories, instrs), signature help, "Bind what <op> created" (its lines run and select the
created nodes) and a preview on every step.

The loops expected at each step come from an oracle that does not share code with the
server: the script's statements are executed here, one by one, and the proc after each
step is walked with Exo's public cursors (``#N`` numbered in pre-order, as Exo matches)."""

from __future__ import annotations

import ast
import pathlib

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, change_script, document_edits, open_script

pytestmark = pytest.mark.asyncio(loop_scope="module")

CONV1D = EXAMPLES / "conv1d.py"
MATMUL = EXAMPLES / "matmul.py"
TYPED = 'p = divide_loop(p, "for '


# ----------------------------------------------------------------------------- oracle


def _loop_labels(proc) -> list[str]:
    """``for <name> in _:_`` per loop of `proc` (pre-order), ``#N`` when a name repeats."""
    import exo.API_cursors as pc

    names: list[str] = []

    def walk(block):
        for c in block:
            if isinstance(c, pc.ForCursor):
                names.append(c.name())
                walk(c.body())
            elif isinstance(c, pc.IfCursor):
                walk(c.body())
                if not isinstance(c.orelse(), pc.InvalidCursor):
                    walk(c.orelse())

    walk(proc.body())
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen[n] = seen.get(n, -1) + 1
        out.append(f"for {n} in _:_" + (f" #{k}" if names.count(n) > 1 else ""))
    return out


_ORACLES: dict[pathlib.Path, list[tuple[int, list[str]]]] = {}


def loops_after_each_step(path: pathlib.Path) -> list[tuple[int, list[str]]]:
    """(last 0-based line of each top-level `p = ...` statement, the loops of p after it)."""
    if path in _ORACLES:
        return _ORACLES[path]
    import sys

    src = path.read_text()
    tree = ast.parse(src)
    ns: dict = {"__name__": "oracle", "__file__": str(path)}
    import linecache

    linecache.cache[str(path)] = (len(src), None, src.splitlines(keepends=True), str(path))
    sys.path.insert(0, str(path.parent))
    out = []
    try:
        for node in tree.body:
            code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec")
            exec(code, ns)
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["p"]:
                out.append((node.end_lineno - 1, _loop_labels(ns["p"])))
    finally:
        sys.path.remove(str(path.parent))
    _ORACLES[path] = out
    return out


# ----------------------------------------------------------------------------- helpers


def doc(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri=uri)


async def complete(client, uri, line, character) -> list[lsp.CompletionItem]:
    got = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=doc(uri), position=lsp.Position(line=line, character=character))
    )
    if got is None:
        return []
    return list(got.items if isinstance(got, lsp.CompletionList) else got)


def ranked(items: list[lsp.CompletionItem]) -> list[lsp.CompletionItem]:
    return sorted(items, key=lambda i: i.sort_text or i.label)


def apply_item(line_text: str, item: lsp.CompletionItem) -> str:
    """The line the item's edit is on, with the edit applied."""
    r = item.text_edit.range
    assert r.start.line == r.end.line
    return line_text[: r.start.character] + item.text_edit.new_text + line_text[r.end.character :]


class Doc:
    """One open document whose text the tests replace, version by version."""

    def __init__(self, client, uri, text):
        self.client, self.uri, self.text, self.version = client, uri, text, 1

    async def set(self, text: str) -> dict:
        self.version += 1
        self.text = text
        return await change_script(self.client, self.uri, text, self.version)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def conv1d(client: LanguageClient) -> Doc:
    uri, status = await open_script(client, CONV1D)
    assert status["state"] == "ok", status
    return Doc(client, uri, CONV1D.read_text())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matmul(client: LanguageClient) -> Doc:
    uri, status = await open_script(client, MATMUL)
    assert status["state"] == "ok", status
    return Doc(client, uri, MATMUL.read_text())


# ----------------------------------------------------------------------------- completion


@pytest.mark.parametrize("which", ["conv1d", "matmul"])
async def test_for_completion_lists_exactly_the_loops_at_every_step(client, conv1d, matmul, which):
    d, path = (conv1d, CONV1D) if which == "conv1d" else (matmul, MATMUL)
    full = path.read_text()
    lines = full.splitlines()
    oracle = loops_after_each_step(path)
    assert len(oracle) > 5
    await d.set(full)  # the last good run is the whole script
    for end, loops in oracle:
        # the script typed up to that step, and the next line half written (it does not parse)
        status = await d.set("\n".join(lines[: end + 1] + [TYPED]))
        assert status["state"] == "errors"
        items = await complete(client, d.uri, end + 1, len(TYPED))
        assert sorted(i.label for i in items) == sorted(loops), f"after line {end + 1}"
        assert all(i.kind == lsp.CompletionItemKind.Keyword for i in items)
        # each item is documented with the code it selects, marked as in hovers
        assert all("# ◀ selected" in i.documentation.value for i in items)
    await d.set(full)


async def test_completion_in_a_step_that_failed_uses_its_proc(client, conv1d):
    full = CONV1D.read_text()
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if '"for j in _:_"' in ln)
    before = [loops for end, loops in loops_after_each_step(CONV1D) if end < at][-1]
    edited = lines[at].replace('"for j in _:_"', '"for "')
    status = await conv1d.set("\n".join(lines[:at] + [edited] + lines[at + 1 :]))
    assert status["state"] == "errors"  # the pattern matches nothing: the step failed
    col = edited.index('"for "') + len('"for ')
    items = await complete(client, conv1d.uri, at, col)
    assert sorted(i.label for i in items) == sorted(before)
    await conv1d.set(full)


async def test_stage_mem_window_completions_produce_lines_that_run(client, conv1d):
    full = CONV1D.read_text()
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("p = stage_mem(") and '"acc"' in ln)
    typed = 'p = stage_mem(p, p.find_loop("c").expand(1, 0), "'
    await conv1d.set("\n".join(lines[:at] + [typed]))
    items = ranked(await complete(client, conv1d.uri, at, len(typed)))
    assert items and all(i.kind == lsp.CompletionItemKind.Value for i in items)
    assert items[0].label.startswith("out[")  # the buffer the block writes comes first
    for k, item in enumerate(items):
        line = apply_item(typed, item) + f'", "win{k}")'
        status = await conv1d.set("\n".join(lines[:at] + [line]))
        assert status["state"] == "ok", (item.label, status)
    # the first window in the whole case study: the rest of the schedule still runs
    line = apply_item(typed, items[0]) + '", "acc")'
    status = await conv1d.set("\n".join(lines[:at] + [line] + lines[at + 1 :]))
    assert status["state"] == "ok", status
    await conv1d.set(full)


async def test_cursor_navigation_says_what_each_method_selects(client, conv1d):
    full = CONV1D.read_text()
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("p = simplify(")) + 1
    typed = 'c = p.find_loop("c").'
    await conv1d.set("\n".join(lines[:at] + [typed]))
    items = {i.label: i for i in await complete(client, conv1d.uri, at, len(typed))}
    assert {"body", "parent", "prev", "before", "after", "expand"} <= set(items)
    assert items["parent"].detail == "→ loop `for ji in seq(0, 4):`"
    assert items["body"].detail == "→ block of 1 statement `for r in seq(0, 4):`"
    assert "# ◀ selected" in items["parent"].documentation.value
    await conv1d.set(full)


async def test_completion_by_parameter(client, conv1d):
    full = CONV1D.read_text()
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("p = simplify(")) + 1

    async def labels(typed: str) -> list[str]:
        await conv1d.set("\n".join(lines[:at] + [typed]))
        return [i.label for i in ranked(await complete(client, conv1d.uri, at, len(typed)))]

    assert await labels('p = divide_loop(p, "for jo in _:_", ') == ["2"]
    assert await labels('p = divide_loop(p, "for jo in _:_", 2, ') == ['["joo", "joi"]', '["jo_out", "jo_in"]', '["jo_hi", "jo_lo"]']
    assert await labels('p = reorder_loops(p, "') == ["ioo jo", "jo ioi", "ioi ii", "ii ji", "c r"]
    assert await labels('p = set_memory(p, "y : _", ') == ["DRAM_INTERLEAVED", "DRAM_STATIC", "RVM_TILE"]
    assert (await labels('p = stage_mem(p, "for c in _:_", "kernels[_]", "'))[:2] == ["kernels_tile", "kernels_local"]
    gaps = await labels("p = fission(p, ")
    assert 'p.find_loop("c").after()' not in gaps and 'p.find("out[_] = _").after()' in gaps
    await conv1d.set(full)


async def test_replace_offers_the_instrs_whose_body_matches(client, conv1d):
    full = CONV1D.read_text()
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("p = replace("))
    typed = 'p = replace(p, "for ii in _:_ #0", '
    await conv1d.set("\n".join(lines[:at] + [typed]))
    got = [i.label for i in await complete(client, conv1d.uri, at, len(typed))]
    assert got == ["rvm_mzero"]  # the instruction the case study uses there, and no other
    await conv1d.set(full)


# ----------------------------------------------------------------------------- signature help


async def test_signature_help_names_the_parameter_and_what_it_selects(client, conv1d):
    await conv1d.set(CONV1D.read_text())
    lines = conv1d.text.splitlines()
    at = next(i for i, ln in enumerate(lines) if '"for j in _:_"' in ln)
    got = await client.text_document_signature_help_async(
        lsp.SignatureHelpParams(text_document=doc(conv1d.uri), position=lsp.Position(line=at, character=lines[at].index("for j") + 2))
    )
    [sig] = got.signatures
    assert sig.label.startswith("divide_loop(proc, loop_cursor, div_const, new_iters")
    assert got.active_parameter == 1
    assert sig.parameters[1].label == "loop_cursor" and "a loop" in sig.parameters[1].documentation
    assert "for j in seq(0, 16):  # ◀ selected" in sig.documentation.value
    # a cursor method on the line being typed
    await conv1d.set("\n".join(lines + ['c = p.find_loop(']))
    got = await client.text_document_signature_help_async(
        lsp.SignatureHelpParams(text_document=doc(conv1d.uri), position=lsp.Position(line=len(lines), character=16))
    )
    assert got.signatures[0].label.startswith("find_loop(")
    await conv1d.set(CONV1D.read_text())


# ----------------------------------------------------------------------------- bind what it created


async def bind_action(client, d: Doc, line: int) -> lsp.CodeAction | None:
    got = await client.text_document_code_action_async(
        lsp.CodeActionParams(text_document=doc(d.uri), range=lsp.Range(start=lsp.Position(line, 4), end=lsp.Position(line, 4)),
                             context=lsp.CodeActionContext(diagnostics=[], only=["refactor.rewrite.exo.bind"]))
    )
    found = [a for a in got or [] if a.title.startswith("Bind what")]
    return found[0] if found else None


@pytest.mark.parametrize("needle", ['"acc")', '["io", "ii"]', 'p.find("acc[_] = 0").after()', "rvm_mzero)", '"acc : _", 0)'])
async def test_bind_lines_run_and_select_the_created_nodes(client, conv1d, needle):
    full = CONV1D.read_text()
    await conv1d.set(full)
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if needle in ln)
    action = await bind_action(client, conv1d, at)
    assert action is not None
    [change] = document_edits(action)
    [edit] = change.edits
    new_lines = edit.new_text.splitlines()
    assert new_lines == action.data["lines"] and new_lines
    status = await conv1d.set("\n".join(lines[: at + 1] + new_lines + lines[at + 1 :]))
    assert status["state"] == "ok", status
    for k, node in enumerate(action.data["nodes"]):
        h = await client.text_document_hover_async(
            lsp.HoverParams(text_document=doc(conv1d.uri), position=lsp.Position(line=at + 1 + k, character=1))
        )
        assert h is not None, node
        marked = [ln for ln in h.contents.value.splitlines() if "# ◀" in ln]
        assert any(node["text"] in ln for ln in marked), (node, marked)
    await conv1d.set(full)


async def test_stage_mem_binds_alloc_then_navigates(client, conv1d):
    full = CONV1D.read_text()
    await conv1d.set(full)
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if '"acc")' in ln)
    action = await bind_action(client, conv1d, at)
    assert action.title == "Bind what stage_mem created (3 cursors)"
    assert action.data["lines"] == ['acc_alloc = p.find("acc : _")', "acc_init = acc_alloc.next()", "acc_store = acc_init.next(2)"]


# ----------------------------------------------------------------------------- previews


async def test_every_step_of_conv1d_has_a_preview(client, conv1d):
    full = CONV1D.read_text()
    await conv1d.set(full)
    tree = ast.parse(full)
    step_lines = {n.end_lineno - 1: n for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)}
    got = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=doc(conv1d.uri),
                            range=lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=400, character=0)))
    )
    hints = {h.position.line: h for h in got}
    assert set(step_lines) <= set(hints)
    for line, node in step_lines.items():
        op = node.value.func.id
        label = hints[line].label
        if op == "rename":
            assert label == "→ conv1d_rvm"
        elif op == "simplify":
            assert label == "→ no change" or label.endswith("changed"), label
        else:
            assert label.startswith("→ ") and hints[line].tooltip, (line, label)
    divide = next(line for line, n in step_lines.items() if n.value.func.id == "divide_loop")
    assert "created:\n  loop: for io in seq(0, 4):" in hints[divide].tooltip


async def test_signature_help_on_a_line_being_typed_says_what_the_pattern_selects(client, conv1d):
    full = CONV1D.read_text()
    lines = full.splitlines()
    typed = 'p = unroll_loop(p, "for c in _:_'
    await conv1d.set("\n".join(lines + [typed]))
    got = await client.text_document_signature_help_async(
        lsp.SignatureHelpParams(text_document=doc(conv1d.uri), position=lsp.Position(line=len(lines), character=len(typed)))
    )
    [sig] = got.signatures
    assert sig.label.startswith("unroll_loop(") and got.active_parameter == 1
    assert "**loop** · match #0 of" in sig.documentation.value
    assert "for c in seq(0, 4):  # ◀ selected" in sig.documentation.value
    await conv1d.set(full)


async def test_loops_the_op_can_use_rank_first(client, conv1d):
    full = CONV1D.read_text()
    lines = full.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("p = remove_loop("))
    typed = 'p = remove_loop(p, "for '
    await conv1d.set("\n".join(lines[:at] + [typed]))
    items = ranked(await complete(client, conv1d.uri, at, len(typed)))
    # the case study removes `for ioi in _:_ #1` here: its body does not use ioi
    first = [i.label for i in items if i.sort_text.startswith("00")]
    assert "for ioi in _:_ #1" in first
    assert "for ioi in _:_ #0" not in first
    await conv1d.set(full)


async def test_bind_expr_binds_the_allocation_and_its_assignment(client, matmul):
    full = MATMUL.read_text()
    lines = full.splitlines()
    end = lines.index("matmul_tiled = p")
    step = 'p = bind_expr(p, "A[ii + 4 * io, k] * B[k, 4 * jo]", "prod")'
    text = "\n".join(lines[:end] + [step] + lines[end:])
    assert (await matmul.set(text))["state"] == "ok"
    action = await bind_action(client, matmul, end)
    assert action.data["lines"] == ['prod_alloc = p.find("prod : _")', "prod_assign = prod_alloc.next()"]
    new_lines = document_edits(action)[0].edits[0].new_text.splitlines()
    assert (await matmul.set("\n".join(lines[:end] + [step] + new_lines + lines[end:])))["state"] == "ok"
    h = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(matmul.uri), position=lsp.Position(line=end + 2, character=3))
    )
    assert "prod = A[ii + 4 * io, k] * B[k, 4 * jo]  # ◀ selected" in h.contents.value
    await matmul.set(full)
