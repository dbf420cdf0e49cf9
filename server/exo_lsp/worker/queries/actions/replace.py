"""Instruction replacements: ``replace`` with every @instr whose body has the shape of a
block, and, where the memories differ, the set_memory calls that let it apply."""

from __future__ import annotations

import itertools
from typing import Any

from exo import DRAM

from ...exo.cursors import cursor_at_path, node_path, node_text
from .candidate import Candidate
from .nodes import _exprs, _is, _q, _siblings_after, _trip, _walk


def _shape(s):
    """A cheap signature of a statement tree: loops with constant trip counts, leaf kinds."""
    if _is(s, "ForCursor"):
        return ("for", _trip(s), tuple(_shape(b) for b in s.body()))
    if _is(s, "IfCursor"):
        return ("if", tuple(_shape(b) for b in s.body()))
    if _is(s, "AssignCursor"):
        return ("=",)
    if _is(s, "ReduceCursor"):
        return ("+=",)
    if _is(s, "CallCursor"):
        return ("call", s.subproc().name())
    return (type(s).__name__,)


def _shape_fits(block, instr) -> bool:
    if block[0] == "for" and instr[0] == "for":
        if instr[1] is not None and block[1] != instr[1]:
            return False
        return len(block[2]) == len(instr[2]) and all(_shape_fits(b, i) for b, i in zip(block[2], instr[2]))
    if block[0] == "if" and instr[0] == "if":
        return len(block[1]) == len(instr[1]) and all(_shape_fits(b, i) for b, i in zip(block[1], instr[1]))
    return block == instr


class InstructionCandidates:
    """`replace` candidates and their memory fixes; a part of the Enumerator (uses its p,
    scope, var, names and add)."""

    def instructions(self, roots) -> None:
        """`replace` for every @instr whose body has the shape of a block under `roots`."""
        if not self.scope.instrs:
            return
        bodies = []
        for name, ins in self.scope.instrs:
            body = list(ins.body())
            if body:
                bodies.append((name, ins, [_shape(s) for s in body]))
        seen: set[tuple] = set()
        for s in itertools.chain.from_iterable(_walk([r]) for r in roots):
            path = node_path(s)
            if path in seen:
                continue
            seen.add(path)
            for name, ins, shapes in bodies:
                block = [s]
                nxt = s
                for _ in shapes[1:]:
                    nxt = _siblings_after(nxt)
                    if nxt is None:
                        break
                    block.append(nxt)
                if len(block) != len(shapes):
                    continue
                if not all(_shape_fits(_shape(b), i) for b, i in zip(block, shapes)):
                    continue
                sel = self.names.stmt(s)
                if sel is None:
                    continue
                target = _q(sel) if len(block) == 1 else f"{self.var}.find({_q(sel)}).expand(0, {len(block) - 1})"
                what = node_text(s)
                cursor = s if len(block) == 1 else s.expand(0, len(block) - 1)
                self.add(
                    "replace",
                    f"Replace `{what}` with {name}",
                    f"replace({self.var}, {target}, {name})",
                    check=_call_memory_check(path),
                    on_mismatch=self._memory_fixes(name, path, target, what),
                    precheck=_quiet_replace(cursor, ins),
                    path=path,
                )

    def _memory_fixes(self, instr_name: str, path: tuple, target: str, what: str):
        def fixes(result, mismatch: str) -> list[Candidate]:
            bad = _mismatched_buffers(result, path)
            if not bad:
                return []
            calls = []
            want_of = {}
            for buf, have, want in bad:
                want_of[buf] = want
                alloc = _find_alloc(self.p, buf)
                mem_name = self.scope.memories.get(want)
                if alloc is None or mem_name is None or have is not DRAM:
                    return []  # only offer moving default-memory buffers into the instruction's
                sel = self.names.stmt(alloc)
                if sel is None:
                    return []
                calls.append((buf, mem_name, f"set_memory({self.var}, {_q(sel)}, {mem_name})"))
            out = []
            then = f"replace({self.var}, {target}, {instr_name})"
            for i, (buf, mem_name, call) in enumerate(calls):
                others = [c for j, (_, _, c) in enumerate(calls) if j != i]
                more = f" (and {len(others)} more buffer{'s' * (len(others) > 1)})" if others else ""
                out.append(
                    Candidate(
                        "memory_fix",
                        f"Put {buf} in {mem_name} so that {instr_name} can replace `{what}`{more}",
                        call,
                        note=f"{instr_name} matches `{what}` but its memories differ: {buf} is in "
                        f"DRAM, {instr_name} wants {mem_name}; after this, {then}",
                        after=others + [then],
                        check=_call_memory_check(path),
                        fixes_buffer=buf,
                        path=path,
                        enables=[instr_name],
                        memory=want_of[buf],
                    )
                )
            return out

        return fixes


def _quiet_replace(cursor, ins):
    def run(p):
        from exo.stdlib.scheduling import replace

        return replace(p, cursor, ins, quiet=True)  # fails without printing both procs

    return run


def _only_instructions_touch(p, fix: Candidate, covered: list) -> bool:
    """A memory the CPU cannot read (an accelerator's registers) is a fix only when every
    access of the buffer lies in a block that some instruction unifies with."""
    mem = fix.memory
    try:
        readable = mem is None or mem.can_read()
    except Exception:
        readable = True
    if readable:
        return True
    buf = fix.fixes_buffer
    for s in _walk(p.body()):
        touches = False
        if (_is(s, "AssignCursor") or _is(s, "ReduceCursor")) and s.name() == buf:
            touches = True
        elif _is(s, "AssignCursor") or _is(s, "ReduceCursor") or _is(s, "IfCursor"):
            roots = [s.cond()] if _is(s, "IfCursor") else [s.rhs(), *s.idx()]
            touches = any(_is(e, "ReadCursor") and e.name() == buf for r in roots for e in _exprs(r))
        if touches:
            path = node_path(s)
            if not any(path[: len(cp)] == cp for cp in covered if cp):
                return False
    return True


def _memory_env(p) -> dict[str, Any]:
    env = {}
    for a in p.args():
        try:
            env[a.name()] = a.mem()
        except Exception:
            pass
    for s in _walk(p.body()):
        if _is(s, "AllocCursor"):
            env.setdefault(s.name(), s.mem())
    return env


def _find_alloc(p, name: str):
    for s in _walk(p.body()):
        if _is(s, "AllocCursor") and s.name() == name:
            return s
    return None


def _mismatched_buffers(result, path: tuple) -> list[tuple[str, Any, Any]]:
    """(buffer, its memory, the memory the instruction wants) at the call `replace` made."""
    try:
        call = cursor_at_path(result, path)
    except Exception:
        return []
    if not _is(call, "CallCursor"):
        return []
    env = _memory_env(result)
    out = []
    for arg, param in zip(call.args(), call.subproc().args()):
        try:
            if not param.type().is_numeric():
                continue
            want = param.mem()
            name = arg.name()
        except Exception:
            continue
        have = env.get(name)
        if have is not None and not issubclass(have, want):
            out.append((name, have, want))
    return out


def _call_memory_check(path: tuple):
    def check(result) -> str | None:
        bad = _mismatched_buffers(result, path)
        if bad:
            return "memory type mismatch: " + ", ".join(f"{b} is in {h.__name__}, wants {w.__name__}" for b, h, w in bad)
        return None

    return check
