"""`set_setting`: the dashboard saves the chosen theme into the user's file, keeping every
other byte; `[ui] theme` and `[keys]` are checked by the loader, naming the line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kondado_tui.core.config import (
    STARTER_CONFIG,
    load_config,
    set_setting,
    write_starter_config,
)
from kondado_tui.core.config.keys import ACTIONS, CHARACTER_NAMES, key_problem
from kondado_tui.core.errors import ConfigError

ENV = {"KONDADO_KEY": "k", "KONDADO_TOKEN": "t"}

# (file as written, file after theme = "nord")
FORMS = {
    "replaced in [ui], comment kept": (
        '# mine\n[ui]\nbell = false\ntheme = "gruvbox"  # my pick\n\n[[pipelines]]\nid = 1\n',
        '# mine\n[ui]\nbell = false\ntheme = "nord"  # my pick\n\n[[pipelines]]\nid = 1\n',
    ),
    "added at the end of [ui]": (
        "[ui]\n  bell = false\n# about the next table\n[api]\nkey = 'k'\n",
        "[ui]\n  bell = false\n  theme = \"nord\"\n# about the next table\n[api]\nkey = 'k'\n",
    ),
    "added under an empty [ui]": (
        "[ui]\n\n[api]\n",
        '[ui]\ntheme = "nord"\n\n[api]\n',
    ),
    "no [ui]: a new table at the end": (
        "[api]\nkey = 'k'\n\n[[pipelines]]\nid = 1\n",
        "[api]\nkey = 'k'\n\n[[pipelines]]\nid = 1\n\n[ui]\ntheme = \"nord\"\n",
    ),
    "dotted keys at the top": (
        "ui.bell = false\n\n[api]\nkey = 'k'\n",
        "ui.bell = false\nui.theme = \"nord\"\n\n[api]\nkey = 'k'\n",
    ),
    "dotted key replaced": (
        "ui.theme = 'x' # old\n",
        'ui.theme = "nord" # old\n',
    ),
    "CRLF and a byte-order mark": (
        "\ufeff[ui]\r\nbell = true\r\n",
        '\ufeff[ui]\r\nbell = true\r\ntheme = "nord"\r\n',
    ),
    "no final newline": (
        "[ui]\nbell = true",
        '[ui]\nbell = true\ntheme = "nord"\n',
    ),
    "empty file": ("", '[ui]\ntheme = "nord"\n'),
    "below its commented-out example": (
        '[ui]\nbell = true\n# The theme:\n# theme = "textual-dark"\n\n# [keys]\n',
        '[ui]\nbell = true\n# The theme:\n# theme = "textual-dark"\ntheme = "nord"\n\n# [keys]\n',
    ),
    "inline pipelines array before": (
        "pipelines = [ { id = 2040 }, ]\n",
        'pipelines = [ { id = 2040 }, ]\n\n[ui]\ntheme = "nord"\n',
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_the_theme_is_saved_keeping_the_rest(tmp_path: Path, form: str) -> None:
    before, after = FORMS[form]
    path = tmp_path / "config.toml"
    path.write_bytes(before.encode())
    set_setting(path, "ui", "theme", "nord")
    assert path.read_bytes().decode() == after
    assert load_config(path, ENV).ui.theme == "nord"


def test_the_starter_file_gets_it_below_its_example(tmp_path: Path) -> None:
    path = write_starter_config(tmp_path / "config.toml")
    set_setting(path, "ui", "theme", "nord")
    text = path.read_text()
    assert text == STARTER_CONFIG.replace(
        '# theme = "textual-dark"\n', '# theme = "textual-dark"\ntheme = "nord"\n'
    )


def test_an_unchanged_value_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[ui]\ntheme = "nord"\n')
    stamp = path.stat().st_mtime_ns
    set_setting(path, "ui", "theme", "nord")
    assert path.stat().st_mtime_ns == stamp


def test_a_missing_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    set_setting(path, "ui", "theme", "nord")
    assert tomllib.loads(path.read_text()) == {"ui": {"theme": "nord"}}
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_form_it_cannot_edit_says_so_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    before = "ui = { bell = false }\n"
    path.write_text(before)
    with pytest.raises(ConfigError) as raised:
        set_setting(path, "ui", "theme", "nord")
    message = str(raised.value)
    assert "nothing was changed" in message and 'theme = "nord"' in message
    assert "Cannot" not in message  # our words, not a TOML library's
    assert path.read_text() == before


def test_a_hostile_name_is_written_as_toml(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[ui]\n")
    set_setting(path, "ui", "theme", 'a "quoted" \\ name')
    assert tomllib.loads(path.read_text())["ui"]["theme"] == 'a "quoted" \\ name'


# -- the loader --------------------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, ENV)


def test_keys_are_read(tmp_path: Path) -> None:
    config = _load(tmp_path, '[keys]\nrun = "ctrl+r"\nquit = " ctrl+q , Q "\n')
    assert dict(config.keys) == {"run": "ctrl+r", "quit": "ctrl+q , Q"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[keys]\nrun = "ctrl+r"\nrunn = "x"\n', 3, "did you mean 'run'"),
        ('[keys]\nlaunch = "x"\n', 2, "valid keys here: details, run"),
        ('[keys]\n\nrun = "ctr+r"\n', 3, "'ctr' is not a modifier"),
        ('[keys]\nrun = "bogus"\n', 2, "'bogus' is not a key name"),
        ('[keys]\nrun = ""\n', 2, "is empty"),
        ('[keys]\nrun = "a,,b"\n', 2, "empty key between commas"),
        ("[keys]\nrun = 5\n", 2, "must be a string"),
        ('[ui]\ntheme = ""\n', 2, "is not a theme name"),
        ('[ui]\ntheme = "x\\u001b[2J"\n', 2, "is not a theme name"),
    ],
)
def test_bad_keys_and_themes_name_the_line_and_the_fix(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _load(tmp_path, text)
    message = str(raised.value)
    assert f"config.toml:{line}:" in message, message
    assert words in message, message
    assert "\x1b" not in message


@pytest.mark.parametrize(
    "keys",
    ["r", "R", "?", "question_mark", "ctrl+r", "shift+tab", "f5", "ctrl+shift+f12", "r,ctrl+r"],
)
def test_keys_textual_reads_are_accepted(keys: str) -> None:
    assert key_problem(keys) is None


def test_every_action_has_words_and_punctuation_has_names() -> None:
    assert all(ACTIONS.values())
    assert {"question_mark", "slash", "minus", "plus", "at", "backslash"} <= CHARACTER_NAMES
