"""A running dashboard follows its config file: `kondado-tui add` meanwhile, an editor,
a broken save. Virtual time: the clock is moved by hand and the 10-second step called."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Input
from ui_fakes import SIZE, FakePoller, FakeSession, build, messages, plain, seed

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import Config, PipelineEntry, append_pipeline, load_config
from kondado_tui.core.config.watch import ConfigWatcher
from kondado_tui.core.models import PipelineStatus
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.screens.add import AddScreen
from kondado_tui.ui.view.columns import NAME

ENTRIES = (
    PipelineEntry(2040, "Orders", "shop"),
    PipelineEntry(2041, "Customers", "shop"),
    PipelineEntry(3100, "Facebook Ads", "ads"),
)
FILE = (
    "# my dashboard\n"
    "pipelines = [\n"
    '  { id = 2040, name = "Orders", group = "shop" },\n'
    '  { id = 2041, name = "Customers", group = "shop" },\n'
    '  { id = 3100, name = "Facebook Ads", group = "ads" },\n'
    "]\n"
    '\n[api]\nkey = "k"\ntoken = "t"\n'
)


def watching(tmp_path: Path) -> tuple[KondadoApp, FakePoller, ManualClock, Path]:
    app, poller = build(tmp_path, entries=ENTRIES)
    path = tmp_path / "config.toml"
    path.write_text(FILE)
    session = app.session
    assert isinstance(session, FakeSession)
    clock = app.clock
    assert isinstance(clock, ManualClock)

    def load() -> Config:  # as the launcher's reload: the same options, no token_command
        return load_config(path, {}, require_credentials=False)

    session.watcher = ConfigWatcher(load(), load, clock)
    return app, poller, clock, path


def rewrite(path: Path, text: str) -> None:
    """An editor's save: same second, maybe the same size; the mtime is moved on."""
    path.write_text(text)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


async def step(app: KondadoApp, pilot: object, clock: ManualClock) -> None:
    clock.advance(10.0)
    app.main.tick()
    for _ in range(3):
        await pilot.pause()  # type: ignore[attr-defined]


async def test_a_pipeline_added_meanwhile_appears_and_the_cursor_stays(tmp_path: Path) -> None:
    app, poller, clock, path = watching(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        app.main.table.select_key("2041")
        await pilot.pause()
        assert app.main.selected_id() == 2041
        # `kondado-tui add 4200 --name "New one"` in another pane:
        append_pipeline(path, PipelineEntry(4200, "New one", "shop"))
        await step(app, pilot, clock)
        assert "4200" in app.main.table.shown_keys
        assert plain(app, 4200, NAME) == "New one"
        assert ("set_pipelines", [2040, 2041, 3100, 4200]) in poller.calls
        assert app.main.selected_id() == 2041  # the cursor did not move
        assert any("config.toml changed: added New one (4200)" in m for m in messages(app))
        assert not any("restarts" in m for m in messages(app))
        # Another add, and `a` at once (before the next step): `a` looks at the file
        # first, so it shows the row and says the pipeline is listed (it used to let
        # it through, then refuse it at the save as already listed).
        append_pipeline(path, PipelineEntry(4300))
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AddScreen)
        assert "4300" in app.main.table.shown_keys
        app.screen.query_one("#ref", Input).value = "4300"
        await pilot.press("enter")
        await pilot.pause()
        assert "already" in str(app.screen.query_one("#problem").render())
        assert not [c for c in poller.calls if c == ("request_now", 4300)]


async def test_removed_and_renamed_in_an_editor(tmp_path: Path) -> None:
    app, poller, clock, path = watching(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        rewrite(
            path,
            FILE.replace('  { id = 2041, name = "Customers", group = "shop" },\n', "").replace(
                '"Facebook Ads"', '"Meta Ads"'
            ),
        )
        await step(app, pilot, clock)
        assert "2041" not in app.main.table.shown_keys
        assert plain(app, 3100, NAME) == "Meta Ads"
        assert ("set_pipelines", [2040, 3100]) in poller.calls
        assert any(
            "removed Customers (2041); relabelled Meta Ads (3100)" in m for m in messages(app)
        )
        calls = len(poller.calls)
        await step(app, pilot, clock)  # nothing changed since: nothing done
        assert len(poller.calls) == calls


async def test_a_broken_file_is_said_and_nothing_is_lost(tmp_path: Path) -> None:
    app, poller, clock, path = watching(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        rewrite(path, FILE.replace("{ id = 3100,", "{ id = 3100 "))  # a comma lost
        await step(app, pilot, clock)
        note = app.main.query_one("#config-note")
        assert not note.has_class("shown")  # maybe half saved: one more look first
        await step(app, pilot, clock)
        assert note.has_class("shown")
        text = str(note.render())
        assert f"{path}:5:" in text and "invalid TOML" in text
        assert "still running on the last good config" in text
        assert any("no longer loads" in m for m in messages(app))
        assert sorted(app.main.table.shown_keys) == ["2040", "2041", "3100"]  # nothing lost
        assert not [c for c in poller.calls if c[0] == "set_pipelines"]
        rewrite(path, FILE + "\n# fixed\n".replace("\n# fixed\n", "") + "")
        rewrite(path, FILE.replace('"Orders"', '"Orders (fixed)"'))
        await step(app, pilot, clock)
        assert not note.has_class("shown")
        assert plain(app, 2040, NAME) == "Orders (fixed)"


async def test_a_change_of_other_settings_is_for_the_next_start(tmp_path: Path) -> None:
    app, poller, clock, path = watching(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        rewrite(path, FILE + "\n[ui]\nbell = false\n")
        await step(app, pilot, clock)
        assert any("apply when kondado-tui restarts" in m for m in messages(app))
        assert not [c for c in poller.calls if c[0] == "set_pipelines"]


async def test_an_unknown_pipeline_is_refused_in_one_sentence(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    poller.status_answers[778] = "Pipeline not found."
    poller.status_answers[779] = PipelineStatus(779, "active")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#ref", Input).value = "778"
        await pilot.press("enter")
        for _ in range(3):
            await pilot.pause()
        problem = str(app.screen.query_one("#problem").render())
        assert "Pipeline 778 was not added: Pipeline not found; check the id." in problem
        assert ".;" not in problem


async def test_the_dashboards_own_edits_on_the_inline_form_are_not_news(tmp_path: Path) -> None:
    """`x` edits the inline array in place; the next look at the file finds the board
    already right, so no 'changed' note follows the dashboard's own save."""
    app, poller, clock, path = watching(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        app.main.table.select_key("2041")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(4):
            await pilot.pause()
        assert path.read_text() == FILE.replace(
            '  { id = 2041, name = "Customers", group = "shop" },\n', ""
        )
        await step(app, pilot, clock)
        assert not any("changed" in m for m in messages(app))
        assert sorted(app.main.table.shown_keys) == ["2040", "3100"]


async def test_a_pipeline_added_in_the_file_alerts_under_its_name(tmp_path: Path) -> None:
    """The alert decision (in the core) follows the file too: a pipeline added meanwhile
    is watched, and alerts by the name and group the file gives it."""
    from kondado_tui.core.events import Alert

    app, poller, clock, path = watching(tmp_path)
    session = app.session
    assert isinstance(session, FakeSession)
    alerts: list[Alert] = []
    session.subscribe(lambda e: alerts.append(e) if isinstance(e, Alert) else None)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        append_pipeline(path, PipelineEntry(4200, "New one", "shop"))
        await step(app, pilot, clock)
        poller.observe(4200, "active")
        poller.observe(4200, "error_building_tables", "db down")
        await pilot.pause()
    assert [(a.pipeline_id, a.name, a.group) for a in alerts] == [(4200, "New one", "shop")]
