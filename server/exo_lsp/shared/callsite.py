"""What is being typed at a position of a schedule script, from the text alone.

Completion and signature help run while the line does not parse yet (an open string, a
missing parenthesis), so this reads the statement under the cursor with a small scanner
instead of ``ast``: the innermost open call, which argument the cursor is in, whether it is
inside a string literal, and the expression before a ``.`` being completed. No Exo here:
the server and the worker both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .positions import col_len, col_to_index

_IDENT = re.compile(r"[A-Za-z_]\w*")
_STMT_START = re.compile(r"^[A-Za-z_][\w.]*\s*(=(?!=)|\()")


@dataclass
class CallSite:
    line: int  # 0-based line of the cursor
    character: int  # column of the cursor
    callee: str | None = None  # the called expression: "divide_loop", "p.find_loop", "c.expand"
    arg_index: int = 0  # positional index of the argument under the cursor
    keyword: str | None = None  # or its keyword
    args: list[str] = field(default_factory=list)  # texts of the arguments before it
    call_start: tuple[int, int] | None = None  # (line, col) of the callee's start
    in_string: bool = False
    string_prefix: str = ""  # the literal's content before the cursor
    string_range: tuple[int, int, int] | None = None  # (line, content start, content end)
    member_of: str | None = None  # `expr` of `expr.na|` being completed
    member_prefix: str = ""
    word_start: int = 0  # column where the word under the cursor starts


def _statement_start(lines: list[str], line: int) -> int:
    """The first line of the statement around `line`: earlier lines are joined while they
    leave a bracket open (counted roughly: strings are skipped)."""
    start = line
    if _STMT_START.match(lines[line]):
        return line
    for k in range(line - 1, max(-1, line - 12), -1):
        depth = 0
        for text in lines[k:line]:
            depth += _depth_change(text)
        if depth > 0:
            start = k
        if _STMT_START.match(lines[k]):
            break  # a script statement at column 0 is never a continuation line
    return start


def _depth_change(text: str) -> int:
    d, quote = 0, None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "([{":
            d += 1
        elif ch in ")]}":
            d -= 1
        i += 1
    return d


def _chain_before(text: str, end: int) -> int:
    """Start index of the expression chain ending at `end` (``p.find_loop("c").expand``):
    names, dots and balanced brackets."""
    i = end
    while i > 0:
        ch = text[i - 1]
        if ch.isalnum() or ch in "_.":
            i -= 1
        elif ch in ")]":
            close, open_ = ch, "(" if ch == ")" else "["
            depth, j, quote = 0, i - 1, None
            while j >= 0:
                c = text[j]
                if quote:
                    if c == quote:
                        quote = None
                elif c in "\"'":
                    quote = c
                elif c == close:
                    depth += 1
                elif c == open_:
                    depth -= 1
                    if depth == 0:
                        break
                j -= 1
            if j < 0:
                return i
            i = j
        else:
            break
    return i


def call_site(text: str, line: int, character: int) -> CallSite:
    lines = text.splitlines() or [""]
    if line >= len(lines):
        lines += [""] * (line - len(lines) + 1)
    cur = lines[line]
    col = min(col_to_index(cur, character), len(cur))
    first = _statement_start(lines, line)
    prefix_lines = lines[first:line] + [cur[:col]]
    prefix = "\n".join(prefix_lines)
    base = sum(len(x) + 1 for x in lines[first:line])  # index of the cursor line's start
    site = CallSite(line, character)

    # scan: strings and brackets; each open paren records its argument boundaries
    stack: list[dict] = []
    quote: str | None = None
    qstart = -1
    i = 0
    while i < len(prefix):
        ch = prefix[i]
        if quote:
            if ch == "\n" and len(quote) == 1:
                quote = None  # an unterminated one-line string ends with its line
            elif ch == "\\":
                i += 2
                continue
            if prefix.startswith(quote, i):
                quote = None
                i += 1
                continue
        elif ch in "\"'":
            q3 = prefix[i : i + 3]
            quote = q3 if q3 in ('"""', "'''") else ch
            qstart = i + len(quote)
            i += len(quote)
            continue
        elif ch == "#":
            nl = prefix.find("\n", i)
            if nl < 0:
                break
            i = nl
            continue
        elif ch in "([{":
            stack.append({"ch": ch, "at": i, "commas": [i + 1]})
        elif ch in ")]}":
            if stack:
                stack.pop()
        elif ch == "," and stack:
            stack[-1]["commas"].append(i + 1)
        i += 1

    if quote is not None:
        site.in_string = True
        site.string_prefix = prefix[qstart:]
        if qstart >= base:  # the literal opened on the cursor line: its content range
            start_col = qstart - base
            end = cur.find(quote[0], col)
            end = len(cur) if end < 0 else end
            site.string_range = (line, col_len(cur[:start_col]), col_len(cur[:end]))
    else:
        m = re.search(r"([A-Za-z_]\w*)?$", prefix)
        word = m.group(1) or "" if m else ""
        site.word_start = col_len(cur[: col - len(word)])
        dot = len(prefix) - len(word) - 1
        if dot >= 0 and prefix[dot] == ".":
            start = _chain_before(prefix, dot)
            recv = prefix[start:dot].strip()
            if recv and not recv[0].isdigit():
                site.member_of = recv
                site.member_prefix = word

    # the innermost open call
    for frame in reversed(stack):
        if frame["ch"] != "(":
            continue
        start = _chain_before(prefix, frame["at"])
        callee = prefix[start : frame["at"]].strip()
        if not callee or not (callee[0].isalpha() or callee[0] == "_"):
            break
        site.callee = callee
        before = prefix[:start]
        site.call_start = (first + before.count("\n"), col_len(before.rsplit("\n", 1)[-1]))
        commas = frame["commas"]
        # arguments before the cursor: only commas of this frame count (nested ones are
        # inside deeper brackets, which closed before the cursor or are still open)
        site.args = [prefix[a : b - 1].strip() for a, b in zip(commas, commas[1:])]
        site.arg_index = len(commas) - 1
        current = prefix[commas[-1] :].lstrip()
        km = re.match(r"([A-Za-z_]\w*)\s*=(?!=)", current)
        if km:
            site.keyword = km.group(1)
        break
    return site


def literal_value(text: str) -> str | None:
    """The value of a plain string literal's text, else None."""
    import ast

    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return v if isinstance(v, str) else None
