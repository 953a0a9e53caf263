"""Make text from outside safe to show: the one guard between such text and a terminal.

Outside text is anything kondado-tui did not write itself: every field of an API answer,
command output, pasted URLs, config values, history rows written by older versions.
Rich and Textual strip only a few control characters, and a terminal obeys the rest:
an escape sequence in a status can clear the screen, retitle the window or write the
clipboard (OSC 52), and a bidirectional override reverses the rest of a cut line. So
every such text goes through `clean` before it becomes a `Text`, a notification, a line
on stdout or an OSC payload. `clean` also masks every known secret (`redact`), so a
text that is safe to show is also free of the token.

The API's answers are cleaned once where they are parsed (`core/api.py`); the display
layers clean again whatever else they show (names from the config, stored history).
Cleaning clean text changes nothing.
"""

from __future__ import annotations

import re

from wcwidth import iter_graphemes, wcswidth

from kondado_tui.core.guards.redact import redact

# CSI; OSC, DCS, SOS, PM and APC strings; two-byte ESC sequences; a lone ESC. Each in
# its 7-bit form (ESC + a byte) and its 8-bit form (a C1 character: in a str, U+0080 to
# U+009F, whether the bytes were UTF-8 or Latin-1). A string runs to its terminator
# (BEL, ST in either form, or CAN/SUB which abort it); an unterminated one ends at the
# line's end, so one stray introducer cannot swallow a whole message.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                 # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])           # OSC, DCS, SOS, PM, APC
      [^\x07\x9c\x18\x1a\n]*?(?:\x07|\x1b\\|\x9c|[\x18\x1a]|(?=\n)|$)  # ... to BEL or ST
    | \x1b[ -/]*[0-~]?                                 # other ESC sequences, lone ESC
    """,
    re.VERBOSE,
)
# Control characters left once the sequences are gone (tab and newline are handled
# apart): shown as U+FFFD so that something visibly stood there.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lone surrogates (JSON allows "\ud800"): no encoder writes them, a writer would fail.
_SURROGATES = re.compile(r"[\ud800-\udfff]")

# Format characters (Unicode category Cf) change how the text around them reads while
# taking no room: bidirectional embeddings, overrides and isolates (U+202A-202E,
# U+2066-2069) and marks (U+200E, U+200F, U+061C) reorder what follows, and a cell cut
# in the middle leaves them open for the rest of the line; U+FEFF, U+2060-2064, tags
# (U+E0000-E007F, invisible ASCII), the soft hyphen and the rest hide text. Every Cf
# character of Unicode 15 is removed, except the zero-width joiner and non-joiner
# between two visible characters (emoji sequences, Persian), handled below.
_FORMAT = re.compile(
    "["
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f"
    "]"
)
_JOINERS_ALONE = re.compile(r"(?:^|(?<=\s))[\u200c\u200d]+|[\u200c\u200d]+(?=\s|$)")
_JOINER_RUNS = re.compile(r"([\u200c\u200d])[\u200c\u200d]+")
# Variation selectors pick a glyph for the character before them: one after a visible
# character is kept (emoji), runs of them (a way to hide data) and strays are removed.
_VS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_VS_RUNS = re.compile(f"([{_VS}])[{_VS}]+")
_VS_ALONE = re.compile(f"(?:^|(?<=\\s))[{_VS}]+")
_LINE_SEPARATORS = re.compile("[\u2028\u2029\x85]")

# Anything the slow path must look at: the fast path (plain printable text) skips it.
_SUSPECT = re.compile(
    f"[\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff\u200c\u200d\u2028\u2029{_VS}]|{_FORMAT.pattern}"
)


def clean(text: str, *, keep_newlines: bool = True) -> str:
    """`text` as it may be shown: no escape sequence, no control or format character
    that could drive the terminal or reorder the line, no known secret.

    Tabs become four spaces, CR LF a line break, other control characters U+FFFD (so
    something visibly stood there). `keep_newlines=False` joins the lines with spaces.
    """
    if _SUSPECT.search(text) is not None:
        text = _ESCAPES.sub("", text)
        text = text.replace("\r\n", "\n").replace("\t", "    ")
        text = _LINE_SEPARATORS.sub("\n", text)
        text = _CONTROLS.sub("\ufffd", text)
        text = _SURROGATES.sub("\ufffd", text)
        text = _FORMAT.sub("", text)
        text = _JOINER_RUNS.sub(r"\1", text)
        text = _JOINERS_ALONE.sub("", text)
        text = _VS_RUNS.sub(r"\1", text)
        text = _VS_ALONE.sub("", text)
    if not keep_newlines and "\n" in text:
        text = " ".join(text.split("\n"))
    return redact(text)


def first_line(text: str | None, limit: int = 300) -> str:
    """The first non-empty line of a message, cleaned, for a table cell."""
    if not text:
        return ""
    for line in clean(text).split("\n"):
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def one_line(text: str, limit: int) -> str:
    """The whole text cleaned onto one line (runs of spaces as one), cut to `limit`
    characters with an ellipsis: an excerpt of an answer for an error message."""
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
