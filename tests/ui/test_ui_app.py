"""The dashboard driven by keys (Pilot), against a hand-driven poller.

These cover what needs exact control of events: alerts, baselines, banners, cursor
survival. `test_ui_sim.py` drives the same app against the simulator over real HTTP.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input, Static
from ui_fakes import (
    ENTRIES,
    SIZE,
    FakePoller,
    FakeSession,
    build,
    make_config,
    messages,
    plain,
    record_bells,
    screen_text,
    seed,
)

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.errors import BadAnswer, Rejected
from kondado_tui.core.events import Connection
from kondado_tui.core.models import PipelineStatus, app_url
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.screens.add import AddScreen
from kondado_tui.ui.screens.confirm import ChoiceScreen, ConfirmScreen, SecondConfirmScreen
from kondado_tui.ui.screens.detail import DetailScreen
from kondado_tui.ui.screens.duplicate import DuplicateScreen
from kondado_tui.ui.screens.help import HelpScreen
from kondado_tui.ui.view.columns import AGE, MARK, MESSAGE, NAME, STATUS
from kondado_tui.ui.widgets.pipeline_table import PipelineTable


async def test_rows_show_glyph_words_and_first_line(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.observe(3101, "not_active", "line one\nline two")
        await pilot.pause()
        # short words at 120 columns: the status column fits every documented status
        assert plain(app, 3100, STATUS) == "✖ build error"
        assert plain(app, 2040, STATUS) == "● active"
        assert plain(app, 4200, STATUS) == "… pending"
        assert plain(app, 4200, AGE) == "never"
        assert plain(app, 3101, MESSAGE) == "line one"
        assert plain(app, 4200, NAME) == "pipeline 4200"
        # trouble on top by default
        assert app.main.table.shown_keys[0] == "3100"


async def test_markup_and_escape_sequences_are_shown_literally(tmp_path: Path) -> None:
    entries = (PipelineEntry(1, "[red]name[/red]"), PipelineEntry(2, "b"), PipelineEntry(3))
    app, poller = build(tmp_path, entries=entries)
    async with app.run_test(size=SIZE) as pilot:
        poller.observe(1, "active", "[b]x[/b]")
        poller.observe(2, "error_building_tables", "oops [/] here")
        poller.observe(
            3, "weird_new_status", "a\x1b[2Jb\x1b]0;pwned\x07c\x1b]52;c;ZXZpbA==\x07d\x9b31me"
        )
        await pilot.pause()
        assert plain(app, 1, MESSAGE) == "[b]x[/b]"
        assert plain(app, 1, NAME) == "[red]name[/red]"
        assert plain(app, 2, MESSAGE) == "oops [/] here"
        assert plain(app, 3, MESSAGE) == "abcde"
        assert plain(app, 3, STATUS).startswith("? weird")
        await pilot.press("down", "down")
        app.main.table.select_key("3")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        svg = screen_text(app)
        assert "\x1b" not in svg and "pwned" not in svg
        await pilot.press("escape")
        svg = screen_text(app)
        assert "[b]x[/b]" in svg.replace("&#160;", " ")
        assert app.is_running  # the stray [/] did not end the app


async def test_enter_opens_details_with_the_whole_message(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.observe(3100, "error_building_tables", "first line\nsecond line " + "x" * 300)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen) and screen.pipeline_id == 3100
        text = screen_text(app)
        assert "second" in text and app_url(3100) in text
        assert "error building tables" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_run_asks_first_and_runs_the_pipeline_captured_at_the_key(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    poller.run_answers[3100] = "queued"
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        assert app.main.selected_id() == 3100
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        # a refresh while the modal is open reorders rows under the cursor
        poller.observe(2040, "too_many_consecutive_failed_builds__blocked")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await pilot.pause()
        assert ("run_pipeline", 3100) in poller.calls
        assert ("run_pipeline", 2040) not in poller.calls
        assert any("requested: queued" in m for m in messages(app))


async def test_run_cancel_and_already_running_warning(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        app.main.table.select_key("2041")
        await pilot.press("r")
        await pilot.pause()
        assert "already running or scheduled" in screen_text(app)
        await pilot.press("n")
        await pilot.press("r")
        await pilot.press("escape")
        await pilot.pause()
        assert not any(c[0] == "run_pipeline" for c in poller.calls)


async def test_run_refused_shows_the_error(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    poller.run_answers[3100] = Rejected("not available on the Essentials plan")
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("r", "enter")
        await pilot.pause()
        await pilot.pause()
        said = [m for m in messages(app) if "not available on the Essentials plan" in m]
        assert said and "Nothing was queued." in said[0] and "may have been" not in said[0]


async def test_run_with_a_lost_answer_says_it_may_be_queued(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    poller.run_answers[3100] = BadAnswer("POST /pipelines/3100/run: got an HTML page")
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("r", "enter")
        await pilot.pause()
        await pilot.pause()
        said = [m for m in messages(app) if "got an HTML page" in m]
        assert said and "the run may have been queued" in said[0]
        assert "refused" not in said[0] and "Nothing was queued" not in said[0]


async def test_marked_rows_run_together_after_one_confirmation(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("space", "space")  # marks the two top rows, moving down
        await pilot.pause()
        marked = [k for k in app.main.table.shown_keys if plain(app, int(k), MARK)[0] == "✓"]
        assert len(marked) == 2
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Run 2 pipelines?" in screen_text(app)
        await pilot.press("y")
        for _ in range(5):
            await pilot.pause()
        runs = [c[1] for c in poller.calls if c[0] == "run_pipeline"]
        assert sorted(runs) == sorted(int(k) for k in marked)
        assert any("2 of 2 runs requested" in m for m in messages(app))
        assert not app.main.board.marked()


async def test_marked_rows_hidden_by_the_filter_are_named_in_the_question(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("space", "space")
        await pilot.pause()
        first, second = (app.main.board.rows[int(k)] for k in app.main.table.shown_keys[:2])
        assert first.marked and second.marked
        await pilot.press("slash", *first.entry.display_name, "enter")
        await pilot.pause()
        assert app.main.table.shown_keys == [str(first.id)]
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        warning = str(app.screen.query_one(".warning", Static).render())
        assert (
            f"1 of these is hidden by the filter “{first.entry.display_name}”: "
            f"{second.entry.display_name}." in warning
        )
        await pilot.press("n")


async def test_a_run_of_unknown_outcome_asks_twice_before_the_same_run(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    poller.run_answers[3100] = BadAnswer("POST /pipelines/3100/run: got an HTML page")

    def runs() -> int:
        return sum(1 for c in poller.calls if c == ("run_pipeline", 3100))

    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("r", "enter")  # 3100 is on top (error)
        for _ in range(3):
            await pilot.pause()
        assert runs() == 1
        poller.run_answers[3100] = "queued"
        await pilot.press("r", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SecondConfirmScreen)
        words = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "outcome is unknown" in words and "run it twice" in words
        await pilot.press("enter")  # out of habit: cancels
        await pilot.pause()
        assert runs() == 1 and app.screen is app.main
        await pilot.press("r", "enter")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(3):
            await pilot.pause()
        assert runs() == 2
        await pilot.press("r", "enter")  # it worked: no second question any more
        await pilot.pause()
        assert not isinstance(app.screen, SecondConfirmScreen)
        assert runs() == 3


async def test_duplicate_form_left_with_discard_or_keep(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()

        async def leave_with(key: str) -> None:
            await pilot.press("d")
            await pilot.pause()
            form = app.screen
            assert isinstance(form, DuplicateScreen)
            form.query_one("#src", Input).focus()
            await pilot.press("end", *"5052")
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, ChoiceScreen)
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.main

        await leave_with("k")
        await pilot.press("d")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DuplicateScreen) and form.draft.src == "5052"  # kept
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("x")  # discard this time
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, DuplicateScreen) and form.draft.src == ""  # discarded


async def test_read_only_refuses_run_and_duplicate_and_says_why(tmp_path: Path) -> None:
    app, poller = build(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("r", "d")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        found = messages(app)
        assert any("read-only: running pipelines is disabled" in m for m in found)
        assert any("read-only: duplicating pipelines is disabled" in m for m in found)
        assert "READ-ONLY" in str(app.main.query_one("#health").render())


async def test_filter_sort_and_clear(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("slash", *"ads")
        await pilot.pause()
        assert app.main.table.shown_keys == ["3100", "3101"]
        await pilot.press("enter")
        assert app.main.table.has_focus
        assert not app.main.query_one("#filter", Input).has_focus
        await pilot.press("s")  # name
        assert app.main.table.shown_keys == ["3100", "3101"]
        assert app.main.table.column_label(NAME) == "name ▼"
        await pilot.press("escape")
        await pilot.pause()
        assert len(app.main.table.shown_keys) == len(ENTRIES)
        await pilot.press("s", "s", "s")  # id, age, severity
        assert app.main.table.column_label(STATUS) == "status ▼"
        assert app.main.table.column_label(NAME) == "name"
        await pilot.press("slash", *"marketing", "escape")
        await pilot.pause()
        assert len(app.main.table.shown_keys) == len(ENTRIES)


async def test_cursor_follows_its_pipeline_through_reorders(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("down", "down")
        chosen = app.main.selected_id()
        poller.observe(4200, "too_many_consecutive_failed_builds__blocked")
        poller.observe(2040, "error_building_tables", "x")
        await pilot.pause()
        assert app.main.selected_id() == chosen
        before = app.main.table.cell_updates
        poller.observe(3101, "not_active")  # nothing changed but the age
        await pilot.pause()
        assert app.main.table.cell_updates - before <= 2


async def test_opening_a_pipeline_pins_the_cursor_to_it(tmp_path: Path) -> None:
    """Untouched, the cursor rides the top row; after details on it, it stays with that
    pipeline when another one breaks and sorts above it."""
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        opened = app.main.selected_id()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("escape")
        poller.observe(4200, "too_many_consecutive_failed_builds__blocked")
        await pilot.pause()
        assert app.main.table.shown_keys[0] == "4200"
        assert app.main.selected_id() == opened != 4200


async def test_keys_ask_now_pause_copy(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("f")
        assert ("request_now", 3100) in poller.calls
        await pilot.press("p")
        assert ("pause", None) in poller.calls
        assert "PAUSED" in str(app.main.query_one("#health").render())
        await pilot.press("p")
        assert ("resume", None) in poller.calls
        await pilot.press("c")
        assert app.clipboard == app_url(3100)
        assert any(app_url(3100) in m for m in messages(app))


async def test_help_and_quit(tmp_path: Path) -> None:
    app, _poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "stop monitoring" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_add_checks_the_pipeline_and_saves_it(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    poller.status_answers[777] = PipelineStatus(777, "active")
    poller.status_answers[778] = "pipeline 778 does not exist"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AddScreen)
        await pilot.press(*"nonsense", "enter")
        await pilot.pause()
        assert "pipeline id" in str(app.screen.query_one("#problem").render())
        app.screen.query_one("#ref", Input).value = "https://app.kondado.com.br/pipelines/778"
        await pilot.press("enter")
        for _ in range(3):
            await pilot.pause()
        assert "does not exist" in str(app.screen.query_one("#problem").render())
        app.screen.query_one("#ref", Input).value = "777"
        app.screen.query_one("#name", Input).value = "New one"
        await pilot.press("enter")
        for _ in range(5):
            await pilot.pause()
        assert not isinstance(app.screen, AddScreen)
        assert "777" in app.main.table.shown_keys
        assert plain(app, 777, NAME) == "New one"
        text = (tmp_path / "config.toml").read_text()
        assert "id = 777" in text and "778" not in text


async def test_remove_asks_then_edits_the_config(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        for _ in range(4):
            await pilot.pause()
        assert "3100" not in app.main.table.shown_keys
        assert "id = 3100" not in (tmp_path / "config.toml").read_text()
        assert ("set_pipelines", [2040, 2041, 3101, 4200]) in poller.calls


async def test_alert_on_turning_into_trouble_not_at_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, poller = build(tmp_path, desktop_notify=True)
    bells = record_bells(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)  # 3100 is already in error: the baseline
        await pilot.pause()
        assert bells == [] and app.escapes == []
        poller.observe(2040, "too_many_consecutive_failed_builds", "db \x1b]0;x\x07down;now")
        await pilot.pause()
        assert bells == [1]
        assert any(
            "too many consecutive failed builds" in m and "db down;now" in m for m in messages(app)
        )
        (escape,) = app.escapes
        assert escape.startswith("\x1b]9;") and "db down,now" in escape
        assert "\x07" not in escape and escape.count("\x1b") == 2
        poller.observe(2040, "too_many_consecutive_failed_builds", "db down")
        await pilot.pause()
        assert bells == [1]  # same state: not again
        poller.observe(2040, "active")
        await pilot.pause()
        assert bells == [1]  # recovery is quiet
        assert any("recovered" in m for m in messages(app))


async def test_banners_say_what_is_wrong(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.set_health(
            connection=Connection.UNREACHABLE,
            message="connection refused",
            retry_at=clock.now() + 30,
        )
        await pilot.pause()
        banner = str(app.main.query_one("#banner").render())
        assert "unreachable" in banner and "connection refused" in banner and "30s" in banner
        poller.set_health(
            connection=Connection.RATE_LIMITED,
            message="RATE_LIMIT_EXCEEDED",
            retry_at=clock.now() + 60,
        )
        await pilot.pause()
        assert "60s" in str(app.main.query_one("#banner").render())
        clock.advance(15)
        app.main.tick()
        await pilot.pause()
        assert "for 50s" in str(app.main.query_one("#banner").render())  # 10 s steps
        clock.advance(42)  # the last ten seconds count down one by one
        app.main.tick()
        await pilot.pause()
        assert "for 3s" in str(app.main.query_one("#banner").render())
        poller.set_health(connection=Connection.REJECTED, message="invalid token")
        await pilot.pause()
        banner = str(app.main.query_one("#banner").render())
        assert "rejected" in banner and "api.token" in banner
        poller.set_health(connection=Connection.BAD_ANSWER, message="HTML instead of JSON")
        await pilot.pause()
        assert "unreadable" in str(app.main.query_one("#banner").render())
        poller.set_health(connection=Connection.OK, message="", retry_at=None)
        await pilot.pause()
        assert not app.main.query_one("#banner").has_class("shown")


async def test_old_observations_are_marked_stale(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        assert "⚠" not in plain(app, 2040, AGE)
        clock.advance(181)  # max_age 120 + margin 60
        app.main.tick()
        await pilot.pause()
        assert plain(app, 2040, AGE) == "3m ⚠"


async def test_duplicate_opens_the_form_and_adopts_the_new_pipeline(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DuplicateScreen) and screen.base.id == 3100
        screen.dismiss(5555)  # what the form does after Kondado created the pipeline
        for _ in range(4):
            await pilot.pause()
        assert app.main.selected_id() == 5555
        assert ("set_pipelines", [2040, 2041, 3100, 3101, 4200, 5555]) in poller.calls
        assert "id = 5555" in (tmp_path / "config.toml").read_text()


async def test_keys_typed_right_after_slash_reach_the_filter(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        # all at once, as tmux delivers a fast typist or a paste
        for key, char in (("slash", "/"), ("a", "a"), ("d", "d"), ("s", "s")):
            app.post_message(events.Key(key, char))
        await pilot.pause()
        await pilot.pause()
        assert app.main.query_one("#filter", Input).value == "ads"
        assert not isinstance(app.screen, AddScreen)


async def test_a_slash_can_be_typed_in_the_filter(tmp_path: Path) -> None:
    entries = (
        PipelineEntry(1, "orders", "shop/eu"),
        PipelineEntry(2, "orders", "shop/us"),
        PipelineEntry(3, "ads", "marketing"),
    )
    app, poller = build(tmp_path, entries=entries)
    async with app.run_test(size=SIZE) as pilot:
        for entry in entries:
            poller.observe(entry.id, "active")
        await pilot.pause()
        await pilot.press("slash", *"shop/eu")
        await pilot.pause()
        box = app.main.query_one("#filter", Input)
        assert box.value == "shop/eu"
        assert app.main.table.shown_keys == ["1"]
        await pilot.press("enter")  # back to the table: / opens the filter again
        await pilot.pause()
        assert app.focused is app.main.table
        await pilot.press("slash", "end", "x")
        await pilot.pause()
        assert app.focused is box and box.value == "shop/eux"


async def test_empty_config_and_empty_filter_say_what_to_do(tmp_path: Path) -> None:
    app, _poller = build(tmp_path, entries=())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        empty = app.main.query_one("#empty")
        assert empty.has_class("shown")
        assert "Press a to add one" in str(empty.render())
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.press("slash", *"zzz")
        empty = app.main.query_one("#empty")
        assert empty.has_class("shown") and "zzz" in str(empty.render())
        await pilot.press("escape")
        assert not empty.has_class("shown")


async def test_no_bell_when_the_config_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock(frozen=True)
    poller = FakePoller(clock, [1])
    config = make_config(tmp_path / "c.toml", (PipelineEntry(1, "one"),), bell=False)
    app = KondadoApp(FakeSession(config, poller), clock=clock, env={})
    bells = record_bells(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        poller.observe(1, "active")
        poller.observe(1, "error_building_tables", "boom")
        await pilot.pause()
        assert bells == [] and app.escapes == []
        assert any("boom" in m for m in messages(app))


async def test_theme_change_recolours_the_rows(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        dark = app.main.table.cells("2040")
        app.theme = "textual-light"
        await pilot.pause()
        light = app.main.table.cells("2040")
        assert dark is not None and light is not None
        assert dark[STATUS].style != light[STATUS].style
        assert light[STATUS].plain == "● active"


async def test_a_burst_of_events_is_one_redraw_and_idle_ticks_touch_nothing(
    tmp_path: Path,
) -> None:
    entries = tuple(PipelineEntry(10_000 + i, f"p{i}") for i in range(300))
    app, poller = build(tmp_path, entries=entries)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = app.main.flushes
        for entry in entries:  # e.g. history replayed at start-up
            poller.observe(entry.id, "active", at=clock.now() - 7200)
        await pilot.pause()
        await pilot.pause()
        assert app.main.flushes - before <= 3
        assert all(app.main.table.cells(str(e.id)) for e in entries)
        updates = app.main.table.cell_updates
        clock.advance(20)  # two hours old: "2h" does not change in 20 s
        app.main.tick()
        assert app.main.table.cell_updates == updates


async def test_command_palette_offers_the_dashboard_actions(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"pause / resume")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert ("pause", None) in poller.calls


async def test_moving_with_keys_and_mouse_and_clearing_change_marks(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        order = app.main.table.shown_keys
        await pilot.press("j", "j")
        assert app.main.selected_id() == int(order[2])
        await pilot.press("k")
        assert app.main.selected_id() == int(order[1])
        await pilot.press("end")
        assert app.main.selected_id() == int(order[-1])
        await pilot.press("home")
        assert app.main.selected_id() == int(order[0])
        await pilot.click(PipelineTable, offset=(10, 4))  # header + 3 rows down
        await pilot.pause()
        assert app.main.selected_id() == int(order[3])
        # a change on another row leaves a mark; u clears every mark
        other = int(order[0])
        poller.observe(other, "running")
        await pilot.pause()
        assert plain(app, other, MARK)[1] == "•"
        await pilot.press("u")
        await pilot.pause()
        assert plain(app, other, MARK)[1] == " "


async def test_the_detail_screen_follows_new_observations(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        poller.observe(3100, "active", "fixed by hand [i]really[/i]")
        await pilot.pause()
        text = screen_text(app)
        assert "fixed by hand [i]really[/i]" in text and "⚠ active" in text
        await pilot.press("f", "c")
        assert ("request_now", 3100) in poller.calls and app.clipboard == app_url(3100)
