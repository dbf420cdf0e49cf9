"""Exo internals that completion and the "bind what it created" action need, pinned to
exo-lang 1.0.0 like ``adapter`` (kept apart from it while that module is being split).

* ``statements``: every statement of a proc with the pattern string that selects it
  (``for io in _:_``, ``acc : _``, ``out[_] += _``, ``rvm_mld(_)``, ``#N`` when the
  pattern matches several), checked against Exo's own matcher so that an offered pattern
  always selects the statement it is shown with.
* ``windows``: the windows ``stage_mem`` can stage for a block, from the accesses in it.
* ``loop_bounds`` / ``const_value``: constant loop bounds (divisors for ``divide_loop``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exo.core import LoopIR_pprint as _pprint
from exo.core.LoopIR import LoopIR

from ...shared.lru import LRU
from . import cursors, listings, patterns


@dataclass
class Stmt:
    path: tuple  # statement path, as in listings.proc_listing
    kind: str  # loop, if, alloc, assign, reduce, call, pass, window
    name: str  # loop iterator, buffer, called proc ("" for ifs)
    pattern: str  # selects exactly this statement (with #N when needed)
    text: str  # its line as the listing prints it
    line: int  # 0-based line in the listing
    node: object = field(repr=False)


def _base_pattern(s) -> tuple[str, str, str] | None:
    """(kind, name, pattern without #N) for a statement."""
    if isinstance(s, LoopIR.For):
        return "loop", str(s.iter), f"for {s.iter} in _:_"
    if isinstance(s, LoopIR.Alloc):
        return "alloc", str(s.name), f"{s.name} : _"
    if isinstance(s, LoopIR.Assign):
        return "assign", str(s.name), f"{s.name}[_] = _" if s.idx else f"{s.name} = _"
    if isinstance(s, LoopIR.Reduce):
        return "reduce", str(s.name), f"{s.name}[_] += _" if s.idx else f"{s.name} += _"
    if isinstance(s, LoopIR.Call):
        return "call", s.f.name, f"{s.f.name}(_)"
    if isinstance(s, LoopIR.If):
        return "if", "", "if _:_"
    return None


# id(proc) -> (proc, {kind: [Stmt]}): the proc is kept in the value so its id stays its own
_STMTS = LRU(64)


def statements(p, kinds: set[str] | None = None, namespace: dict | None = None) -> list[Stmt]:
    """Statements of `p` (in listing order) of the given kinds, each with its pattern."""
    got = _STMTS.get_or(id(p), lambda: (p, {}))[1]
    lst = None
    out: list[Stmt] = []
    for kind in sorted(kinds or {"loop", "if", "alloc", "assign", "reduce", "call"}):
        if kind not in got:
            lst = lst or listings.proc_listing(p)
            got[kind] = _statements_of_kind(p, lst, kind, namespace)
        out.extend(got[kind])
    out.sort(key=lambda s: s.line)
    return out


def _statements_of_kind(p, lst, kind: str, namespace) -> list[Stmt]:
    by_pattern: dict[str, list[tuple]] = {}
    for path in sorted(lst.nodes, key=lambda q: lst.spans[q][0]):
        base = _base_pattern(lst.nodes[path])
        if base is not None and base[0] == kind:
            by_pattern.setdefault(base[2], []).append((path, base))
    out = []
    for pattern, nodes in by_pattern.items():
        try:
            order = [stmt_key(c) for c in patterns.pattern_matches(p, pattern, namespace)]
        except Exception:  # a pattern Exo cannot parse (odd names): offer nothing for it
            continue
        for path, (k, name, _) in nodes:
            key = tuple(tuple(x) for x in path)
            if key not in order:
                continue  # Exo would select something else: never offer it for this node
            n = order.index(key)
            full = pattern if len(order) == 1 else f"{pattern} #{n}"
            line = lst.spans[path][0]
            out.append(Stmt(path, k, name, full, lst.lines[line].strip(), line, lst.nodes[path]))
    return out


def stmt_key(c) -> tuple:
    """A matched statement's path as listing paths are: the matcher returns one-statement
    blocks, whose last step is (attr, start, stop)."""
    path = cursors.node_path(c)
    if path and len(path[-1]) == 3 and path[-1][2] == path[-1][1] + 1:
        path = path[:-1] + ((path[-1][0], path[-1][1]),)
    return path


def cursor_of(p, st: Stmt):
    return cursors.cursor_at_path(p, [list(x) for x in st.path])


# --------------------------------------------------------------------------- constants


def const_value(e) -> int | None:
    if isinstance(e, LoopIR.Const) and isinstance(e.val, int):
        return e.val
    return None


def loop_bounds(loop_cursor) -> tuple[int, int] | None:
    """(lo, hi) of a loop whose bounds are constants."""
    node = loop_cursor._impl._node
    if not isinstance(node, LoopIR.For):
        return None
    lo, hi = const_value(node.lo), const_value(node.hi)
    return None if lo is None or hi is None else (lo, hi)


def is_loop(c) -> bool:
    return isinstance(getattr(getattr(c, "_impl", None), "_node", None), LoopIR.For)


def sole_inner_loop(s) -> object | None:
    """The loop that is the whole body of loop `s` (what reorder_loops needs), or None."""
    if isinstance(s, LoopIR.For) and len(s.body) == 1 and isinstance(s.body[0], LoopIR.For):
        return s.body[0]
    return None


# --------------------------------------------------------------------------- windows


def _affine(e, env: set[str]) -> dict[str, int] | None:
    """An index expression as {name: coefficient, "": constant}; None if not affine."""
    if isinstance(e, LoopIR.Const) and isinstance(e.val, int):
        return {"": e.val}
    if isinstance(e, LoopIR.Read) and not e.idx:
        return {str(e.name): 1}
    if isinstance(e, LoopIR.USub):
        a = _affine(e.arg, env)
        return None if a is None else {k: -v for k, v in a.items()}
    if isinstance(e, LoopIR.BinOp) and e.op in ("+", "-", "*"):
        a, b = _affine(e.lhs, env), _affine(e.rhs, env)
        if a is None or b is None:
            return None
        if e.op == "*":
            if set(a) == {""}:
                return {k: v * a[""] for k, v in b.items()}
            if set(b) == {""}:
                return {k: v * b[""] for k, v in a.items()}
            return None
        sign = 1 if e.op == "+" else -1
        out = dict(a)
        for k, v in b.items():
            out[k] = out.get(k, 0) + sign * v
        return out
    return None


def _print_affine(terms: dict[str, int]) -> str:
    """``4 * ioi + 16 * ioo + 2``: names in the order met, constant last (Exo's order)."""
    parts = []
    for k, v in terms.items():
        if k == "" or v == 0:
            continue
        term = k if abs(v) == 1 else f"{abs(v)} * {k}"
        parts.append(("- " if v < 0 else "+ ") + term)
    c = terms.get("", 0)
    if c:
        parts.append(("- " if c < 0 else "+ ") + str(abs(c)))
    if not parts:
        return "0"
    text = " ".join(parts)
    return text[2:] if text.startswith("+ ") else "-" + text[2:]


@dataclass
class Window:
    buffer: str
    text: str  # e.g. out[4 * io:4 * io + 4, j]
    accesses: int  # how many accesses in the block it covers
    writes: bool


def windows(block_cursor) -> list[Window]:
    """Per buffer accessed in the block: the smallest window covering its accesses, as
    affine bounds in the loops around the block (loops inside it are ranged over)."""
    stmts = [c._impl._node for c in _block_stmts(block_cursor)]
    found: dict[str, list] = {}  # buffer -> [(idx exprs, inner ranges, is write)]

    def exprs(e, ranges, out):
        if isinstance(e, LoopIR.Read) and e.idx:
            out.append((str(e.name), e.idx, dict(ranges), False))
        for attr in ("idx", "args"):
            for sub in getattr(e, attr, None) or []:
                if isinstance(sub, LoopIR.expr):
                    exprs(sub, ranges, out)
        for attr in ("lhs", "rhs", "arg", "cond"):
            sub = getattr(e, attr, None)
            if isinstance(sub, LoopIR.expr):
                exprs(sub, ranges, out)

    def walk(ss, ranges, out):
        for s in ss:
            if isinstance(s, LoopIR.For):
                lo, hi = const_value(s.lo), const_value(s.hi)
                inner = dict(ranges)
                inner[str(s.iter)] = (lo, hi) if lo is not None and hi is not None else None
                walk(s.body, inner, out)
            elif isinstance(s, LoopIR.If):
                exprs(s.cond, ranges, out)
                walk(s.body, ranges, out)
                walk(s.orelse, ranges, out)
            elif isinstance(s, (LoopIR.Assign, LoopIR.Reduce)):
                if s.idx:
                    out.append((str(s.name), s.idx, dict(ranges), True))
                exprs(s.rhs, ranges, out)
                for i in s.idx:
                    exprs(i, ranges, out)

    accesses: list = []
    walk(stmts, {}, accesses)
    for name, idx, ranges, is_write in accesses:
        found.setdefault(name, []).append((idx, ranges, is_write))
    out = []
    for name, uses in found.items():
        dims = None
        ok = True
        for idx, ranges, _ in uses:
            spans = []
            for e in idx:
                a = _affine(e, set(ranges))
                if a is None:
                    ok = False
                    break
                lo = {k: v for k, v in a.items() if k not in ranges}
                lo_c, hi_c = lo.get("", 0), lo.get("", 0)
                for k, v in a.items():
                    if k in ranges:
                        r = ranges[k]
                        if r is None:
                            ok = False
                            break
                        lo_c += min(v * r[0], v * (r[1] - 1))
                        hi_c += max(v * r[0], v * (r[1] - 1))
                if not ok:
                    break
                base = {k: v for k, v in lo.items() if k != ""}
                spans.append((base, lo_c, hi_c + 1, any(k in ranges for k in a)))
            if not ok:
                break
            if dims is None:
                dims = spans
            elif len(dims) != len(spans) or any(d[0] != s[0] for d, s in zip(dims, spans)):
                ok = False  # accesses at different outer offsets: no one affine window
                break
            else:
                dims = [(d[0], min(d[1], s[1]), max(d[2], s[2]), d[3] or s[3]) for d, s in zip(dims, spans)]
        if not ok or not dims:
            continue
        parts = []
        for base, lo_c, hi_c, ranged in dims:
            lo_text = _print_affine({**base, "": lo_c})
            if not ranged and hi_c == lo_c + 1:
                parts.append(lo_text)
            else:
                parts.append(f"{lo_text}:{_print_affine({**base, '': hi_c})}")
        out.append(Window(name, f"{name}[{', '.join(parts)}]", len(uses), any(w for _, _, w in uses)))
    return out


def _block_stmts(c) -> list:
    """The statement cursors of a block, statement or loop cursor."""
    if hasattr(c, "__iter__") and cursors.cursor_kind(c) == "block":
        return list(c)
    return [c]


def print_expr(e) -> str:
    return _pprint._print_expr(e, _pprint.PrintEnv())
