"""Memo keys for every kind of value a @proc or a step can depend on: an identical re-run
re-runs nothing (every proc and every step comes from the memo), or the memo says, as a
hint on the line, why it cannot."""

from __future__ import annotations

import pathlib

import pytest

from exo_lsp.worker.tracer import Tracer

HERE = pathlib.Path(__file__).resolve().parent

HEADER = """from __future__ import annotations

from exo import proc, config
from exo.stdlib.scheduling import *
"""

# kind -> (extra imports and definitions, the proc's body lines)
CASES = {
    "library externs": (
        "from exo.libs.externs import relu, select\n",
        ["y[i] = relu(x[i])", "y[i] = select(x[i], y[i], x[i], y[i])"],
    ),
    "star imports binding TypeVars": (
        "from exo.frontend.syntax import *\nfrom exo.stdlib.stdlib import *\n",
        ["y[i] = x[i] + y[i]"],
    ),
    "an extern defined in the script": (
        "from exo.libs.externs import _Relu\n\n\nclass MyRelu(_Relu):\n    pass\n\n\nmy_relu = MyRelu()\n",
        ["y[i] = my_relu(x[i])"],
    ),
    "a config of a library": (
        "from exo.platforms.gemmini import ConfigLoad\n",
        ["y[i] = x[i]", "ConfigLoad.src_stride = stride(x, 0)"],
    ),
}


def script(imports: str, body: list[str]) -> str:
    lines = "\n".join(f"        {b}" for b in body)
    return f"""{HEADER}{imports}

@proc
def kernel(n: size, x: f32[n], y: f32[n]):
    for i in seq(0, n):
{lines}


p = divide_loop(kernel, "i", 4, ["io", "ii"], tail="cut")
p = simplify(p)
"""


@pytest.mark.parametrize("kind", sorted(CASES))
def test_identical_rerun_reruns_nothing(kind):
    text = script(*CASES[kind])
    path = str(HERE / f"unsaved_memo_{kind.replace(' ', '_')}.py")  # never written to disk
    t = Tracer()
    cold = t.run(path, text, 1)
    assert cold.trace.ok, [p.message for p in cold.trace.problems]
    again = t.run(path, text, 2)
    assert t.procs.misses == 0 and t.procs.hits >= 1, kind
    assert again.trace.cached_steps == len(again.trace.steps) == 2, kind
    assert [p.code for p in again.trace.problems] == []


def test_a_config_defined_in_the_script_is_said_not_memoisable():
    # A config's field symbols are new objects every run, and a memoised proc would keep
    # the old ones: not memoisable, and said so on the proc's line.
    text = script(
        "\n\n@config\nclass Cfg:\n    scale: f32\n",
        ["y[i] = Cfg.scale"],
    )
    t = Tracer()
    path = str(HERE / "unsaved_memo_config.py")
    t.run(path, text, 1)
    again = t.run(path, text, 2)
    [hint] = [p for p in again.trace.problems if p.code == "not-memoised"]
    assert hint.severity == "hint"
    assert "`kernel` is parsed again on every edit" in hint.message
    assert "`Cfg` is a config defined in the script" in hint.message
    assert text.splitlines()[hint.range.start.line] == "@proc"
