"""Diagnostics over stdio: valid examples are clean, broken ones say exactly what broke."""

from __future__ import annotations

import pytest
from pytest_lsp import LanguageClient

from .helpers import EXAMPLES, VSCODE_ONLY, close_script, open_script, rng

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize("name", ["conv1d.py", "matmul.py", "conv1d_variants.py"])
async def test_valid_examples_have_no_diagnostics(client: LanguageClient, name: str):
    uri, status = await open_script(client, EXAMPLES / name)
    assert status["state"] == "ok", status
    assert list(client.diagnostics[uri]) == []
    close_script(client, uri)


# (file, 0-based range, severity, message substring)
EXPECTED = {
    "pattern_no_match.py": [
        ((14, 19, 14, 33), 1, "pattern 'for q in _:_' matched nothing in `scale`: no loop `q`; loops in `scale` at this step: io, ii"),
    ],
    "op_fails.py": [
        ((12, 39, 12, 40), 1, "divide_loop failed: cannot perfectly divide '16' by 5"),  # on the factor it names
    ],
    "python_error.py": [
        ((13, 42, 13, 49), 1, "NameError: name 'factors' is not defined"),
    ],
    "proc_body_error.py": [
        ((9, 23, 9, 24), 1, "ParseError in @proc: variable 'z' undefined"),
    ],
    "replace_fails.py": [
        ((15, 4, 15, 47), 1, "replace failed: cannot unify a For statement (isa.py:72:8) with a Assign statement (replace_fails.py:13:12)"),
    ],
    "noop_steps.py": [
        ((15, 4, 15, 23), 2, "`simplify` changed nothing"),
        ((16, 4, 16, 29), 2, "`replace_all` replaced nothing: the proc is the same before and after this step; the body matches at `for i in seq(0, 4):` but the memories differ"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_broken_examples(client: LanguageClient, name: str):
    uri, status = await open_script(client, EXAMPLES / "broken" / name)
    got = sorted(client.diagnostics[uri], key=rng)
    want = EXPECTED[name]
    assert len(got) == len(want), [d.message for d in got]
    for d, (r, severity, message) in zip(got, want):
        assert rng(d) == r, d.message
        assert d.severity == severity
        assert message in d.message
        assert d.source == "exo"
    close_script(client, uri)


@VSCODE_ONLY  # elsewhere the view is a file: test_other_editors.py
async def test_pattern_miss_points_at_the_proc_view(client: LanguageClient):
    uri, _ = await open_script(client, EXAMPLES / "broken" / "pattern_no_match.py")
    [d] = client.diagnostics[uri]
    [rel] = d.related_information
    assert rel.location.uri.startswith("exo-proc:")
    assert rel.location.uri.endswith("?proc=scale&step=1")
    view = await client.protocol.send_request_async("exo/viewText", {"uri": rel.location.uri})
    assert "for io in seq(0, n / 4):" in view.text
    close_script(client, uri)


async def test_op_failure_relates_the_statements_exo_names(client: LanguageClient):
    uri, _ = await open_script(client, EXAMPLES / "broken" / "replace_fails.py")
    [d] = client.diagnostics[uri]
    locations = [(r.location.uri, rng(r.location)) for r in d.related_information]
    isa = (EXAMPLES.parent / "server" / "exo_lsp" / "rvm" / "isa.py").as_uri()
    assert locations == [(isa, (71, 8, 71, 27)), ((EXAMPLES / "broken" / "replace_fails.py").as_uri(), (12, 12, 12, 33))]
    close_script(client, uri)
