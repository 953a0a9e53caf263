"""How much of the outside world is read and kept: the size guards.

Every answer, command output and message from outside is bounded twice: what is read
(the bytes taken off a socket or a pipe before giving up) and what is kept (the text
held per pipeline for days, shown on every repaint). A cut is always shown: a kept text
that lost its end says how much it lost.
"""

from __future__ import annotations

import re

MAX_ANSWER_BYTES = 1 << 20  # an API answer, decoded; a real one is a few hundred bytes
MAX_JSON_DEPTH = 32  # nesting of an answer or a body; the documented ones have 3
MAX_JSON_DIGITS = 40  # digits of one JSON integer (ids fit in 19)
MAX_MESSAGE = 16_000  # characters kept of a raw_msg (they can be whole stack traces)
MAX_WORD = 80  # characters kept of a status value (the longest documented has 43)
MAX_FIELD = 1_000  # characters kept of any other text field of an answer
MAX_EXTRA = 4_096  # characters (as JSON) of the fields the docs do not list, per answer
MAX_BODY_FILE = 1 << 20  # a duplicate body file (or standard input) read
MAX_TOKEN_LINE = 4_096  # bytes read of token_command's output before giving up

_CUT = "… (cut: {count} more characters)"
_CUT_AT_END = re.compile(r"… \(cut: ([0-9]{1,12}) more characters\)\Z")


def cut(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its first `limit` characters and a
    marker saying how many more there were. A text cut before keeps its marker (and
    counts what this cut leaves out too): cutting twice is cutting once."""
    if len(text) <= limit:
        return text
    marker = _CUT_AT_END.search(text)
    body, before = (text[: marker.start()], int(marker.group(1))) if marker else (text, 0)
    if len(body) <= limit:
        return text
    return text[:limit] + _CUT.format(count=before + len(body) - limit)


def cut_count(text: str | None) -> int:
    """How many characters `cut` left out of `text` (0 when it was not cut)."""
    if not text:
        return 0
    match = _CUT_AT_END.search(text)
    return int(match.group(1)) if match else 0


def split_cut(text: str) -> tuple[str, str]:
    """`text` as (what was kept, the marker `cut` added or "")."""
    match = _CUT_AT_END.search(text)
    return (text[: match.start()], match.group(0)) if match else (text, "")


def size_text(count: int) -> str:
    """A byte count for a message: '1 MiB', '4 KiB', '300 bytes'."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"
