"""Worker-side answers for hovers and inline previews of pattern strings and cursors.

The server finds what is under the cursor in the trace (a step's argument, a cursor
lookup, an op name) and asks here, where the procs and the real cursors live:

* ``resolve.hover``  — Markdown for an argument, a lookup or an op call.
* ``resolve.inlay``  — one short label per top-level step and per free-standing lookup.
* ``resolve.names``  — loop, buffer and proc names of procs, for semantic tokens.

Every answer is for the run the server saw: params carry its ``version`` and a stale
question gets ``None`` (the server then re-asks after the newer run).
"""

from __future__ import annotations

import difflib
import os

from ..exo import listings, ops, patterns, procs
from ..exo.cursors import cursor_is, cursor_kind, cursor_proc, describe_cursor, flatten_cursors
from ...shared.lru import LRU
from ...shared.trace import Lookup, Step, Target
import msgspec

from . import argdetail, handles
from ...shared.contract import HoverParams, HoverResult, InlayParams, InlayResult, NamesParams, NamesResult

# ----------------------------------------------------------------------------- caches


# keyed by id(proc); the proc object is kept in the value so that the id stays its own
_listings = LRU(64)
_counts = LRU(512)
_inlays = LRU(8)


def listing(p) -> listings.ProcListing:
    return _listings.get_or(id(p), lambda: (p, listings.proc_listing(p)))[1]


def _state(tracer, path: str, version: int | None):
    state = tracer.runs.get(os.path.abspath(path))
    if state is None:
        return None
    if version is not None and state.trace.version != version:
        return None
    return state


# ----------------------------------------------------------------------------- words

_KIND_WORDS = {
    "loop": "loop",
    "if": "if statement",
    "assign": "assignment",
    "reduce": "reduction (+=)",
    "alloc": "allocation",
    "call": "call",
    "pass": "pass",
    "window": "window statement",
    "config": "config write",
    "arg": "argument",
    "expr": "expression",
}


def kind_phrase(c) -> str:
    """What kind of cursor this is, in words: ``loop``, ``block of 3 statements``, ..."""
    kind = cursor_kind(c)
    if kind == "block":
        n = len(c)
        return "block of 1 statement" if n == 1 else f"block of {n} statements"
    if kind == "gap":
        info = describe_cursor(c)
        return info.text.split(":", 1)[0]  # "gap after" / "gap before"
    if kind == "expr" or kind not in _KIND_WORDS:
        return "expression" if cursor_is(c, "ExprCursor") else _KIND_WORDS.get(kind, kind)
    return _KIND_WORDS[kind]


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _loc_link(path: str, line0: int) -> str:
    from urllib.parse import quote

    uri = "file://" + quote(path)
    return f"[{os.path.basename(path)}:{line0 + 1}]({uri}#L{line0 + 1})"


# ----------------------------------------------------------------------------- matches


def _expansion(kind: str | None, method: str | None) -> str:
    if method == "find_loop" or kind == "loop":
        return "loop"
    if method == "find_alloc_or_arg" or kind == "alloc":
        return "alloc"
    return ""


def match_info(p, pattern: str, kind: str | None, method: str | None, namespace: dict) -> tuple[int, int] | None:
    """(the match taken, how many there are) of a pattern string in `p`."""
    full = patterns.expand_shorthand(pattern, _expansion(kind, method))
    _, sel = patterns.split_selector(full)

    def count():
        try:
            return len(patterns.pattern_matches(p, full, namespace))
        except Exception:
            return None

    total = _counts.get_or((id(p), full), lambda: (p, count()))[1]
    if total is None:
        return None
    return (sel or 0), total


def match_phrase(m: tuple[int, int] | None, pattern: str) -> str:
    if m is None:
        return ""
    taken, total = m
    explicit = patterns.split_selector(pattern)[1] is not None
    if total <= 1 and not explicit:
        return ""
    return f"match #{taken} of {total}"


# ----------------------------------------------------------------------------- hover parts


def selection_block(p, cursors: list) -> tuple[str, list[str]]:
    """The proc around the selected node(s), marked; and the marked lines alone."""
    lst = listing(p)
    sels = [s for s in (listings.locate(lst, c) for c in cursors) if s is not None]
    if not sels:
        return "\n".join(lst.lines[:12]), []
    if len(sels) == 1:
        sel = sels[0]
    else:  # several cursors (a list argument): one selection covering all
        sel = listings.Selection(
            [m for s in sels for m in s.marks],
            None,
            min(s.first for s in sels),
            max(s.last for s in sels),
            sorted({h for s in sels for h in s.headers}),
        )
    text = listings.snippet(lst, sel)
    marked = [ln for ln in text.splitlines() if listings.MARK in ln]
    return text, marked


def _origin_line(t: Target) -> str:
    if t.origin is None:
        return ""
    return f"from the algorithm: {_loc_link(t.origin.path, t.origin.range.start.line)}"


def cursor_hover(
    p,
    cursors: list,
    targets: list[Target],
    *,
    title: str,
    where: str,
    pattern: str | None,
    method: str | None,
    namespace: dict,
    extra: list[str] = (),
) -> dict:
    head = []
    phrase = ""
    if cursors:
        c = cursors[0]
        phrase = kind_phrase(c) if len(cursors) == 1 else f"{len(cursors)} cursors"
    m = None
    if pattern is not None and cursors:
        m = match_info(p, pattern, targets[0].kind if targets else None, method, namespace)
    mp = match_phrase(m, pattern or "")
    line = f"**{phrase}**" if phrase else ""
    if targets:
        texts = [t.text.split(": ", 1)[1] if t.kind == "gap" and ": " in t.text else t.text for t in targets]
        shown = texts[0] if len(texts) == 1 else "; ".join(texts[:3])
        line += f" `{_short(shown, 80)}`"
    if mp:
        line += f" · {mp}"
    head.append(line.strip())
    head.append(f"{title} — {where}")
    body, marked = selection_block(p, cursors)
    parts = ["  \n".join(h for h in head if h), f"```python\n{body}\n```"]
    origins = []
    for t in targets:
        o = _origin_line(t)
        if o and o not in origins:
            origins.append(o)
    parts.extend(origins[:3])
    parts.extend(extra)
    return {
        "markdown": "\n\n".join(parts),
        "kind": phrase,
        "marked": marked,
        "match": list(m) if m and mp else None,
    }


def _step_where(trace, step: Step) -> str:
    return f"`{step.proc_name}` before step {step.index} (`{step.op}`, line {step.line + 1})"


def argument_hover(state, step: Step, arg_name: str) -> dict | None:
    rt = state.runtime.get(step.index)
    arg = next((a for a in step.arguments if a.name == arg_name), None)
    if arg is None or rt is None:
        return None
    targets = [t for t in step.targets if t.argument == arg_name]
    p = rt.raw.get("proc")
    if not procs.is_procedure(p):
        p = state_proc(state, step.proc_in)
    if p is None:
        return None
    cursors = flatten_cursors(rt.resolved.get(arg_name)) if rt.resolved else []
    ns = rt.frame.f_globals if rt.frame is not None else state.namespace
    extra = []
    kind_line = None
    if rt.op is None:  # a helper's argument: what the primitives under it received
        p, cursors, targets = argdetail.helper_selection(state, step, arg_name, p, targets)
    elif arg.kind in ("window", "expr"):
        cursors, kind_line, more = argdetail.expression_selection(rt, arg_name, p)
        extra.extend(more)
    elif arg.kind == "value":
        return argdetail.value_hover(state, step, arg, rt.raw.get(arg_name), _step_where(state.trace, step))
    elif arg.kind == "proc" and not cursors:
        return argdetail.proc_argument_hover(state, step, arg, rt.raw.get(arg_name), p, _step_where(state.trace, step))
    if arg.kind == "cursor":
        src = _lookup_of_value(state, rt.raw.get(arg_name))
        if src is not None and src.range != arg.range:
            extra.append(f"made by `{_short(_lookup_text(state, src), 70)}` at line {src.line + 1}")
    if not step.ok and (not cursors or step.error):
        msg = step.error or "failed"
        extra.insert(0, f"**✗ {step.op} failed:** {_short(msg.splitlines()[0], 200)}")
    title = f"`{arg.text if len(arg.text) < 50 else arg.name}`"
    pattern = rt.raw.get(arg_name) if arg.kind == "pattern" else None
    got = cursor_hover(
        p, cursors, targets if kind_line is None else [], title=title, where=_step_where(state.trace, step),
        pattern=pattern if isinstance(pattern, str) else None,
        method=None, namespace=ns, extra=extra,
    )
    if kind_line is not None:  # a window or an expression: say what it is, not what it marks
        first, rest = got["markdown"].split("\n", 1)
        if cursors:  # the first line is the kind of what is marked: replace it
            got["markdown"] = f"{kind_line}  \n{rest}"
        else:
            got["markdown"] = f"{kind_line}  \n{got['markdown']}"
        got["kind"] = kind_line.split("**")[1]
    return got


def _lookup_text(state, lk: Lookup) -> str:
    return state_text(state, lk)


def state_text(state, lk: Lookup) -> str:
    """The lookup's expression as the run saw it (the tracer seeds linecache with the
    buffer it ran, saved or not)."""
    import linecache

    from ...shared.positions import LineIndex

    return LineIndex("".join(linecache.getlines(state.trace.path))).text_of(lk.range)


def _lookup_of_value(state, value) -> Lookup | None:
    if value is None:
        return None
    for lk in reversed(state.trace.lookups):
        got = state.lookup_values.get(lk.index)
        if got is not None and got[1] is value:
            return lk
    return None


_TRACER: list = [None]  # the worker's Tracer, bound by each handler


def state_proc(state, handle):
    t = _TRACER[0]
    if handle is None or t is None:
        return None
    return t.registry.get(handle)


def lookup_hover(state, lk: Lookup) -> dict | None:
    receiver, result = state.lookup_values.get(lk.index, (None, None))
    p = cursor_proc(receiver)
    if p is None:
        return None
    cursors = flatten_cursors(result)
    pattern = next((a for a in lk.arguments if a.kind == "pattern"), None)
    pattern_value = None
    if pattern is not None:
        import ast

        try:
            pattern_value = ast.literal_eval(pattern.text)
        except Exception:
            pattern_value = None
    extra = []
    if not lk.ok:
        extra.append(f"**✗ `{lk.method}` failed:** {_short((lk.error or '').splitlines()[0] if lk.error else '', 200)}")
    if cursors and not isinstance(receiver, procs.Procedure):
        extra.append(f"navigated from {kind_phrase(receiver)} `{_short(describe_cursor(receiver).text, 60)}`")
    after = lk.after_step
    where = f"`{lk.proc_name}` as defined"
    if after:
        prev = state.trace.steps[after - 1]
        while prev.parent is not None:
            prev = state.trace.steps[prev.parent]
        where = f"`{lk.proc_name}` after step {prev.index} (`{prev.op}`, line {prev.line + 1})"
    title = f"`{_short(state_text(state, lk), 60)}`"
    ns = state.namespace
    return cursor_hover(p, cursors, lk.targets, title=title, where=where, pattern=pattern_value,
                        method=lk.method, namespace=ns, extra=extra)


def _diff(before: list[str], after: list[str], limit: int = 40) -> str:
    lines = list(difflib.unified_diff(before, after, lineterm="", n=1))[2:]
    if len(lines) > limit:
        lines = lines[:limit] + [f"… {len(lines) - limit} more diff lines"]
    return "\n".join(lines)


def op_hover(state, step: Step) -> dict | None:
    rt = state.runtime.get(step.index)
    op = rt.op if rt is not None else None
    f = op
    if f is None:  # a library helper: find it by name where the script could see it
        f = state.namespace.get(step.op)
        if f is None:
            f = ops.scheduling_op(step.op)
    parts = []
    if f is not None and callable(f):
        try:
            parts.append(f"```python\n{ops.op_signature(f)}\n```")
        except (TypeError, ValueError):
            pass
        doc = ops.op_doc(f)
        if doc:
            parts.append(doc)
    else:
        parts.append(f"```python\n{step.op}(...)\n```")
    p_in = state_proc(state, step.proc_in)
    p_out = state_proc(state, step.proc_out)
    facts = [f"step {step.index}", f"{step.ms:.1f} ms" + (" (cached)" if step.cached else "")]
    if step.children:
        kids = [state.trace.steps[i] for i in step.children]
        names: dict[str, list[int]] = {}
        for k in kids:
            v = names.setdefault(k.op, [0, 0])
            v[0] += 1
            v[1] += 1 if (k.ok and k.changed) else 0
        facts.append("ran " + ", ".join(f"{n} ×{v[0]} ({v[1]} changed the proc)" for n, v in names.items()))
    parts.append("**This call:** " + " · ".join(facts))
    if not step.ok:
        parts.append(f"**✗ failed:** {_short((step.error or '').splitlines()[0] if step.error else 'failed', 300)}")
    created = []
    created_md = []
    diff_text = ""
    if step.ok and p_in is not None and p_out is not None:
        if step.changed is False:
            parts.append(f"It changed nothing: `{step.proc_name}` is the same before and after.")
        else:
            la = listing(p_out)
            created = ops.created_nodes(p_in, p_out, la)
            for c in created[:12]:
                where = f"line {c.line + 1} of the proc after"
                src = ""
                si = c.srcinfo
                if si is not None and getattr(si, "filename", None) and si.lineno:
                    src = " · from " + _loc_link(os.path.abspath(si.filename), si.lineno - 1)
                created_md.append(f"- {c.kind} `{_short(c.text, 70)}` — {where}{src}")
            if len(created) > 12:
                created_md.append(f"- … and {len(created) - 12} more")
            diff_text = _diff(listing(p_in).lines, la.lines)
    if created_md:
        parts.append("**Created:**\n" + "\n".join(created_md))
    if diff_text:
        parts.append(f"```diff\n{diff_text}\n```")
    return {
        "markdown": "\n\n".join(parts),
        "created": [{"kind": c.kind, "text": c.text, "line": c.line} for c in created],
        "diff": diff_text,
    }


# ----------------------------------------------------------------------------- handlers


def _bind(tracer) -> None:
    _TRACER[0] = tracer


@handles(HoverParams)
def hover(tracer, path: str, params: HoverParams) -> HoverResult | None:
    _bind(tracer)
    state = _state(tracer, path, params.version)
    if state is None:
        return None
    if params.what == "lookup":
        i = params.lookup
        if i is None or not 0 <= i < len(state.trace.lookups):
            return None
        got = lookup_hover(state, state.trace.lookups[i])
    else:
        i = params.step
        if i is None or not 0 <= i < len(state.trace.steps):
            return None
        step = state.trace.steps[i]
        got = argument_hover(state, step, params.argument) if params.what == "argument" else op_hover(state, step)
    return msgspec.convert(got, HoverResult) if got else None


def _target_label(t: Target, p_out) -> str:
    if t.kind in ("loop", "if"):
        return t.text.rstrip(":")
    if t.kind == "block":
        return f"{t.count} stmts" if t.count != 1 else t.text.rstrip(":")
    if t.kind == "alloc" and p_out is not None:
        name = t.text.split(":", 1)[0].strip()
        for line in listing(p_out).lines:
            s = line.strip()
            if s.split(":", 1)[0].strip() == name and " : " in s and not s.startswith(("for ", "if ")):
                return s
    return t.text.rstrip(":")


_produced = LRU(512)


def _changed_lines(p_in, p_out) -> tuple[int, list[str]]:
    """(statements of `p_out` whose line changed or is new, the diff) between two procs."""
    a, b = listing(p_in).lines, listing(p_out).lines
    n = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag in ("replace", "insert"):
            n += j2 - j1
    return n, list(difflib.unified_diff(a, b, lineterm="", n=0))[2:]


def step_produced(state, step: Step) -> str | None:
    """What a step produced, for the tooltip of its preview: the nodes it created and the
    lines it changed (cached per pair of procs: memoised steps keep their procs)."""
    p_in, p_out = state_proc(state, step.proc_in), state_proc(state, step.proc_out)
    if not step.ok or p_in is None or p_out is None:
        return None

    def make():
        if step.changed is False:
            return p_in, p_out, f"{step.op} produced the same proc: nothing changed"
        parts = []
        try:
            created = ops.created_nodes(p_in, p_out, listing(p_out))
        except Exception:  # a proc the listing cannot map: the diff still says it
            created = []
        if created:
            parts.append("created:\n" + "\n".join(f"  {c.kind}: {c.text}" for c in created[:8]))
        n, diff = _changed_lines(p_in, p_out)
        if diff:
            shown = diff[:16] + ([f"… {len(diff) - 16} more diff lines"] if len(diff) > 16 else [])
            parts.append("\n".join(shown))
        return p_in, p_out, "\n\n".join(parts) or f"{step.op}: {n} lines changed"

    return _produced.get_or((id(p_in), id(p_out), step.op), make)[2]


def _whole_proc_label(state, step: Step) -> str | None:
    """Ops without a cursor argument (rename, simplify, ...): what they did to the proc."""
    p_in, p_out = state_proc(state, step.proc_in), state_proc(state, step.proc_out)
    if p_in is None or p_out is None:
        return None
    if step.op == "rename":
        return f"→ {procs.proc_name(p_out)}"
    if step.changed is False:
        return "→ no change"
    n, _ = _changed_lines(p_in, p_out)
    if n == 0:
        return "→ no change"
    return f"→ {n} statement{'s' if n != 1 else ''} changed"


def step_label(state, step: Step) -> str | None:
    if not step.ok:
        first = (step.error or "failed").splitlines()[0]
        return f"✗ {_short(first, 48)}"
    # what the op was applied to; the accesses a window covers and the loops an index
    # names are in the hover of those arguments
    targets = [t for t in step.targets if t.kind not in ("access", "binder")]
    if not targets:
        return _whole_proc_label(state, step)
    p_out = state_proc(state, step.proc_out)
    labels = [_target_label(t, p_out) for t in targets[:2]]
    label = "→ " + "; ".join(_short(x, 48) for x in labels)
    if len(targets) > 2:
        label += f" (+{len(targets) - 2})"
    rt = state.runtime.get(step.index)
    t0 = targets[0]
    pattern = rt.raw.get(t0.argument) if rt is not None else None
    if isinstance(pattern, str) and step.parent is None and rt is not None and rt.op is not None:
        p_in = state_proc(state, step.proc_in)
        if p_in is not None:
            ns = rt.frame.f_globals if rt.frame is not None else state.namespace
            mp = match_phrase(match_info(p_in, pattern, t0.kind, None, ns), pattern)
            if mp:
                label += f" ({mp.replace('match ', '')})"
    return label


def lookup_label(state, lk: Lookup) -> str | None:
    if not lk.ok:
        return f"✗ {_short((lk.error or 'failed').splitlines()[0], 48)}"
    if not lk.targets:
        return None
    return "→ " + _short(_target_label(lk.targets[0], None), 48)


@handles(InlayParams)
def inlay(tracer, path: str, params: InlayParams) -> InlayResult | None:
    """Labels for every top-level step and every lookup; the server places them."""
    _bind(tracer)
    state = _state(tracer, path, params.version)
    if state is None:
        return None

    def make():
        steps = {}
        for s in state.trace.steps:
            if s.parent is None:
                label = step_label(state, s)
                if label:
                    steps[s.index] = label
        lookups = {}
        for lk in state.trace.lookups:
            label = lookup_label(state, lk)
            if label:
                lookups[lk.index] = label
        produced = {}
        for i in steps:
            text = step_produced(state, state.trace.steps[i])
            if text:
                produced[i] = text
        return state, InlayResult(steps, lookups, produced)

    return _inlays.get_or((id(state), state.trace.version), make)[1]


@handles(NamesParams)
def names(tracer, path: str, params: NamesParams) -> NamesResult:
    """Per proc handle: its loop, buffer, size and called-proc names."""
    out = {}
    for h in params.handles:
        p = tracer.registry.get(h)
        if p is not None:
            out[h] = procs.proc_names(p)
    return NamesResult(out)
