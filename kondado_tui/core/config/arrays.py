"""Where the elements of an inline array sit in the text: `pipelines = [ { id = 2040 }, ]`.

The line scanner knows which line holds `pipelines = [`; this walks the value character by
character (strings of the four kinds, nested brackets and braces, comments, commas), so
that an edit can insert or cut one element and leave every other byte alone. It reads
text that tomllib has already accepted; anything it does not expect raises
`LayoutError`, and the edit is refused rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kondado_tui.core.config.scanner import KEY_LINE, Line


class LayoutError(Exception):
    """The text is laid out in a way this module does not edit."""


@dataclass(frozen=True)
class Element:
    start: int  # offset of its first character (`{`)
    end: int  # offset just past its last character (`}`)
    comma: int | None  # offset of the comma that follows it, if any


@dataclass(frozen=True)
class InlineArray:
    open: int  # offset of `[`
    close: int  # offset of the matching `]`
    elements: tuple[Element, ...]

    def multiline(self, text: str) -> bool:
        return "\n" in text[self.open : self.close]


def top_level_array(text: str, lines: list[Line], key: str) -> InlineArray | None:
    """The inline array written as `key = [...]` outside any table, or None when `key` is
    not written that way (absent, or written as `[[key]]` tables)."""
    for line in lines:
        if line.kind == "key" and line.name == key:
            match = KEY_LINE.match(line.text.removeprefix("\ufeff"))
            if match is None:
                raise LayoutError(f"cannot read the line of {key}")
            start = line.start + match.end() + (1 if line.text.startswith("\ufeff") else 0)
            at = _skip_spaces(text, start)
            if at >= len(text) or text[at] != "[":
                raise LayoutError(f"{key} is not an array")
            return read_array(text, at)
    return None


def read_array(text: str, open_at: int) -> InlineArray:
    """The array whose `[` is at `open_at`: its elements and its closing bracket."""
    elements: list[Element] = []
    i = open_at + 1
    n = len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n":
            i += 1
        elif char == "#":
            i = _end_of_line(text, i)
        elif char == ",":
            if not elements or elements[-1].comma is not None:
                raise LayoutError("a comma without an element before it")
            last = elements[-1]
            elements[-1] = Element(last.start, last.end, i)
            i += 1
        elif char == "]":
            return InlineArray(open_at, i, tuple(elements))
        else:
            if elements and elements[-1].comma is None:
                raise LayoutError("two elements without a comma between them")
            end = skip_value(text, i)
            elements.append(Element(i, end, None))
            i = end
    raise LayoutError("the array is not closed")


def skip_value(text: str, i: int) -> int:
    """The offset just past the value that starts at `i`."""
    char = text[i]
    if char in "\"'":
        return _skip_string(text, i)
    if char in "[{":
        return _skip_brackets(text, i)
    j = i  # a bare value: number, boolean, date (a date may hold one space)
    while j < len(text) and text[j] not in ",]}#\r\n":
        j += 1
    while j > i and text[j - 1] in " \t":
        j -= 1
    if j == i:
        raise LayoutError("an empty value")
    return j


def _skip_brackets(text: str, i: int) -> int:
    closing = {"[": "]", "{": "}"}
    stack = [closing[text[i]]]
    i += 1
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i = _skip_string(text, i)
            continue
        if char == "#":
            i = _end_of_line(text, i)
            continue
        if char in closing:
            stack.append(closing[char])
        elif char in "]}":
            if char != stack.pop():
                raise LayoutError("brackets do not match")
            if not stack:
                return i + 1
        i += 1
    raise LayoutError("a bracket is not closed")


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    escapes = quote == '"'
    if text.startswith(quote * 3, i):
        j = i + 3
        while j < len(text):
            if escapes and text[j] == "\\":
                j += 2
                continue
            if text.startswith(quote * 3, j):
                j += 3
                extra = 0  # `""""` ends with one quote inside, `"""""` with two
                while extra < 2 and j < len(text) and text[j] == quote:
                    j += 1
                    extra += 1
                return j
            j += 1
        raise LayoutError("a multi-line string is not closed")
    j = i + 1
    while j < len(text) and text[j] != "\n":
        if escapes and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    raise LayoutError("a string is not closed")


def _skip_spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _end_of_line(text: str, i: int) -> int:
    """The offset of the newline that ends the line holding `i` (or the end of text)."""
    found = text.find("\n", i)
    return len(text) if found < 0 else found
