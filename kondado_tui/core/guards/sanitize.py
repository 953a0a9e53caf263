"""Make text from a remote system safe to put on a terminal.

`raw_msg` is free text: it can hold ESC sequences that clear the screen, retitle the
window or write the clipboard. Rich and Textual strip only a few control characters, so
every API string goes through `clean` before it is shown.
"""

from __future__ import annotations

import re

from wcwidth import iter_graphemes, wcswidth

# CSI, OSC, DCS/SOS/PM/APC strings (7- and 8-bit forms), and two-byte ESC sequences.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?            # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])      # OSC, DCS, SOS, PM, APC
      .*?(?:\x07|\x1b\\|\x9c|$)                   # ... up to BEL or ST
    | \x1b[ -/]*[0-~]?                            # other ESC sequences
    """,
    re.VERBOSE | re.DOTALL,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str, *, keep_newlines: bool = True) -> str:
    """Remove escape sequences; show other control characters as visible symbols."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    text = _CONTROLS.sub("\ufffd", text)
    if not keep_newlines:
        text = " ".join(text.split("\n"))
    return text


def first_line(text: str | None, limit: int = 300) -> str:
    """The first non-empty line of a message, cleaned, for a table cell."""
    if not text:
        return ""
    for line in clean(text).split("\n"):
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def display_width(text: str) -> int:
    """Terminal cells `text` takes, grapheme by grapheme as wcwidth measures them: an emoji
    with a skin tone, a ZWJ family or a flag is one glyph of two cells, a CJK character two,
    a combining mark none. Rich's `cell_len` (the dashboard's measure) agrees, so the CLI's
    tables and the dashboard count alike (tests/cli/test_output_table.py holds them to it).

    Control characters have no width (wcwidth answers -1): the text is measured as `clean`
    shows it, each one a visible symbol."""
    width = wcswidth(text)
    if width < 0:
        width = wcswidth(clean(text, keep_newlines=False))
    return max(0, width)


def truncate(text: str, width: int, ellipsis: str = "…") -> str:
    """`text` cut to at most `width` terminal cells, ending with `ellipsis` when cut.
    Whole graphemes only: never half a flag, a ZWJ sequence or an accent."""
    if display_width(text) <= width:
        return text
    room = width - display_width(ellipsis)
    kept: list[str] = []
    for grapheme in iter_graphemes(text):
        room -= display_width(grapheme)
        if room < 0:
            break
        kept.append(grapheme)
    return "".join(kept) + ellipsis


def pad(text: str, width: int) -> str:
    """`text` followed by spaces up to `width` terminal cells (str.ljust counts characters)."""
    return text + " " * max(0, width - display_width(text))
