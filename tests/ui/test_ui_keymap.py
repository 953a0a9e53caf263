"""`[keys]` remaps the dashboard's keys through Textual's keymap; `[ui] theme` is applied
at start and saved when the user picks another (ctrl+p, theme)."""

from __future__ import annotations

import io
import string
from pathlib import Path

from rich.console import Console
from textual.keys import _character_to_key
from textual.widgets import Static
from textual.widgets._footer import FooterKey
from ui_fakes import ENTRIES, SIZE, FakePoller, FakeSession, messages, seed

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import load_config
from kondado_tui.core.config.keys import ACTIONS, character_key
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.keymap import default_keys
from kondado_tui.ui.screens.help import HelpScreen

ENV = {"KONDADO_KEY": "k", "KONDADO_TOKEN": "t"}


def _app(tmp_path: Path, extra: str, env: dict[str, str] | None = None) -> KondadoApp:
    path = tmp_path / "config.toml"
    text = "# my settings\n" + extra + "".join(f"\n[[pipelines]]\nid = {e.id}\n" for e in ENTRIES)
    path.write_text(text)
    config = load_config(path, ENV)
    clock = ManualClock(frozen=True)
    poller = FakePoller(clock, [e.id for e in ENTRIES])
    return KondadoApp(FakeSession(config, poller), clock=clock, env=env or {"TERM": "xterm"})


def test_every_action_of_the_keys_table_is_bound_and_no_other() -> None:
    assert set(default_keys()) == set(ACTIONS)
    assert default_keys()["run"] == {"r"} and default_keys()["help"] == {"question_mark"}


def test_the_loader_names_characters_as_textual_does() -> None:
    for char in string.printable.strip():
        assert character_key(char) == _character_to_key(char), char


async def test_a_remapped_key_runs_its_action_and_the_old_one_no_longer_does(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path, '[keys]\nsort = "o"\nhelp = "h,f1"\n')
    async with app.run_test(size=SIZE) as pilot:
        seed(app.session.poller)  # type: ignore[arg-type]
        await pilot.pause()
        first = app.main.sort_mode
        await pilot.press("s")  # the old key: Textual's keymap removes it
        await pilot.pause()
        assert app.main.sort_mode == first
        await pilot.press("o")
        await pilot.pause()
        assert app.main.sort_mode == first.next()
        footer = {k.description: k.key_display for k in app.screen.query(FooterKey)}
        assert footer["sort"] == "o"
        await pilot.press("question_mark")  # the old help key: nothing
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(app.screen.query_one(Static).content)
        lines = console.export_text().splitlines()
        (sort,) = [line for line in lines if "cycle the sort" in line]
        assert sort.split()[0] == "o", sort  # the help names the new key
        (help_line,) = [line for line in lines if "this help" in line]
        assert help_line.split()[:2] == ["h", "f1"], help_line
        await pilot.press("escape")
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_the_help_and_palette_show_remapped_keys(tmp_path: Path) -> None:
    app = _app(tmp_path, '[keys]\nrun = "ctrl+r"\n')
    assert app.key_for("run") == "^r"
    assert app.key_for("sort") is None
    from kondado_tui.ui.screens.help import key_rows

    rows = dict((what, key) for key, what in key_rows(app.key_for))
    assert rows["run the selected pipeline (or every marked one), after asking"] == "^r"
    sort = next(key for what, key in rows.items() if what.startswith("cycle the sort"))
    assert sort == "s"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        commands = {c.title: c.help for c in app.get_system_commands(app.main)}
        assert commands["Run the selected pipeline(s)"] == "^r: asks first"
        assert commands["Cycle the sort order"].startswith("s: ")


async def test_a_clash_is_a_warning_naming_the_action_that_lost_its_key(tmp_path: Path) -> None:
    app = _app(tmp_path, '[keys]\nrun = "s"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        said = " ".join(messages(app))
        assert "s is sort's key, which now has none" in said, said


async def test_read_only_says_why_on_the_remapped_key(tmp_path: Path) -> None:
    app = _app(tmp_path, '[ui]\nread_only = true\n[keys]\nrun = "g"\n')
    async with app.run_test(size=SIZE) as pilot:
        seed(app.session.poller)  # type: ignore[arg-type]
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        assert any("read-only: running pipelines" in m for m in messages(app))


# -- the theme ---------------------------------------------------------------------------


async def test_the_theme_in_the_config_is_applied_at_start(tmp_path: Path) -> None:
    app = _app(tmp_path, '[ui]\ntheme = "nord"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "nord"


async def test_an_unknown_theme_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    app = _app(tmp_path, '[ui]\ntheme = "no-such-theme"\n')
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        said = " ".join(messages(app))
        assert "no-such-theme" in said and "not a theme" in said
        assert app.is_running


async def test_textual_theme_in_the_environment_outranks_the_file(tmp_path: Path) -> None:
    app = _app(tmp_path, '[ui]\ntheme = "nord"\n', env={"TERM": "xterm", "TEXTUAL_THEME": "x"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme != "nord"


async def test_a_picked_theme_is_saved_keeping_the_file(tmp_path: Path) -> None:
    app = _app(tmp_path, "[ui]\nbell = true  # ring\n")
    path = app.session.config.path
    before = path.read_text()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert path.read_text() == before  # starting writes nothing
        app.theme = "gruvbox"  # what ctrl+p, theme, gruvbox does
        for _ in range(50):
            await pilot.pause(0.02)
            if "gruvbox" in path.read_text():
                break
        after = path.read_text()
        assert after == before.replace(
            "bell = true  # ring\n", 'bell = true  # ring\ntheme = "gruvbox"\n'
        )
        assert load_config(path, ENV).ui.theme == "gruvbox"
        assert not any("not saved" in m for m in messages(app))
