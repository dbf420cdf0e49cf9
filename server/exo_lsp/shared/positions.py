"""Column conversions. Python's AST, code positions and Exo's srcinfo count UTF-8 bytes;
LSP clients count in the position encoding negotiated at initialize (UTF-16 unless the
client offers UTF-8 or UTF-32). Every column in a trace, and every column the server sends
or reads, is in that one unit: the process that serves a client sets it once
(``use_encoding``) and the column helpers below count in it.
"""

from __future__ import annotations

from .trace import Position, Range

ENCODINGS = ("utf-8", "utf-16", "utf-32")
_unit = "utf-16"


def use_encoding(encoding: str) -> None:
    """Count columns in `encoding` (an LSP PositionEncodingKind) from now on."""
    global _unit
    encoding = getattr(encoding, "value", encoding)  # lsprotocol's PositionEncodingKind
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown position encoding {encoding!r}")
    _unit = encoding


def encoding() -> str:
    return _unit


class LineIndex:
    """Lines of one text, with conversions from byte columns to client columns."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def line(self, lineno0: int) -> str:
        return self.lines[lineno0] if 0 <= lineno0 < len(self.lines) else ""

    def client_col(self, lineno0: int, byte_col: int) -> int:
        line = self.line(lineno0)
        if line.isascii():
            return min(byte_col, len(line))
        prefix = line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore")
        return col_len(prefix)

    def position(self, lineno1: int, byte_col: int) -> Position:
        """From a 1-based line and a UTF-8 byte column."""
        return Position(lineno1 - 1, self.client_col(lineno1 - 1, byte_col))

    def range(self, lineno1: int, col: int, end_lineno1: int | None, end_col: int | None) -> Range:
        start = self.position(lineno1, col)
        if end_lineno1 is None or end_col is None:
            end = Position(start.line, col_len(self.line(start.line)))
        else:
            end = self.position(end_lineno1, end_col)
        return Range(start, end)

    def line_range(self, lineno0: int) -> Range:
        """A whole line without its indentation."""
        text = self.line(lineno0)
        indent = len(text) - len(text.lstrip())
        return Range(Position(lineno0, indent), Position(lineno0, col_len(text)))

    def text_of(self, r: Range) -> str:
        if r.start.line == r.end.line:
            return col_slice(self.line(r.start.line), r.start.character, r.end.character)
        parts = [col_slice(self.line(r.start.line), r.start.character, None)]
        parts += [self.line(n) for n in range(r.start.line + 1, r.end.line)]
        parts.append(col_slice(self.line(r.end.line), 0, r.end.character))
        return "\n".join(parts)


def col_len(s: str) -> int:
    """Length of `s` in columns of the current encoding."""
    if s.isascii():
        return len(s)
    if _unit == "utf-16":
        return len(s.encode("utf-16-le")) // 2
    if _unit == "utf-8":
        return len(s.encode("utf-8"))
    return len(s)


def col_to_index(s: str, col: int) -> int:
    """Python string index of a column of the current encoding in `s`."""
    if s.isascii() or _unit == "utf-32":
        return max(0, min(col, len(s)))
    units = 0
    for i, ch in enumerate(s):
        if units >= col:
            return i
        units += _width(ch)
    return len(s)


def index_to_col(s: str, index: int) -> int:
    return col_len(s[:index])


def col_slice(s: str, start: int, end: int | None) -> str:
    return s[col_to_index(s, start) : None if end is None else col_to_index(s, end)]


def _width(ch: str) -> int:
    o = ord(ch)
    if _unit == "utf-16":
        return 2 if o > 0xFFFF else 1
    return 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4


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
