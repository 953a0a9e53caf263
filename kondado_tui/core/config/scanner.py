"""Where a config line is parsed: each line of the text classified (header, key, comment,
blank, the inside of a multi-line value), so that messages can name a line and edits can
find an entry's text. The values themselves are parsed by tomllib."""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"[^"\n]*"|\'[^\'\n]*\')'
KEY_LINE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_HEADER_LINE = re.compile(rf"^\s*(\[\[?)\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\]?")


_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")


def _dotted(raw: str) -> str:
    return ".".join(part.strip("\"'") for part in re.findall(_KEY_PART, raw))


@dataclass
class Line:
    start: int  # offset of the line in the text
    text: str  # with its line ending
    kind: str  # header | key | more (inside a multi-line value) | comment | blank
    name: str  # header: the table; key: the full dotted key ("" when not known)
    index: int | None  # which [[pipelines]] entry the line belongs to


def scan(text: str) -> list[Line]:
    """Classify each line. Tracks multi-line strings and arrays, so a line inside a value
    is never mistaken for a header, a key or a comment."""
    lines: list[Line] = []
    table = ""
    entry: int | None = None
    entries = -1
    in_string: str | None = None  # the open multi-line delimiter
    depth = 0  # open brackets of a value
    offset = 0
    for raw in split_lines(text):
        body = raw.removeprefix("\ufeff") if offset == 0 else raw  # a byte-order mark
        stripped = body.strip(" \t\r\n")
        kind, name = "more", ""
        if in_string is None and depth == 0:
            if not stripped:
                kind = "blank"
            elif stripped.startswith("#"):
                kind = "comment"
            elif stripped.startswith("["):
                kind = "header"
                match = _HEADER_LINE.match(body)
                table = _dotted(match.group(2)) if match else "?"
                is_array = bool(match and match.group(1) == "[[")
                if is_array and table == "pipelines":
                    entries += 1
                    entry = entries
                elif table != "pipelines" and not table.startswith("pipelines."):
                    entry = None
                name = table
            else:
                kind = "key"
                match = KEY_LINE.match(body)
                key = _dotted(match.group(1)) if match else ""
                name = f"{table}.{key}" if table and key else key
        if kind in ("key", "more"):
            in_string, depth = _scan_value(body, in_string, depth)
        lines.append(Line(offset, raw, kind, name, entry))
        offset += len(raw)
    return lines


def split_lines(text: str) -> list[str]:
    """The lines of a TOML text, each with its ending. TOML ends a line only at LF (or
    CRLF); str.splitlines would also split inside a comment at U+2028, NEL or FF."""
    return _LINES.findall(text)


def _scan_value(line: str, in_string: str | None, depth: int) -> tuple[str | None, int]:
    i, n = 0, len(line)
    while i < n:
        if in_string is not None:
            if in_string == '"""' and line[i] == "\\":
                i += 2
                continue
            if line.startswith(in_string, i):
                i += 3
                while i < n and line[i] == in_string[0]:  # `""""` ends with a quote inside
                    i += 1
                in_string = None
                continue
            i += 1
            continue
        char = line[i]
        if char == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            in_string = line[i : i + 3]
            i += 3
            continue
        if char in "\"'":
            i += 1
            while i < n and line[i] != char and line[i] != "\n":
                i += 2 if char == '"' and line[i] == "\\" else 1
            i += 1
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        i += 1
    return in_string, depth


def line_of(lines: list[Line], name: str, index: int | None = None) -> int | None:
    """The 1-based line where `name` (a table or a dotted key) is written, if found."""
    for number, line in enumerate(lines, start=1):
        if line.kind in ("key", "header") and line.name == name and line.index == index:
            return number
    if "." in name:  # a key not written out (or written oddly): point at its table
        return line_of(lines, name.rsplit(".", 1)[0], index)
    return None
