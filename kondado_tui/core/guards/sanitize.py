"""Make text from a remote system safe to put on a terminal.

`raw_msg` is free text: it can hold ESC sequences that clear the screen, retitle the
window or write the clipboard. Rich and Textual strip only a few control characters, so
every API string goes through `clean` before it is shown.
"""

from __future__ import annotations

import re
import unicodedata

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
    """Terminal cells `text` takes: wide (East Asian, most emoji) characters take two,
    combining marks none. For aligning plain-text tables (`len` misaligns ⛔ and 日本)."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """`text` followed by spaces up to `width` terminal cells (str.ljust counts characters)."""
    return text + " " * max(0, width - display_width(text))
