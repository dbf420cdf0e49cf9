"""Column conversions. Python's AST, code positions and Exo's srcinfo count UTF-8 bytes;
LSP counts UTF-16 code units."""

from __future__ import annotations

from .trace import Position, Range


class LineIndex:
    """Lines of one text, with conversions from byte columns to UTF-16 columns."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def line(self, lineno0: int) -> str:
        return self.lines[lineno0] if 0 <= lineno0 < len(self.lines) else ""

    def utf16_col(self, lineno0: int, byte_col: int) -> int:
        line = self.line(lineno0)
        if line.isascii():
            return min(byte_col, len(line))
        prefix = line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore")
        return utf16_len(prefix)

    def position(self, lineno1: int, byte_col: int) -> Position:
        """From a 1-based line and a UTF-8 byte column."""
        return Position(lineno1 - 1, self.utf16_col(lineno1 - 1, byte_col))

    def range(self, lineno1: int, col: int, end_lineno1: int | None, end_col: int | None) -> Range:
        start = self.position(lineno1, col)
        if end_lineno1 is None or end_col is None:
            end = Position(start.line, utf16_len(self.line(start.line)))
        else:
            end = self.position(end_lineno1, end_col)
        return Range(start, end)

    def line_range(self, lineno0: int) -> Range:
        """A whole line without its indentation."""
        text = self.line(lineno0)
        indent = len(text) - len(text.lstrip())
        return Range(Position(lineno0, indent), Position(lineno0, utf16_len(text)))

    def text_of(self, r: Range) -> str:
        if r.start.line == r.end.line:
            return utf16_slice(self.line(r.start.line), r.start.character, r.end.character)
        parts = [utf16_slice(self.line(r.start.line), r.start.character, None)]
        parts += [self.line(n) for n in range(r.start.line + 1, r.end.line)]
        parts.append(utf16_slice(self.line(r.end.line), 0, r.end.character))
        return "\n".join(parts)


def utf16_len(s: str) -> int:
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def utf16_slice(s: str, start: int, end: int | None) -> str:
    if s.isascii():
        return s[start:end]
    raw = s.encode("utf-16-le")
    return raw[2 * start : None if end is None else 2 * end].decode("utf-16-le", errors="ignore")


def utf16_to_index(s: str, col: int) -> int:
    """Python string index of a UTF-16 column in `s`."""
    if s.isascii():
        return min(col, len(s))
    units = 0
    for i, ch in enumerate(s):
        if units >= col:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(s)


MAX_DIFF_LINES = 4000  # lines between the first and the last change that are diffed
MAX_FOLLOW_CHARS = 8_000_000  # beyond this, documents are not diffed at all


def line_moves(old: str, new: str) -> dict[int, int] | None:
    """1-based old line -> its new line, for the lines an edit kept but moved (lines it
    changed in place keep their place: a replaced block of the same size maps line by line).
    None when the edit is too large to follow (the caller must not trust old positions).

    Lines before the first change and after the last are matched directly (linear); only
    the span between is diffed, and only up to MAX_DIFF_LINES (difflib is quadratic on
    repeated lines)."""
    import difflib

    if len(old) > MAX_FOLLOW_CHARS or len(new) > MAX_FOLLOW_CHARS:
        return None
    a, b = old.splitlines(), new.splitlines()
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    moves: dict[int, int] = {}
    shift = len(b) - len(a)
    if shift:
        for k in range(len(a) - tail, len(a)):
            moves[k + 1] = k + shift + 1
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    if not mid_a or not mid_b:
        return moves
    if len(mid_a) + len(mid_b) > MAX_DIFF_LINES:
        return None
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, mid_a, mid_b, autojunk=False).get_opcodes():
        if (tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1)) and i1 != j1:
            for k in range(i2 - i1):
                moves[head + i1 + k + 1] = head + j1 + k + 1
    return moves
