"""The key under which the editor's search carries evaluations across script versions: the
algorithm and everything in scope a scheduled proc's cycles depend on. A scheduled proc names
an @instr by name only, so an edited instruction must not reuse the old cycles."""

from __future__ import annotations

from exo_lsp.worker.queries.search import context_hash
from exo_lsp.worker.search.session import Session, Spec, proc_hash

SCRIPT = '''from __future__ import annotations
from exo import proc, instr, DRAM
from exo.stdlib.scheduling import *

# a comment
@instr("{dst_data} = {src_data}; /* TEMPLATE */")
def copy_one(dst: [i32][1] @ DRAM, src: [i32][1] @ DRAM):
    for k in seq(0, 1):
        dst[k] = src[k]


@proc
def twice(x: i32[8], y: i32[8]):
    for i in seq(0, 8):
        y[i] = x[i]

p = rename(twice, "twice_s")
'''


def key(tmp_path, text: str) -> str:
    path = tmp_path / "s.py"
    path.write_text(text)
    s = Session(Spec(str(path), text, "twice", None))
    assert [name for name, _ in s.scope.instrs] == ["copy_one"]
    return context_hash(s, proc_hash(s.algorithm))


def test_an_edited_instruction_changes_the_key_a_comment_does_not(tmp_path):
    base = key(tmp_path, SCRIPT)
    assert key(tmp_path, SCRIPT.replace("# a comment", "# a comment, edited")) == base
    assert key(tmp_path, SCRIPT.replace("TEMPLATE", "OTHER")) != base
    assert key(tmp_path, SCRIPT.replace("dst[k] = src[k]", "dst[k] = src[k] + 1")) != base
