"""The command line on hostile scripts: the message, then a non-zero exit right away."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEADER = "from __future__ import annotations\nfrom exo import proc\nfrom exo.stdlib.scheduling import *\n\n"
KINDS = {
    "loop": ("x = 0\nwhile True: x += 1\n", "the script ran longer than 3 s (it was at line 6) and was stopped"),
    "segfault": ("import ctypes\nctypes.string_at(0)\n", "the worker crashed (segmentation fault) (it was at line 6)"),
    "os_exit": ("import os\nos._exit(3)\n", "the script called os._exit(3) (it was at line 6)"),
}


@pytest.mark.parametrize("command", ["check", "trace", "show", "simulate"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_cli_exits_non_zero_after_the_message(tmp_path, kind, command):
    body, message = KINDS[kind]
    script = tmp_path / f"{kind}.py"
    script.write_text(HEADER + body)
    # the code on PYTHONPATH (absolute: the command runs in tmp_path), else this checkout's
    given = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(given or [str(ROOT / "server"), str(ROOT / "protocol")])}
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "exo_lsp", command, str(script), "--timeout", "3"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    elapsed = time.monotonic() - t0
    assert out.returncode != 0
    assert f"{kind}.py:6:1: error: {message}" in out.stdout + out.stderr
    assert "never retrieved" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert elapsed < 30
