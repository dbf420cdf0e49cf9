"""Text of suggestions: the lines inserted into the script, and the Markdown file that
editors without our VS Code view open (kept current while the search runs).

The search writes every call on the variable ``p`` (``worker/search/session.VAR``); the
script may use another name, and a whole schedule inserted where later steps continue
from the same proc goes into a fresh variable so that those steps still run.
"""

from __future__ import annotations

import io
import json
import tokenize

from exo_lsp_protocol import messages as m

SEARCH_VAR = "p"


def rename_var(call: str, old: str, new: str) -> str:
    """`call` with the variable `old` (a name token, not an attribute or keyword) renamed."""
    if old == new or old not in call:
        return call
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(call).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return call
    spans = []
    for i, t in enumerate(toks):
        if t.type != tokenize.NAME or t.string != old or t.start[0] != 1:
            continue
        before = toks[i - 1].string if i else ""
        after = toks[i + 1].string if i + 1 < len(toks) else ""
        if before == "." or after == "=":
            continue  # an attribute, or a keyword argument
        spans.append((t.start[1], t.end[1]))
    for a, b in reversed(spans):
        call = call[:a] + new + call[b:]
    return call


def step_lines(calls: list[str], var: str, indent: str) -> str:
    """``var = call`` per call of one action, each on its own line."""
    return "".join(f"{indent}{var} = {rename_var(c, SEARCH_VAR, var)}\n" for c in calls)


def schedule_lines(s, var: str, fresh: str | None, indent: str, line: int, rename_to: str | None = None) -> str:
    """A whole schedule from the proc in `var`: into `var` itself, or (where the script
    goes on from `var`) into `fresh`, which starts from `var`. There the proc is first
    renamed `rename_to` (when given): it is told apart from the script's own proc (views,
    Compile & Simulate at a line of it), and the name does not change the code."""
    target = fresh or var
    speed = f", {s.speedup:.2f}x over the algorithm" if s.speedup else ""
    out = [f"{indent}# Suggested by exo-lsp search from line {line + 1}: {s.cycles:,} cycles{speed}.\n"]
    src = var
    if fresh and rename_to:
        out.append(f'{indent}{target} = rename({src}, "{rename_to}")\n')
        src = target
    for c in s.calls:
        out.append(f"{indent}{target} = {rename_var(c, SEARCH_VAR, src)}\n")
        src = target
    return "".join(out)


def _cycles(c: int | None, speedup: float | None) -> str:
    if c is None:
        return "none correct yet"
    return f"{c:,} cycles" + (f", {speedup:.2f}x" if speedup else "")


def markdown(p: m.SuggestionsParams, script: str) -> str:
    state = {"running": "searching…", "done": "done", "cancelled": "cancelled", "stale": "STALE",
             "failed": "failed"}[p.state]
    out = [
        f"# Suggestions for {script}, after line {p.line + 1} (step {p.step}, `{p.proc}`)",
        "",
        f"**{state}** · {p.evaluations} of {p.budget} evaluations · {p.seconds:.0f} s"
        + (f" · {p.cached} from the cache of earlier searches" if p.cached else "")
        + f" · script version {p.version}",
    ]
    if p.message:
        out += ["", f"> {p.message}"]
    if p.state == "stale":
        out += ["", "> These results are of an older version of the script: run *Suggest Schedule* again."]
    if p.start_cycles is not None:
        out += ["", f"The proc at this step: {_cycles(p.start_cycles, p.start_speedup)} (over the algorithm)."]
    out += ["", "## Next steps", ""]
    if p.steps:
        out += ["| # | next step | best complete schedule through it | correct | schedules tried |", "|---|---|---|---|---|"]
        for s in p.steps:
            label = s.label.replace("|", "\\|")
            out.append(f"| {s.rank + 1} | `{label}` | {_cycles(s.cycles, s.speedup)} | "
                       f"{'bit-exact' if s.correct else '–'} | {s.evaluations} |")
    else:
        out.append("None yet.")
    out += ["", "## Best whole schedules", ""]
    if not p.schedules:
        out.append("None simulated correctly yet.")
    for s in p.schedules:
        out += [f"### {s.rank + 1}. {_cycles(s.cycles, s.speedup)} over the algorithm, bit-exact", "",
                "Actions: " + "; ".join(f"`{x}`" for x in s.labels), "", "```python", s.text.rstrip("\n"), "```", ""]
    arg = json.dumps({"uri": p.uri, "what": "schedule", "index": 0})
    out += ["", "---", f"Insert with the server command `exo.insertSuggestion` {arg} "
            "(`\"what\": \"step\"` for a next step; `index` is the rank - 1)."]
    return "\n".join(out) + "\n"
