"""Every touch of Exo internals, pinned to exo-lang 1.0.0.

The modules of this package lean on names that are not Exo's public API: the shared entry
point of scheduling primitives (``AtomicSchedulingOp.__call__``), the ``@proc`` parser,
internal cursors and their paths, ``srcinfo``, the LoopIR printer and StaticMemory's class
state, and for the speed-ups the effect checks' context extraction, the SMT solver
factories and the frontend's use of ``inspect``. Nothing else in exo-lsp imports them.
``tests/test_exo_*.py`` pin each of them, so an Exo upgrade fails there first.

By concern:

* ``hooks``: the scheduling-op, ``@proc``/``@instr`` and cursor-lookup hooks the tracer
  observes through, and the srcinfo the parser makes;
* ``procs``: Exo's class state, what a value is (proc, memory class), a proc's names;
* ``cursors``: cursor kinds, paths and one-line descriptions; nodes for code actions;
* ``printing``: proc text, the raw printer's line map, the C code map, statement paths;
* ``patterns``: pattern kinds, matching and selectors, Exo's error messages;
* ``signatures``: a proc's arguments as plain values (compile & simulate);
* ``listings``: a proc listing with the lines of each statement, and snippets of it;
* ``ops``: scheduling ops' names, signatures and docs, and the nodes a step created;
* ``memories``: memory classes built on StaticMemory and DRAM_STATIC (a target's tiles);
* ``speedups``: Exo's input-independent checking costs, cut.
"""

from __future__ import annotations

EXO_VERSION = "1.0.0"


def check_version() -> None:
    import importlib.metadata

    found = importlib.metadata.version("exo-lang")
    if found != EXO_VERSION:
        raise RuntimeError(f"exo-lsp needs exo-lang=={EXO_VERSION}; found {found}")
