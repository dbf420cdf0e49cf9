"""The ``actions.list`` and ``actions.preview`` queries."""

from __future__ import annotations

import difflib
import os
import time

from ...exo import printing, procs
from ...exo.cursors import node_text
from ....shared.contract import ActionInfo, ActionList, ActionsParams, Preview, PreviewParams
from .. import handles
from .candidate import KIND_ORDER, KIND_PREFIX, KINDS, Candidate
from .enumerator import enumerate_candidates
from .nodes import _is
from .places import Scope, build_scope, resolve_place
from .replace import _only_instructions_touch
from .validation import CACHE, RESULTS, Outcome, expected_ms, validate


def list_actions(tracer, path: str, params: ActionsParams) -> ActionList:
    t0 = time.perf_counter()
    budget = params.budget_ms
    state, step, handle, p, nodes, whole = resolve_place(tracer, path, params)
    vars_ = params.vars
    if p is None or step is None or str(step) not in vars_:
        return ActionList(step, handle, "", [], 0, 0, 0, [], (time.perf_counter() - t0) * 1000)
    var = vars_[str(step)]
    scope = build_scope(state, step, var)
    cands = enumerate_candidates(p, nodes, whole, scope)
    base_text = printing.proc_text_fast(p)
    order = sorted(range(len(cands)), key=lambda i: (cands[i].cost, cands[i].rank, i))
    results: dict[int, Outcome] = {}
    pending = 0
    unchecked: set[int] = set()  # offered all the same, so the menu is the same however long validation takes
    extra: list[Candidate] = []
    for i in order:
        c = cands[i]
        dep = CACHE.get((handle, var, c.requires, ())) if c.requires is not None else None
        if dep is not None and not dep.ok:
            results[i] = Outcome(False, None, f"fails as {c.requires} does: {dep.error}", 0.0)
            continue
        key = (handle, var, c.call, tuple(c.after))
        over = budget is not None and (time.perf_counter() - t0) * 1000 + expected_ms(c.group) > budget
        if over and CACHE.get(key) is None:
            pending += 1
            unchecked.add(i)
            continue
        o = validate(c, p, handle, scope, base_text)
        results[i] = o
        if not o.ok and o.result is not None and c.on_mismatch is not None and o.error and o.error.startswith("memory"):
            extra.extend(c.on_mismatch(o.result, o.error))
    # memory fixes found on the way: validated like the rest (the fix, then the replace)
    covered = [cands[i].path for i, o in results.items() if cands[i].group == "replace" and o.result is not None]
    merged: dict[str, Candidate] = {}
    for c in extra:
        if not _only_instructions_touch(p, c, covered):
            continue
        if c.call in merged:
            m = merged[c.call]
            m.enables += [e for e in c.enables if e not in m.enables]
            m.note += "; " + c.note
            continue
        merged[c.call] = c
    fixes = list(merged.values())
    for c in fixes:
        mem_name = scope.memories.get(c.memory, "?")
        c.title = f"Put {c.fixes_buffer} in {mem_name} so that {', '.join(c.enables)} can replace the loops that use it"
        if len(c.after) > 1:
            c.title += f" (with {len(c.after) - 1} more set_memory)"
    for c in fixes:
        cands.append(c)
        over = budget is not None and (time.perf_counter() - t0) * 1000 + expected_ms(c.group) > budget
        if over and CACHE.get((handle, var, c.call, tuple(c.after))) is None:
            pending += 1
            unchecked.add(len(cands) - 1)
            continue
        results[len(cands) - 1] = validate(c, p, handle, scope, base_text)
    actions = []
    offered: set[str] = set()
    for i in sorted(range(len(cands)), key=lambda i: cands[i].rank):
        c = cands[i]
        o = results.get(i)
        if (o is None and i not in unchecked) or (o is not None and not o.ok) or c.call in offered:
            continue
        offered.add(c.call)
        actions.append(
            ActionInfo(
                key=f"{handle}:{var}:{c.call}",
                title=c.title,
                kind=f"{KIND_PREFIX}.{KINDS[c.group]}",
                group=c.group,
                call=c.call,
                rank=c.rank,
                ms=round(o.ms, 2) if o is not None else 0.0,
                note=c.note,
                checked=o is not None,
            )
        )
    actions.sort(key=lambda a: (KIND_ORDER[KINDS[a.group]], a.rank))  # grouped by kind, best first
    return ActionList(
        step=step,
        handle=handle,
        var=var,
        actions=actions,
        candidates=len(cands),
        validated=len(results),
        pending=pending,
        nodes=[node_text(c) if not _is(c, "BlockCursor") else f"block of {len(c)}" for c in nodes],
        ms=(time.perf_counter() - t0) * 1000,
    )


@handles(ActionsParams)
def q_list(tracer, path: str, params: ActionsParams) -> ActionList:
    return list_actions(tracer, path, params)


@handles(PreviewParams)
def q_preview(tracer, path: str, params: PreviewParams) -> Preview:
    """The proc before and after one action, as the proc view prints them, and their diff."""
    handle, var, call = params.handle, params.var, params.call
    p = tracer.registry.get(handle)
    if p is None:
        raise KeyError(f"no proc with handle {handle} (the script has changed since)")
    after = RESULTS.get((handle, var, call))
    if after is None:
        state = tracer.runs.get(os.path.abspath(path))
        scope = build_scope(state, params.step, var) if state is not None else Scope(var, {}, [], {})
        o = validate(Candidate("simplify", "", call), p, handle, scope, printing.proc_text_fast(p))
        if not o.ok:
            raise ValueError(f"{call} does not apply: {o.error}")
        after = o.result
    before_text, after_text = str(p), str(after)
    name = procs.proc_name(p)
    diff = "".join(
        difflib.unified_diff(
            before_text.splitlines(keepends=True),
            after_text.splitlines(keepends=True),
            fromfile=f"{name} (before)",
            tofile=f"{name} (after {call.split('(')[0]})",
        )
    )
    return Preview(title=params.title, call=call, proc=name, before=before_text, after=after_text, diff=diff)
