"""Turns what went wrong in a run into problems placed where the user can act on them."""

from __future__ import annotations

import linecache
import os
import re
import traceback
from typing import TYPE_CHECKING

from .exo import patterns, procs
from ..shared.positions import LineIndex, col_len
from ..shared.trace import Location, Position, Problem, Range, Related, Step, view_uri

if TYPE_CHECKING:
    from .tracer import ProcRegistry


class ProblemBuilder:
    def __init__(self, path: str, lines: LineIndex, registry: "ProcRegistry"):
        self.path = path
        self.lines = lines
        self.registry = registry
        self.problems: list[Problem] = []

    def add(self, path, rng, severity, message, code, related=(), step=None, fixes=()) -> None:
        self.problems.append(Problem(path, rng, severity, message, code, list(related), step, list(fixes)))

    # ------------------------------------------------------------ errors

    def syntax_error(self, exc: SyntaxError) -> None:
        line = (exc.lineno or 1) - 1
        text = self.lines.line(line)
        start = max((exc.offset or 1) - 1, 0)
        end = (exc.end_offset or 0) - 1 if exc.end_lineno in (None, exc.lineno) else len(text)
        if end <= start:
            end = len(text)
        rng = Range(Position(line, col_len(text[:start])), Position(line, col_len(text[:end])))
        self.add(self.path, rng, "error", f"SyntaxError: {exc.msg}", "syntax-error")

    def exception(self, exc: BaseException, step: Step | None) -> None:
        if step is not None and step.proc_in is not None:
            self._step_failure(exc, step)
            return
        in_proc_body = self._proc_body_location(exc)
        if in_proc_body is not None:
            path, rng = in_proc_body
            msg = _strip_location_prefix(str(exc))
            self.add(path, rng, "error", f"{type(exc).__name__} in @proc: {msg}", "proc-error")
            if path != self.path:
                frame_rng = self._deepest_script_range(exc)
                if frame_rng is not None:
                    self.add(self.path, frame_rng, "error", f"{type(exc).__name__} in @proc: {msg}", "proc-error")
            return
        rng = self._deepest_script_range(exc) or self.lines.line_range(0)
        if isinstance(exc, SystemExit):
            message = f"the script called sys.exit({exc.code!r}); the rest of it did not run"
            code = "script-exit"
        elif isinstance(exc, MemoryError):
            message = "the script ran out of memory (the worker's memory limit); the rest did not run"
            code = "out-of-memory"
        elif isinstance(exc, RecursionError):
            message = f"RecursionError: {exc}"
            code = "python-error"
        else:
            message = _one_line_exc(exc)
            code = "python-error"
        self.add(self.path, rng, "error", message, code)

    def _step_failure(self, exc: BaseException, step: Step) -> None:
        detail = self._child_failure(step, exc)
        failing = detail or step
        rt_param = self._failed_param(failing)
        arg = next((a for a in step.arguments if a.name == rt_param), None) if detail is None else None
        related = self._related(exc)
        message = patterns.clean_message(str(exc), failing.op) or type(exc).__name__
        if message.startswith(f"{failing.op}: "):
            message = message[len(failing.op) + 2 :]
        op_label = step.op if detail is None else f"{step.op} → {failing.op}"
        if patterns.is_pattern_miss(exc) and arg is not None and arg.range is not None and arg.kind == "pattern":
            proc = self.registry.get(step.proc_in)
            pattern = _pattern_of(arg.text)
            msg = f"pattern {pattern!r} matched nothing in `{step.proc_name}`"
            hint = near_misses(proc, pattern) if proc is not None else ""
            if hint:
                msg += f": {hint}"
            related.append(
                Related(
                    Location(view_uri("exo-proc", self.path, step.proc_name, step.index), Range(Position(0, 0), Position(0, 0))),
                    f"`{step.proc_name}` as it was before this step",
                )
            )
            fixes = [_requote(arg.text, p) for p in pattern_fixes(proc, pattern)] if proc is not None else []
            self.add(self.path, arg.range, "error", msg, "pattern-no-match", related, step.index, fixes)
            return
        if arg is not None and arg.range is not None:
            self.add(self.path, arg.range, "error", f"{op_label}: {message}", "bad-argument", related, step.index)
            return
        named = _argument_named_by(message, step.arguments) if detail is None else None
        where = named.range if named is not None else step.range
        self.add(self.path, where, "error", f"{op_label} failed: {message}", "op-failed", related, step.index)

    def _child_failure(self, step: Step, exc: BaseException) -> Step | None:
        # The helper's own step does not know which primitive failed; the trace does.
        for child in self._children.get(step.index, []):
            if child.error is not None and self._exceptions.get(child.index) is exc:
                return child
        return None

    def bind_runtime(self, steps: list[Step], runtime) -> None:
        self._children: dict[int, list[Step]] = {}
        for s in steps:
            if s.parent is not None:
                self._children.setdefault(s.parent, []).append(s)
        self._exceptions = {i: rt.exception for i, rt in runtime.items()}
        self._failed_params = {i: rt.failed_param for i, rt in runtime.items()}

    def _failed_param(self, step: Step) -> str | None:
        return self._failed_params.get(step.index)

    def _related(self, exc: BaseException) -> list[Related]:
        out = []
        for filename, line, col in patterns.locations_in_message(str(exc)):
            lines = _lines_of(filename)
            if lines is None:
                continue
            pos = lines.position(line, col)
            end = Position(pos.line, col_len(lines.line(pos.line)))
            out.append(Related(Location(os.path.abspath(filename), Range(pos, end)), "named by Exo"))
        return out

    def _proc_body_location(self, exc: BaseException) -> tuple[str, Range] | None:
        m = re.match(r"\s*(?P<file>[^\s:][^:]*\.py):(?P<line>\d+):(?P<col>\d+)", str(exc))
        if not m:
            return None
        filename = os.path.abspath(m["file"])
        lines = self.lines if filename == self.path else _lines_of(filename)
        if lines is None:
            return None
        line, col = int(m["line"]), int(m["col"])
        pos = lines.position(line, col)
        text = lines.line(pos.line)
        end_char = _token_end(text, pos.character)
        return filename, Range(pos, Position(pos.line, end_char))

    def _deepest_script_range(self, exc: BaseException) -> Range | None:
        tb = exc.__traceback__
        best = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.path:
                best = tb
            tb = tb.tb_next
        if best is None:
            return None
        try:
            pos = list(best.tb_frame.f_code.co_positions())[best.tb_lasti // 2]
        except (IndexError, AttributeError):
            pos = None
        if pos and None not in pos:
            ln, end_ln, col, end_col = pos
            return self.lines.range(ln, col, end_ln, end_col)
        return self.lines.line_range(best.tb_lineno - 1)

    # ------------------------------------------------------------ warnings

    def not_memoised(self, where: list[tuple[Range, str]]) -> None:
        """The memo's explicit decisions not to key a value: a hint, once per position."""
        seen = set()
        for rng, why in where:
            if (rng, why) not in seen:
                seen.add((rng, why))
                self.add(self.path, rng, "hint", why, "not-memoised")

    def no_op_warnings(self, steps: list[Step], runtime: dict | None = None) -> None:
        """One warning per source position whose every run changed nothing. A call in a
        function the script runs several times (or in a loop) is one position: it is
        reported once, and only if it was a no-op each time; primitives that library
        helpers call are not the user's to fix, so only the helper call is judged."""
        runtime = runtime or {}
        at: dict[tuple, list[Step]] = {}
        for s in steps:
            if s.parent is None:
                r = s.range
                at.setdefault((r.start.line, r.start.character, r.end.line, r.end.character), []).append(s)
        for group in at.values():
            if not all(s.ok and s.changed is False for s in group):
                continue
            s = group[0]
            rt = runtime.get(s.index)
            name = (rt.called_as if rt is not None else None) or s.op
            what = "replaced nothing" if s.op.startswith("replace") else "changed nothing"
            why = _memory_obstacles(steps, s)
            self.add(
                self.path,
                s.range,
                "warning",
                f"`{name}` {what}: the proc is the same before and after this step{why}{_runs(group, steps, runtime)}",
                "no-op",
                step=s.index,
            )


def _runs(group: list[Step], steps: list[Step], runtime: dict) -> str:
    """" (in 6 of 6 calls of `schedule_tile` from line 120)" for a position that ran more than once."""
    if len(group) < 2:
        return ""
    invs = [runtime[s.index].invocation for s in group if s.index in runtime and runtime[s.index].invocation]
    fn = invs[0][0] if invs else "<module>"
    if fn == "<module>":
        return f" (each of the {len(group)} times this line ran)"
    # calls of the function: its distinct frames among the steps written in it
    code = runtime[group[0].index].frame.f_code if runtime[group[0].index].frame is not None else None
    mine = {id(runtime[s.index].frame) for s in group}
    calls = {id(rt.frame) for i, rt in runtime.items() if rt.frame is not None and rt.frame.f_code is code
             and steps[i].parent is None}
    lines = sorted({line for _, line in invs})
    where = ", ".join(str(ln + 1) for ln in lines[:6]) + (", …" if len(lines) > 6 else "")
    return f" (in {len(mine)} of {len(calls)} calls of `{fn}` from line{'s' if len(lines) > 1 else ''} {where})"


def _memory_obstacles(steps: list[Step], parent: Step) -> str:
    """Exo's replace_all skips blocks whose memories differ from the instruction's, silently."""
    blocked = [
        c for c in steps if c.parent == parent.index and not c.ok and "memory type mismatch" in (c.error or "")
    ]
    if not blocked:
        return ""
    where = ", ".join(sorted({f"`{c.targets[0].text}`" for c in blocked if c.targets}))
    return (
        f"; the body matches at {where} but the memories differ from the instruction's "
        "(set_memory the buffers first)"
    )


def near_misses(proc, pattern: str) -> str:
    """"no loop `q`; loops in `conv1d` at this step: i, j, c, r" and the like."""
    kind, name = patterns.pattern_kind(pattern)
    o = procs.outline(proc)
    pname = procs.proc_name(proc)
    selector = re.search(r"#\s*(\d+)\s*$", pattern)
    if selector:
        n = patterns.count_matches(proc, pattern)
        if n:
            return f"it matches {n} place{'s' if n != 1 else ''} (#0..#{n - 1}), so #{selector[1]} does not exist"
    table = {
        "loop": ("loop", "loops", o.loops),
        "alloc": ("allocation", "allocations", o.allocs),
        "assign": ("assignment to", "buffers assigned", o.assigned),
        "reduce": ("reduction into", "buffers assigned", o.assigned),
        "call": ("call to", "calls", o.calls),
    }
    if kind in table and name:
        what, plural, names = table[kind]
        present = ", ".join(names) if names else "none"
        if kind in ("assign", "reduce") and name in names:
            return f"`{name}` is assigned in `{pname}` at this step, but not in this form; check the indices and the right-hand side"
        return f"no {what} `{name}`; {plural} in `{pname}` at this step: {present}"
    return f"loops in `{pname}` at this step: {', '.join(o.loops) or 'none'}"


def pattern_fixes(proc, pattern: str, limit: int = 8) -> list[str]:
    """Patterns that may be what was meant: the missing name replaced by each name of the
    same kind in the proc, or an out-of-range `#k` replaced by each that exists."""
    selector = re.search(r"#\s*(\d+)\s*$", pattern)
    if selector:
        n = patterns.count_matches(proc, pattern)
        if n:
            return [pattern[: selector.start()] + f"#{k}" for k in range(min(n, limit))]
    kind, name = patterns.pattern_kind(pattern)
    o = procs.outline(proc)
    names = {"loop": o.loops, "alloc": o.allocs, "assign": o.assigned, "reduce": o.assigned, "call": o.calls}.get(kind, [])
    if not name:
        return []
    word = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
    out = []
    for other in dict.fromkeys(names):
        fixed = word.sub(other, pattern, count=1)
        if other != name and fixed not in out:
            out.append(fixed)
    return out[:limit]


def _requote(literal: str, value: str) -> str:
    """`value` as a string literal in the quotes the user wrote."""
    m = re.match(r"^([rRuU]?)('|\")", literal.strip())
    quote = m[2] if m else '"'
    if quote in value or "\\" in value:
        return repr(value)
    return f"{m[1] if m else ''}{quote}{value}{quote}"


def _argument_named_by(message: str, arguments) -> object | None:
    """The one argument whose literal value the error message names (`5` in "cannot
    perfectly divide '16' by 5"), or None when none or several are."""
    found = []
    for a in arguments:
        if a.range is None or a.kind != "value":
            continue
        value = _pattern_of(a.text)
        if not re.fullmatch(r"-?\d+(\.\d+)?|[A-Za-z_]\w*", value or "") or value in ("True", "False", "None"):
            continue
        if re.search(rf"(?<![\w.']){re.escape(value)}(?![\w.'])", message):
            found.append(a)
    return found[0] if len(found) == 1 else None


def _pattern_of(text: str) -> str:
    try:
        import ast

        value = ast.literal_eval(text)
        if isinstance(value, str):
            return value
    except (ValueError, SyntaxError):
        pass
    return text


def _lines_of(filename: str) -> LineIndex | None:
    lines = linecache.getlines(filename)
    return LineIndex("".join(lines)) if lines else None


def _token_end(text: str, start: int) -> int:
    m = re.match(r"[A-Za-z_0-9.]+", text[start:])
    if m and m.end() > 0:
        return start + m.end()
    return col_len(text)


def _strip_location_prefix(msg: str) -> str:
    return re.sub(r"^\s*[^\s:][^:]*\.py:\d+:\d+:\s*", "", msg.strip())


def _one_line_exc(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text
