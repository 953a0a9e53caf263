"""The hostile corpus: what an attacker, a broken proxy or a careless script can put
wherever kondado-tui reads the outside world, and the checks every guard is held to.

One module for every test of the guards (tests/core/test_hostile_*.py,
tests/cli/test_cli_hostile.py, tests/ui/test_ui_hostile.py), so that a new kind of
hostile input, added here, is fed through every path at once.

- `TEXTS`: escape sequences of every kind (CSI, OSC ended by BEL and by ST, DCS, APC,
  PM, SOS, C1 controls in their 8-bit and UTF-8 forms, a lone ESC, tmux passthrough),
  bidirectional and other format characters, lone surrogates, markup, and the seeded
  token in each encoding an echo can give it;
- `ODD_JSON`: JSON texts Python reads but Kondado never sends (1e400, NaN literals,
  huge integers, deep nesting), and `ODD_VALUES`: values of every wrong type;
- `unsafe(text)`: what in a text must never reach a terminal; `leaks(text)`: the token
  in any of its forms; `terminal_residue(bytes)`: what is left of a terminal stream once
  the sequences Textual itself writes are taken out.
"""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from typing import Any
from urllib.parse import quote, quote_plus

from kondado_tui.core.guards.redact import register_secret

# The seeded secret: characters that URL- and JSON-encode differently (/, +, =).
TOKEN = "H0STILE-t0ken/with+odd=chars-9f3a"
KEY = "hostile-key-77"

# -- the token in every form an echo can give it ----------------------------------------

SECRET_FORMS: dict[str, str] = {
    "raw": TOKEN,
    "url_upper": quote(TOKEN, safe=""),
    "url_lower": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(TOKEN, safe="")),
    "url_plus": quote_plus(TOKEN),
    "json_escaped": json.dumps(TOKEN).replace("/", "\\/")[1:-1],
    "json_unicode": "".join(f"\\u{ord(c):04x}" for c in TOKEN),
    "base64": base64.b64encode(f"{KEY}:{TOKEN}".encode()).decode(),
    "base64_urlsafe": base64.urlsafe_b64encode(f"x{TOKEN}".encode()).decode(),
}

ECHOES: dict[str, str] = {
    **{f"token_{name}": f"echo {form} end" for name, form in SECRET_FORMS.items()},
    "url_echo": f"GET https://k2.kondado.com.br/pipelines/1/status?key={KEY}&token={TOKEN} "
    "returned 500",
    "url_echo_encoded": "redirect to "
    + quote(f"https://k2.kondado.com.br/x?key={KEY}&token={TOKEN}", safe=""),
    "json_member": json.dumps({"token": TOKEN, "key": KEY}),
}

# -- text that must not drive the terminal --------------------------------------------

ESCAPES: dict[str, str] = {
    "csi_clear": "\x1b[2J\x1b[H",
    "csi_8bit": "\x9b2J",
    "csi_utf8_c1": "\u009b31m",  # the same C1 character, as JSON or UTF-8 brings it
    "sgr": "\x1b[31;1mred\x1b[0m",
    "osc0_bel": "\x1b]0;pwned-title\x07",
    "osc0_st": "\x1b]0;pwned-title\x1b\\",
    "osc52_bel": "\x1b]52;c;cHduZWQ=\x07",
    "osc52_st": "\x1b]52;c;cHduZWQ=\x1b\\",
    "osc8_link": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "osc_8bit": "\x9d52;c;cHduZWQ=\x9c",
    "osc_unterminated": "\x1b]0;pwned-title",
    "dcs": "\x1bP1$qm\x1b\\",
    "dcs_8bit": "\x90q#0;2;0;0;0\x9c",
    "apc": "\x1b_Gf=100;AAAA\x1b\\",
    "apc_8bit": "\x9fpwned\x9c",
    "pm": "\x1b^pwned\x1b\\",
    "sos": "\x1bXpwned\x1b\\",
    "c1_ss3": "\x8fA",
    "c1_nel": "\x85",
    "lone_esc": "\x1b",
    "esc_reset": "\x1bc",
    "esc_esc": "\x1b\x1b[[2J",
    "tmux_passthrough": "\x1bPtmux;\x1b\x1b]52;c;cHduZWQ=\x07\x1b\\",
    "c0": "\x00\x07\x08\x0b\x0c\r\x0e\x1a\x7f",
}

FORMAT: dict[str, str] = {
    "rlo": "\u202eevil\u202c",
    "lro": "\u202d",
    "rle_lre": "\u202b\u202a",
    "isolates": "\u2066\u2067\u2068\u2069",
    "marks": "\u200e\u200f\u061c",
    "bom": "\ufeff",
    "zero_width": "\u200b\u2060\u2061\u2062\u2063\u2064",
    "tags": "\U000e0001\U000e0041\U000e0042\U000e007f",
    "soft_hyphen": "\u00ad",
    "arabic_signs": "\u0600\u0601",
    "stray_joiner": " \u200d ",
    "variation_run": "x\ufe0f\ufe0f\ufe0f\U000e0100\U000e0101",
    "lone_surrogate": "\ud800\udfff",
    "line_separators": "\u2028\u2029",
}

OTHER: dict[str, str] = {
    "markup": "[b]bold[/] oops [/] here [link=http://evil]click[/link] [@click=app.quit]q[/]",
    "long_line": "x" * 5_000,
    "many_lines": "\n".join(f"line {i}" for i in range(500)),
    "wide": "日本語テーブル ⛔ 👩‍👩‍👧 🇧🇷",
}

PARTS: dict[str, str] = {**ESCAPES, **FORMAT, **ECHOES, **OTHER}
# Each part between words (a cut cell, a message that goes on after it), and all at once.
TEXTS: dict[str, str] = {name: f"before {part} after" for name, part in PARTS.items()}
TEXTS["everything"] = "before " + " | ".join(PARTS.values()) + " after"
# A few for the slow paths (a whole app per text, a process per text).
SAMPLE: dict[str, str] = {
    name: TEXTS[name]
    for name in (
        "osc52_bel",
        "osc0_st",
        "csi_8bit",
        "dcs_8bit",
        "rlo",
        "lone_surrogate",
        "token_url_lower",
        "url_echo",
        "everything",
    )
}

# -- JSON Python reads and Kondado never sends ------------------------------------------

ODD_JSON: dict[str, str] = {
    "1e400": "1e400",
    "-1e400": "-1e400",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "huge_int": "1" * 60,
    "huge_int_4400": "9" * 4_400,  # past Python's own 4,300-digit limit
    "deep": "[" * 200 + "]" * 200,
    "very_deep": "[" * 100_000 + "]" * 100_000,
}
# Odd but acceptable: -0, a long fraction.
FINE_JSON: dict[str, str] = {"-0": "-0", "-0.0": "-0.0", "fraction": "0." + "1" * 300}


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"down": value}
    return value


# Every wrong type a field can have (null included), as JSON values.
ODD_VALUES: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    "zero": 0,
    "negative": -1,
    "float": 1.5,
    "big_int": 10**30,
    "empty_string": "",
    "spaces": "   ",
    "list": [1, "two", None],
    "object": {"a": {"b": [1, 2]}},
    "deep_object": deep(40),
    "hostile_in_list": ["\x1b]52;c;cHduZWQ=\x07", TOKEN],
    "hostile_key": {"\x1b]0;pwned\x07": TOKEN},
}

# -- the checks -----------------------------------------------------------------------

_ALLOWED_JOINERS = re.compile(r"(?<=\S)[\u200c\u200d](?=\S)")


def unsafe(text: str, *, newlines: bool = True) -> list[str]:
    """What in `text` must never reach a terminal: control characters (newline aside
    when `newlines`), C1, lone surrogates, and format characters other than a joiner
    between two visible characters. Empty when `text` is safe."""
    found: list[str] = []
    text = _ALLOWED_JOINERS.sub("", text)
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\n" and newlines:
            continue
        if code < 0x20 or 0x7F <= code <= 0x9F:
            found.append(f"control U+{code:04X} at {index}")
        elif 0xD800 <= code <= 0xDFFF:
            found.append(f"lone surrogate U+{code:04X} at {index}")
        elif unicodedata.category(char) == "Cf":
            found.append(f"format character U+{code:04X} at {index}")
        elif char in "\u2028\u2029":
            found.append(f"line separator U+{code:04X} at {index}")
    return found


def leaks(text: str) -> list[str]:
    """Every form of the seeded token found in `text` (and the key next to it)."""
    found = [name for name, form in SECRET_FORMS.items() if form in text]
    if f"key={KEY}&" in text:
        found.append("key beside the token")
    return found


# What Textual writes on purpose: SGR styles, cursor moves, the synchronized-output
# brackets and mode switches. Anything else with an ESC in it came from a text.
_TEXTUAL_SEQUENCES = re.compile(
    r"\x1b\[[0-9;:]*m"  # styles
    r"|\x1b\[[0-9]+;[0-9]+H|\x1b\[H"  # cursor moves
    r"|\x1b\[\?[0-9;]+[hl]"  # modes (cursor, synchronized output)
    r"|\x1b\[[0-9]*[ABCDGKJ]"  # relative moves, erase
)


def terminal_residue(stream: str, lines: int) -> list[str]:
    """What is left of a full-screen terminal stream (`lines` high) once Textual's own
    sequences are taken out: anything unsafe there came from a text. Textual ends each
    screen line with a newline; one more means a text carried its own."""
    rest = _TEXTUAL_SEQUENCES.sub("", stream)
    found = unsafe(rest)
    if rest.count("\n") >= lines:
        found.append(f"{rest.count(chr(10))} line breaks on a screen of {lines} lines")
    return found


def seed_token() -> None:
    """Register the token as the app does once it has read it."""
    register_secret(TOKEN)


__all__ = [
    "ECHOES",
    "ESCAPES",
    "FINE_JSON",
    "FORMAT",
    "KEY",
    "ODD_JSON",
    "ODD_VALUES",
    "SAMPLE",
    "SECRET_FORMS",
    "TEXTS",
    "TOKEN",
    "deep",
    "leaks",
    "seed_token",
    "terminal_residue",
    "unsafe",
]
