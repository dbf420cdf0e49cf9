"""What a candidate action is: its group's rank, LSP kind and cost class, and the call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


# Ranks: most useful first; the kind groups them in the client's menu.
RANKS = {
    "replace": 0,
    "memory_fix": 1,
    "divide": 2,
    "reorder": 3,
    "stage_mem": 4,
    "fission": 5,
    "lift_alloc": 6,
    "expand_dim": 6,
    "sink_alloc": 6,
    "set_memory": 7,
    "lift_scope": 8,
    "fuse": 8,
    "cut_loop": 8,
    "unroll": 9,
    "divide_tail": 10,
    "bind_expr": 11,
    "delete_buffer": 12,
    "parallelize": 13,
    "simplify": 14,
}
KINDS = {
    "replace": "instr",
    "memory_fix": "instr",
    "divide": "loop",
    "reorder": "loop",
    "fission": "loop",
    "lift_scope": "loop",
    "fuse": "loop",
    "cut_loop": "loop",
    "unroll": "loop",
    "divide_tail": "loop",
    "parallelize": "loop",
    "stage_mem": "stage",
    "bind_expr": "stage",
    "lift_alloc": "buffer",
    "expand_dim": "buffer",
    "sink_alloc": "buffer",
    "set_memory": "buffer",
    "delete_buffer": "buffer",
    "simplify": "simplify",
}
KIND_ORDER = {"instr": 0, "loop": 1, "stage": 2, "buffer": 3, "simplify": 4}
# Calls whose validation runs Exo's effect analysis (tens to hundreds of ms): validated last.
# Cost classes: 0 = no effect check (a few ms); higher = validated later (stage_mem checks
# every access of the window: hundreds of ms).
COST = {"cut_loop": 1, "reorder": 2, "fission": 2, "lift_scope": 2, "fuse": 2, "sink_alloc": 2, "bind_expr": 2,
        "delete_buffer": 2, "expand_dim": 3, "stage_mem": 4}

KIND_PREFIX = "refactor.rewrite.exo"


@dataclass
class Candidate:
    group: str
    title: str
    call: str
    check: Callable[[Any], str | None] | None = None  # extra test of the result: None = fine
    note: str = ""
    on_mismatch: Callable[[Any, str], list["Candidate"]] | None = None  # replace: memory fixes
    after: list[str] = field(default_factory=list)  # memory fixes: calls that must follow
    precheck: Callable[[Any], Any] | None = None  # a quiet, cheap way to fail first
    fixes_buffer: str | None = None  # memory fixes: the buffer moved
    path: tuple | None = None  # replace: the block's path
    enables: list[str] = field(default_factory=list)  # memory fixes: "instr at `stmt`"
    memory: Any = None  # memory fixes: the memory class the buffer moves to
    requires: str | None = None  # a call that fails whenever this one's first part fails

    @property
    def rank(self) -> int:
        return RANKS[self.group]

    @property
    def cost(self) -> int:
        return COST.get(self.group, 0)
