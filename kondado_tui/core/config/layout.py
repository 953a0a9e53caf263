"""How one pipeline entry is added to or cut out of the text, for each way TOML lets a
user write the list: `[[pipelines]]` tables, or an inline array of inline tables
(`pipelines = [ { id = 2040 }, ]`, on one line or many); and how one setting is changed
(`with_setting`). Pure text in, text out: every byte outside the edited entry is kept
(comments, blank lines, CRLF, a byte-order mark, the array's own spacing and
trailing-comma habit). Anything unexpected raises
`LayoutError`; the caller re-parses the result before writing it anyway.
"""

from __future__ import annotations

import re
from typing import Any

import tomli_w

from kondado_tui.core.config.arrays import InlineArray, LayoutError, skip_value, top_level_array
from kondado_tui.core.config.scanner import Line, scan

KEY = "pipelines"


def with_entry(text: str, table: dict[str, Any]) -> str:
    """`text` with `table` added as the last pipeline entry."""
    lines = scan(text)
    array = top_level_array(text, lines, KEY)
    if array is not None:
        return _add_to_array(text, array, table)
    return _add_table(text, lines, table)


def without_entry(text: str, index: int) -> str:
    """`text` without the index-th pipeline entry (counting from 0)."""
    lines = scan(text)
    array = top_level_array(text, lines, KEY)
    if array is not None:
        if index >= len(array.elements):
            raise LayoutError("the entry is not in the array")
        return _cut_from_array(text, array, index)
    start, end = entry_span(lines, index)
    if start == 0 and text.startswith("\ufeff"):
        start = 1  # the byte-order mark opens the file, not the entry
    return text[:start] + text[end:]


def table_block(table: dict[str, Any], newline: str = "\n") -> str:
    """The entry as a `[[pipelines]]` table, as a user would paste it."""
    return (f"[[{KEY}]]\n" + tomli_w.dumps(table)).replace("\n", newline)


def inline_table(table: dict[str, Any], *, compact: bool = False) -> str:
    """The entry as an inline table: `{ id = 2040, name = "Orders" }`."""
    inside = ", ".join(tomli_w.dumps({key: value}).rstrip("\n") for key, value in table.items())
    return "{" + inside + "}" if compact else "{ " + inside + " }"


# -- [[pipelines]] tables ---------------------------------------------------------------


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _add_table(text: str, lines: list[Line], table: dict[str, Any]) -> str:
    newline = _newline_of(text)
    block = table_block(table, newline)
    headers = _entry_headers(lines)
    if headers:
        _, end = entry_span(lines, len(headers) - 1)
        if end < len(text):
            # Other tables follow the last entry: the new one goes beside its siblings,
            # before whatever follows (and the comments written above it).
            before = text[:end]
            if not before.endswith(newline * 2) and not before.endswith("\n\n"):
                block = newline + block
            return before + block + newline + text[end:]
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom) :]
    if body and not body.endswith("\n"):
        body += newline
    if body.strip(" \t\r\n") and not body.endswith(newline * 2):
        body += newline
    return bom + body + block


def _entry_headers(lines: list[Line]) -> list[int]:
    return [
        n
        for n, line in enumerate(lines)
        if line.kind == "header" and line.name == KEY and line.index is not None
    ]


def entry_span(lines: list[Line], index: int) -> tuple[int, int]:
    """Text offsets of the index-th `[[pipelines]]` block.

    The block runs from its header to the next header. Comment lines written directly
    above the next header belong to that one and stay; blank lines after the block go.
    """
    headers = _entry_headers(lines)
    starts = [lines[n].index for n in headers]
    if starts != list(range(len(starts))) or index >= len(headers):
        raise LayoutError("could not find the entry's [[pipelines]] header")
    first = headers[index]
    following = next(
        (n for n in range(first + 1, len(lines)) if lines[n].kind == "header"), len(lines)
    )
    last = first  # the last line that says something about this entry
    for n in range(first + 1, following):
        if lines[n].kind in ("key", "more"):
            last = n
    stop = last + 1
    while stop < following and lines[stop].kind == "comment":
        stop += 1
    if stop == following and following < len(lines):
        stop = last + 1  # those comments sit on the next header: leave them to it
    while stop < following and lines[stop].kind == "blank":
        stop += 1
    if stop < len(lines):
        return lines[first].start, lines[stop].start
    # The last entry: take the blank lines that separated it too, so that adding and then
    # removing a pipeline gives back the very same file.
    while first > 0 and lines[first - 1].kind == "blank":
        first -= 1
    return lines[first].start, sum(len(line.text) for line in lines)


# -- pipelines = [ ... ] ------------------------------------------------------------------


def _line_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1


def _line_end(text: str, i: int) -> int:
    """The offset of the newline ending the line that holds `i` (len(text) if none)."""
    found = text.find("\n", i)
    return len(text) if found < 0 else found


def _ending_at(text: str, newline_at: int) -> str:
    return "\r\n" if newline_at > 0 and text[newline_at - 1] == "\r" else "\n"


def _indent(text: str, i: int) -> str:
    """The spaces and tabs that open the line holding `i`."""
    start = _line_start(text, i)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def _add_to_array(text: str, array: InlineArray, table: dict[str, Any]) -> str:
    elements = array.elements
    compact = bool(elements) and text[elements[-1].start + 1] not in " \t"
    item = inline_table(table, compact=compact)
    if not array.multiline(text):
        if not elements:  # `[]` or `[ ]`: the new one inside, spaced alike on both sides
            inner = text[array.open + 1 : array.close]
            return _splice(text, array.open + 1, inner + item)
        last = elements[-1]
        if last.comma is not None:  # `[ { id = 1 }, ]` keeps its trailing comma
            return _splice(text, last.comma + 1, " " + item + ",")
        return _splice(text, last.end, ", " + item)
    if not elements:
        # `[` and `]` on different lines, maybe comments between: a line of its own,
        # indented like the comments (or four spaces past the key), before the `]` line.
        close_line = _line_start(text, array.close)
        if text[close_line : array.close].strip(" \t"):
            raise LayoutError("something shares the line of the closing bracket")
        comment_indent = _first_comment_indent(text, array)
        indent = (
            comment_indent if comment_indent is not None else _indent(text, array.open) + "    "
        )
        newline = _ending_at(text, close_line - 1)
        return _splice(text, close_line, indent + item + "," + newline)
    last = elements[-1]
    trailing = last.comma is not None
    after = last.comma + 1 if last.comma is not None else last.end
    indent = _indent(text, last.start)
    line_end = _line_end(text, after)
    if line_end < array.close:
        # The usual layout: a line per element. A new line after the last one's line
        # (and after a comment on it), written with the array's own trailing-comma habit.
        newline = _ending_at(text, line_end)
        line = indent + item + ("," if trailing else "") + newline
        text = _splice(text, line_end + 1, line)
        return text if trailing else _splice(text, last.end, ",")
    # The `]` closes the line of the last element: `  { id = 2 }]`.
    newline = _ending_at(text, _line_end(text, array.open))
    addition = ("" if trailing else ",") + newline + indent + item + ("," if trailing else "")
    return _splice(text, after, addition)


def _first_comment_indent(text: str, array: InlineArray) -> str | None:
    i = array.open + 1
    while True:
        line_start = text.find("\n", i, array.close)
        if line_start < 0:
            return None
        i = line_start + 1
        indent = _indent(text, i)
        if text.startswith("#", i + len(indent)):
            return indent


def _cut_from_array(text: str, array: InlineArray, index: int) -> str:
    element = array.elements[index]
    tail = element.comma + 1 if element.comma is not None else element.end
    line_start = _line_start(text, element.start)
    line_end = _line_end(text, tail)
    rest = text[tail:line_end].strip(" \t\r")
    owns_line = (
        line_start > array.open
        and not text[line_start : element.start].strip(" \t")
        and (not rest or rest.startswith("#"))
        and line_end < array.close
    )
    if owns_line:
        # A line (or lines) of its own: they go whole, with a comment written on them.
        return text[:line_start] + text[line_end + 1 :]
    if element.comma is not None:
        end = element.comma + 1
        while end < len(text) and text[end] in " \t":
            end += 1
        start = element.start
        if text[end] in "\r\n":  # nothing follows on this line: no trailing blanks left
            while start > array.open + 1 and text[start - 1] in " \t":
                start -= 1
        return text[:start] + text[end:]
    if index > 0:
        previous = array.elements[index - 1]
        assert previous.comma is not None  # elements are separated by commas
        if not text[previous.comma + 1 : element.start].strip(" \t"):
            return text[: previous.comma] + text[element.end :]  # `{a}, {b}]` -> `{a}]`
    start = element.start
    while start > array.open + 1 and text[start - 1] in " \t":
        start -= 1
    end = element.end
    if text[start - 1] == "\n":  # it opened its line: `]` takes its place there
        while text[end] in " \t":
            end += 1
    return text[:start] + text[end:]


def _splice(text: str, at: int, insert: str) -> str:
    return text[:at] + insert + text[at:]


# -- one setting: [table] key = value ---------------------------------------------------


def with_setting(text: str, table: str, key: str, value: Any) -> str:
    """`text` with `table.key` set to `value`: its value replaced where it is written
    (`[table]` then `key = ...`, or `table.key = ...`), else a line added at the end of
    the `[table]` block (or after its last `table.*` line), else a new `[table]` at the
    end of the file. Comments, blank lines and everything else stay as they were."""
    lines = scan(text)
    name = f"{table}.{key}"
    rendered = tomli_w.dumps({key: value}).rstrip("\n")  # `key = "value"`, quoted as TOML wants
    new_value = rendered.split("=", 1)[1].strip()
    for line in lines:
        if line.kind == "key" and line.name == name:
            equals = line.start + line.text.index("=")
            start = equals + 1
            while text[start] in " \t":
                start += 1
            end = skip_value(text, start)
            return text[:start] + new_value + text[end:]
    newline = _newline_of(text)
    header = next(
        (n for n, ln in enumerate(lines) if ln.kind == "header" and ln.name == table), None
    )
    if header is not None:
        last = header
        commented = re.compile(rf"\s*#\s*{re.escape(key)}\s*=")
        for n in range(header + 1, len(lines)):
            if lines[n].kind == "header":
                break
            if lines[n].kind in ("key", "more"):
                last = n
            elif lines[n].kind == "comment" and commented.match(lines[n].text):
                last = n  # `# theme = ...` as the starter file has it: just below it
                break
        indent = _indent(text, lines[last].start) if last != header else ""
        at = lines[last].start + len(lines[last].text)
        before = text[:at] if text[:at].endswith("\n") or not at else text[:at] + newline
        return before + indent + rendered + newline + text[at:]
    dotted = [
        n for n, ln in enumerate(lines) if ln.kind == "key" and ln.name.startswith(table + ".")
    ]
    if dotted:  # `table.other = ...` at the top: the new one beside it, written alike
        line = lines[dotted[-1]]
        at = line.start + len(line.text)
        before = text[:at] if text[:at].endswith("\n") else text[:at] + newline
        return before + _indent(text, line.start) + f"{table}.{rendered}" + newline + text[at:]
    body = text
    if body and not body.endswith("\n"):
        body += newline
    if body.strip(" \t\r\n\ufeff") and not body.endswith(newline * 2):
        body += newline
    return body + f"[{table}]" + newline + rendered + newline
