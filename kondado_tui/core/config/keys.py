"""The `[keys]` table: which dashboard actions a user may give other keys, and what a key
is. The dashboard's bindings carry these ids (`Binding(id=...)`) and Textual's keymap
applies the table (`App.set_keymap`); the loader checks it here, where it can name the
line, since the core knows no Textual. tests/ui/test_ui_keymap.py holds the two in step:
every id here is bound on screen, and every key accepted here is one Textual reads.
"""

from __future__ import annotations

import unicodedata

# id -> what it does (for messages and docs). The same id on two screens is one action:
# `run` on the table and in the details.
ACTIONS: dict[str, str] = {
    "details": "open the selected pipeline's details (enter)",
    "run": "run the selected pipeline, or every marked one (r)",
    "mark": "mark / unmark the row (space)",
    "duplicate": "duplicate the selected pipeline (d)",
    "filter": "filter the table (/)",
    "clear_filter": "clear the filter (escape)",
    "sort": "cycle the sort (s)",
    "ask_now": "ask Kondado about the selected pipeline now (f)",
    "pause": "pause / resume polling (p)",
    "copy_url": "copy the pipeline's app URL (c)",
    "add": "add a pipeline (a)",
    "remove": "stop monitoring the selected pipeline (x)",
    "clear_changed": "clear every changed mark (u)",
    "help": "the help screen (?)",
    "quit": "quit (q)",
}

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
NAMED = frozenset(
    {
        "enter", "escape", "tab", "space", "backspace", "delete", "insert",
        "home", "end", "pageup", "pagedown", "up", "down", "left", "right",
        *(f"f{n}" for n in range(1, 25)),
    }
)  # fmt: skip
# Textual's names for some characters differ from their Unicode names.
_REPLACEMENTS = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}
EXAMPLE = 'run = "ctrl+r"  (several keys: "ctrl+r,R")'


def character_key(char: str) -> str:
    """The name Textual gives the key of one character: `?` is `question_mark`."""
    if char.isalnum():
        return char
    try:
        name = unicodedata.name(char).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return char
    return _REPLACEMENTS.get(name, name)


def _character_names() -> frozenset[str]:
    return frozenset(character_key(chr(c)) for c in range(0x21, 0x7F) if not chr(c).isalnum())


CHARACTER_NAMES = _character_names()


def key_problem(keys: str) -> str | None:
    """Why `keys` (one key, or several separated by commas) is not a key list Textual
    reads, or None when it is."""
    parts = [part.strip() for part in keys.split(",")]
    if not any(parts):
        return "is empty"
    for part in parts:
        if not part:
            return f"{keys!r} has an empty key between commas"
        *modifiers, base = part.split("+") if len(part) > 1 else [part]
        unknown = [m for m in modifiers if m not in MODIFIERS]
        if unknown:
            return f"{part!r}: {unknown[0]!r} is not a modifier ({', '.join(MODIFIERS)})"
        if len(base) == 1:
            if not base.isprintable() or base.isspace():
                return f"{part!r} is not a key"
            continue
        if base not in NAMED and base not in CHARACTER_NAMES:
            return f"{part!r}: {base!r} is not a key name"
    return None


def key_fix() -> str:
    return (
        "write a key as a character (r, R, ?), a name (enter, escape, space, tab, up, "
        "pageup, f5, ...), with modifiers if any (ctrl+r, shift+tab), several separated "
        f"by commas; e.g. {EXAMPLE}"
    )
