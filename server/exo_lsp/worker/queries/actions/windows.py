"""Windows for stage_mem: the part of each buffer a block of statements accesses, from
affine index expressions and the ranges of the loops inside the block."""

from __future__ import annotations

from .nodes import _const, _exprs, _is, _walk


def _accesses(stmts):
    """(buffer name, [index expr cursors]) of every tensor read and write in `stmts`."""
    for s in _walk(stmts):
        roots = []
        if _is(s, "AssignCursor") or _is(s, "ReduceCursor"):
            if len(s.idx()):
                yield s.name(), list(s.idx())
            roots = [s.rhs(), *s.idx()]
        elif _is(s, "IfCursor"):
            roots = [s.cond()]
        for r in roots:
            for e in _exprs(r):
                if _is(e, "ReadCursor") and len(e.idx()):
                    yield e.name(), list(e.idx())


def _affine(e, inner: dict[str, tuple[int, int]]):
    """e as (const, {var: coeff}); None when not affine. `inner` are loop ranges [lo, hi]."""
    if (v := _const(e)) is not None:
        return v, {}
    if _is(e, "ReadCursor") and not len(e.idx()):
        return 0, {e.name(): 1}
    if _is(e, "UnaryMinusCursor"):
        a = _affine(e.arg(), inner)
        return None if a is None else (-a[0], {k: -v for k, v in a[1].items()})
    if _is(e, "BinaryOpCursor") and e.op() in ("+", "-", "*"):
        a, b = _affine(e.lhs(), inner), _affine(e.rhs(), inner)
        if a is None or b is None:
            return None
        if e.op() == "*":
            if not a[1]:
                a, b = b, a
            if b[1]:
                return None
            k = b[0]
            return a[0] * k, {v: c * k for v, c in a[1].items()}
        sign = 1 if e.op() == "+" else -1
        terms = dict(a[1])
        for v, c in b[1].items():
            terms[v] = terms.get(v, 0) + sign * c
        return a[0] + sign * b[0], {v: c for v, c in terms.items() if c}
    return None


def _render(const: int, terms: dict[str, int]) -> str:
    parts = []
    for v, c in terms.items():
        parts.append(v if c == 1 else f"{c} * {v}")
    if const or not parts:
        parts.append(str(const))
    text = " + ".join(parts)
    return text.replace("+ -", "- ")


def stage_windows(stmts, inner: dict[str, tuple[int, int]]) -> dict[str, str]:
    """For each buffer accessed in `stmts`, the window covering every access, as text:
    loops bound inside the block span their range, everything else stays symbolic."""
    per_buf: dict[str, list | None] = {}
    for name, idx in _accesses(stmts):
        if name in per_buf and per_buf[name] is None:
            continue
        dims = []
        for i in idx:
            a = _affine(i, inner)
            if a is None:
                dims = None
                break
            lo, hi, sym = a[0], a[0], {}
            for v, c in a[1].items():
                if v in inner:
                    vlo, vhi = inner[v]
                    lo += min(c * vlo, c * vhi)
                    hi += max(c * vlo, c * vhi)
                else:
                    sym[v] = c
            dims.append((lo, hi, sym))
        if dims is None:
            per_buf[name] = None
            continue
        prev = per_buf.get(name)
        if prev is None:
            per_buf[name] = dims
            continue
        if len(prev) != len(dims) or any(p[2] != d[2] for p, d in zip(prev, dims)):
            per_buf[name] = None
            continue
        per_buf[name] = [(min(p[0], d[0]), max(p[1], d[1]), p[2]) for p, d in zip(prev, dims)]
    out = {}
    for name, dims in per_buf.items():
        if not dims:
            continue
        parts = []
        for lo, hi, sym in dims:
            if lo == hi:
                parts.append(_render(lo, sym))
            else:
                parts.append(f"{_render(lo, sym)}:{_render(hi + 1, sym)}")
        out[name] = f"{name}[{', '.join(parts)}]"
    return out


def _inner_ranges(stmts) -> dict[str, tuple[int, int]] | None:
    out: dict[str, tuple[int, int]] = {}
    for s in _walk(stmts):
        if _is(s, "ForCursor"):
            lo, hi = _const(s.lo()), _const(s.hi())
            if lo is None or hi is None or hi <= lo:
                return None
            out[s.name()] = (lo, hi - 1)
    return out
