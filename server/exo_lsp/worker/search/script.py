"""The schedule a search found, as a standalone script in the user's style: their script up
to where the search started (imports, the algorithm, the steps before), then one line per
step on ``p`` with the pattern strings the steps were applied with."""

from __future__ import annotations

import ast

from .session import VAR, Session


def _stmt_end(tree: ast.Module, line: int) -> tuple[int, str | None]:
    """The last line of the top-level statement holding `line` (1-based) and the name it
    assigns, if it assigns one."""
    for node in tree.body:
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            name = None
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
            return node.end_lineno or node.lineno, name
    return line, None


def _first_step_line(tree: ast.Module, session: Session) -> int:
    steps = [s for s in session.state.trace.steps if s.parent is None]
    if not steps:
        return len(session.spec.text.splitlines()) + 1
    first = min(s.line for s in steps) + 1  # Step.line is 0-based
    for node in tree.body:  # the top-level statement the first step is part of
        if node.lineno <= first <= (node.end_lineno or node.lineno):
            return node.lineno
    return first


def render(session: Session, calls: tuple[str, ...], *, cycles: int | None, speedup: float | None,
           evaluations: int, seed: int) -> str:
    text = session.spec.text
    lines = text.splitlines()
    tree = ast.parse(text)
    spec = session.spec
    out: list[str]
    head: list[str] = []
    if spec.step is None:
        cut = _first_step_line(tree, session) - 1
        out = lines[:cut]
        alg_var = next((k for k, v in session.state.namespace.items() if v is session.start), session.start.name())
        new_name = f"{session.start.name()}_searched"
        if "rename" not in session.scope.namespace:
            head.append("from exo.stdlib.scheduling import *")
        head.append(f'{VAR} = rename({alg_var}, "{new_name}")')
    else:
        step = session.state.trace.steps[spec.step]
        end, var = _stmt_end(tree, step.line + 1)
        out = lines[:end]
        new_name = None
        if var != VAR:
            head.append(f"{VAR} = {var}" if var else f"# the search started after step {spec.step} (line {step.line + 1})")
    while out and not out[-1].strip():
        out.pop()
    found = f"{cycles:,} cycles, {speedup:.2f}x over the algorithm" if cycles is not None else "no correct schedule"
    out += ["", "", f"# Found by `exo-lsp search` (seed {seed}, {evaluations} evaluations): {found}."]
    out += head
    out += [f"{VAR} = {c}" for c in calls]
    if new_name:
        out.append(f"{new_name} = {VAR}")
    return "\n".join(out) + "\n"
