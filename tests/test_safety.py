"""Unit tests of the safety pieces: line tracking on big documents, where a timeout is
reported, what counts as a schedule, the trust store, one run per version, and a worker
that ends cleanly."""

from __future__ import annotations

import asyncio
import json
import pathlib
import time

import pytest

from exo_lsp.shared import positions
from exo_lsp.shared.positions import line_moves

# (the rest is imported where used, so that each test fails on its own on older code)

ROOT = pathlib.Path(__file__).resolve().parents[1]
OP_FAILS = ROOT / "examples" / "broken" / "op_fails.py"
HEADER = "from __future__ import annotations\nfrom exo import proc\nfrom exo.stdlib.scheduling import *\n\n"


def test_line_moves_is_linear_on_repeated_lines():
    old = "from exo import proc\n" + "x = 1\n" * 200_000
    new = old[: len(old) // 2] + "y = 2\n" + old[len(old) // 2 :]
    t0 = time.perf_counter()
    moves = line_moves(old, new)
    assert time.perf_counter() - t0 < 2.0
    assert all(v == k + 1 for k, v in moves.items()) and moves[200_001] == 200_002
    assert 99_000 < len(moves) < 101_000  # the lines below the insert


def test_line_moves_gives_up_on_a_large_scattered_edit():
    old = "x = 1\n" * 5000
    new = "# top\n" + old[: len(old) // 2] + "y = 2\n" + old[len(old) // 2 :]
    t0 = time.perf_counter()
    assert line_moves(old, new) is None  # the caller then forgets this script's memo
    assert time.perf_counter() - t0 < 1.0


def test_line_moves_size_cap(monkeypatch):
    monkeypatch.setattr(positions, "MAX_FOLLOW_CHARS", 100)
    assert line_moves("a\n" * 60, "b\n" + "a\n" * 60) is None


DUMP_TOO_DEEP = """Thread 0x00007f (most recent call first):
  File "/venv/exo/core/LoopIR.py", line 812 in map_e
  File "/venv/exo/core/LoopIR.py", line 815 in map_e
  ...
"""


def test_a_timeout_deep_inside_exo_is_reported_on_the_op_line():
    from exo_lsp.lsp.worker_client import crash_location

    assert crash_location(DUMP_TOO_DEEP, "/w/s.py", op_line=12) == ("/w/s.py", 12, None)
    dump = DUMP_TOO_DEEP.replace('  ...\n', '  File "/w/s.py", line 9 in <module>\n')
    assert crash_location(dump, "/w/s.py", op_line=12) == ("/w/s.py", 8, None)
    assert crash_location(DUMP_TOO_DEEP, "/w/s.py") is None


def test_imports_exo_is_read_from_the_syntax_tree():
    from exo_lsp.lsp.server import imports_exo

    assert imports_exo("import exo\n")
    assert imports_exo("from exo.stdlib.scheduling import *\n")
    assert imports_exo("def f():\n    import exo.API as api\n")
    assert not imports_exo('"""Use it like this:\nimport exo\n"""\nx = 1\n')
    assert not imports_exo("import exotic\nfrom exotic import x\n# import exo\n")
    assert not imports_exo("from .exo import x\n")
    # a script that does not parse (yet) still counts, so its syntax error is shown
    assert imports_exo("from exo import proc\ndef f(:\n")
    assert not imports_exo('s = """\nimport exo\n"""\ndef f(:\n')


def test_trust_store(tmp_path, monkeypatch):
    from exo_lsp.lsp import trust

    monkeypatch.setenv(trust.ENV, str(tmp_path / "t" / "trust.json"))
    (tmp_path / "proj" / "sub").mkdir(parents=True)
    (tmp_path / "projx").mkdir()
    assert not trust.is_trusted(str(tmp_path / "proj" / "a.py"))
    trust.remember(str(tmp_path / "proj"))
    trust.remember(str(tmp_path / "proj"))
    assert json.loads((tmp_path / "t" / "trust.json").read_text()) == {"folders": [str((tmp_path / "proj").resolve())]}
    assert trust.is_trusted(str(tmp_path / "proj" / "sub" / "a.py"))
    assert not trust.is_trusted(str(tmp_path / "projx" / "a.py"))
    (tmp_path / "t" / "trust.json").write_text("not json")
    assert trust.trusted_folders() == []


def test_trust_store_defaults_to_the_user_config_dir(monkeypatch):
    from exo_lsp.lsp import trust

    monkeypatch.delenv(trust.ENV, raising=False)
    path = trust.store_path()
    assert path.name == "trusted-folders.json" and "exo-lsp" in str(path)


@pytest.mark.asyncio
async def test_one_run_per_version_and_cancelled_callers_do_not_cancel_it():
    from exo_lsp.lsp.engine import Engine
    from exo_lsp.lsp.worker_client import Settings

    engine = Engine(Settings(spare=False))
    try:
        source = OP_FAILS.read_text()
        first = asyncio.create_task(engine.run(str(OP_FAILS), source, 1))
        await asyncio.sleep(0.05)
        first.cancel()  # a hover that went away
        traces = await asyncio.gather(*(engine.run(str(OP_FAILS), source, 1) for _ in range(5)))
        assert all(t is traces[0] for t in traces)
        assert "cannot perfectly divide" in traces[0].problems[0].message
        [w] = engine.pool.workers()
        assert next(w.ids) == 2  # one request ever reached the worker
    finally:
        await engine.shutdown()


@pytest.mark.asyncio
async def test_a_newer_version_supersedes_the_older_run():
    from exo_lsp.lsp.engine import Engine
    from exo_lsp.lsp.worker_client import Settings

    engine = Engine(Settings(spare=False))
    try:
        slow = HEADER + (
            "import time\n@proc\ndef f(x: f32[8]):\n    for i in seq(0, 8):\n        x[i] = 1.0\n"
            "p = f\nfor k in range(30):\n    time.sleep(0.1)\n    p = rename(p, f'f{k}')\n"
        )
        old = asyncio.create_task(engine.run("/tmp/exo_lsp_versions.py", slow, 1))
        await asyncio.sleep(1.5)
        new = await engine.run("/tmp/exo_lsp_versions.py", HEADER + "x = 1\n", 2)
        assert await old is None and new.version == 2 and new.ok
    finally:
        await engine.shutdown()


@pytest.mark.asyncio
async def test_a_worker_shuts_down_cleanly():
    from exo_lsp.lsp.worker_client import Settings, WorkerClient

    w = WorkerClient(Settings())
    await w.start()
    await w.shutdown()
    assert w.proc.returncode == 0  # (not -6: SIGABRT while finalizing with the reader thread)
