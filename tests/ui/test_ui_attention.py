"""What the dashboard tells the poller about attention: every key or click is activity
(once each, whichever screen has it), answers and cursor moves by themselves are not,
and an open detail screen pins its row until the table is back on top."""

from __future__ import annotations

from pathlib import Path

from textual import events
from ui_fakes import SIZE, FakePoller, build, seed

from kondado_tui.ui.screens.detail import DetailScreen


def activity(poller: FakePoller) -> int:
    return poller.calls.count(("user_active", None))


def focus_calls(poller: FakePoller) -> list[tuple[str, int | None]]:
    return [c for c in poller.calls if c[0] in ("focus", "focus_pinned")]


async def test_keys_and_clicks_are_activity_answers_are_not(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        assert activity(poller) == 0  # opening and answers: nobody pressed anything
        # the answers re-sorted the table under a cursor nobody moved: the poller knows
        # the row now under it (the one a key would be about)
        assert focus_calls(poller)[-1] == ("focus", app.main.selected_id())
        await pilot.press("down")
        assert activity(poller) == 1  # one key, one report (not again as it bubbles)
        assert focus_calls(poller)[-1] == ("focus", app.main.selected_id())
        await pilot.press("question_mark")  # another screen: still the same app-wide hook
        await pilot.press("escape")
        assert activity(poller) == 3
        # as the driver posts them (Pilot's clicks skip the app and go to the screen)
        for mouse in (events.MouseDown, events.MouseScrollDown, events.MouseMove):
            app.post_message(mouse(None, 5, 3, 0, 0, 1, False, False, False, 5, 3))
        await pilot.pause()
        assert activity(poller) == 5  # a click and a scroll; a pointer passing by is not
        poller.observe(2040, "running")  # a change re-sorts the table: not activity
        await pilot.pause()
        assert activity(poller) == 5


async def test_the_detail_screen_pins_its_row_while_it_is_open(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        pid = app.main.selected_id()
        assert pid is not None
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert focus_calls(poller)[-1] == ("focus_pinned", pid)
        pinned_at = len(poller.calls)
        for status in ("running", "error_building_tables", "active"):
            poller.observe(2041, status)  # the table below re-sorts
            poller.observe(3101, status)
            await pilot.pause()
        app.main.table.move_cursor(row=2)  # as when its row leaves the list: a highlight
        await pilot.pause()
        assert not [c for c in poller.calls[pinned_at:] if c[0] == "focus"]  # still pinned
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)
        assert focus_calls(poller)[-1] == ("focus", app.main.selected_id())  # unpinned
