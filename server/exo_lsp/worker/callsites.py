"""Where a scheduling call's arguments were written, beyond the call itself: the name the
script called the op by, and the call sites up the script's stack that passed an argument
in through the user's own helper functions."""

from __future__ import annotations

import ast

from ..shared.trace import Range


def called_name(node: ast.Call | None) -> str | None:
    """``dce`` for ``dce(p)`` (the stdlib's closure is named ``rewrite``),
    ``repeat(call_eqv)`` for ``repeat(call_eqv)(p, ...)``."""
    if node is None:
        return None
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    try:
        return ast.unparse(f)
    except Exception:
        return None


def passed_in(run, frame, node) -> list[Range]:
    """Where an argument written as a parameter of the script function it is in
    (``pattern`` in ``def do_fission(pattern, n): ... find(pattern)``) came from: the
    argument of each call up the script's stack that passed it on, so that the string at
    the call site resolves too. `run` is the tracer's script run (its lines and frames)."""
    out: list[Range] = []
    if isinstance(node, ast.JoinedStr):  # f"{buffer} = _": where `buffer` came from
        for part in node.values:
            if isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name):
                out.extend(passed_in(run, frame, part.value))
        return out
    while isinstance(node, ast.Name) and frame is not None:
        code = frame.f_code
        params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        caller = frame.f_back
        if node.id not in params or caller is None or not run._in_script(caller):
            break
        call = run._call_site(caller).node
        if call is None or not (isinstance(call.func, ast.Name) and call.func.id == code.co_name):
            break  # not a plain call of this function (a method, a lambda): leave it
        i = params.index(node.id)
        passed = next((kw.value for kw in call.keywords if kw.arg == node.id), None)
        if passed is None and i < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: i + 1]):
            passed = call.args[i]
        if passed is None:
            break
        out.append(run.lines.range(passed.lineno, passed.col_offset, passed.end_lineno, passed.end_col_offset))
        node, frame = passed, caller
    return out
