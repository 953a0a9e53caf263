"""How the app and its main screen talk: messages up, method calls down.

The screen never imports the app: the duplicate form is asked for with
`MainScreen.DuplicateRequested`; an alert is decided in the core and reaches the app as a
session event (`PollerMessage` carrying an `Alert`); poller events may come from any
thread (Textual's `post_message` is thread-safe); a worker's unexpected failure is told
in one place (`KondadoApp._worker_failed`), the app keeps running.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

from textual.message import Message
from ui_fakes import SIZE, build, messages, plain, seed

from kondado_tui.core.events import Alert
from kondado_tui.ui.app import PollerMessage
from kondado_tui.ui.screens import main as main_module
from kondado_tui.ui.screens.duplicate import DuplicateScreen
from kondado_tui.ui.screens.main import MainScreen
from kondado_tui.ui.view.columns import STATUS


def test_the_main_screen_does_not_import_the_app() -> None:
    tree = ast.parse(Path(main_module.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "kondado_tui.ui.app" not in imported


async def test_alert_and_duplicate_reach_the_app_as_messages(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    seen: list[Message] = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        seed(poller)
        await pilot.pause()
        poller.observe(2040, "error_building_tables", "disk full")  # active -> trouble
        await pilot.pause()
        alerted = {
            id(m): m.event
            for m in seen
            if isinstance(m, PollerMessage) and isinstance(m.event, Alert)
        }
        assert [alert.name for alert in alerted.values()] == ["Orders to warehouse"]
        assert any("disk full" in m for m in messages(app))
        app.main.table.select_key("2041")
        await pilot.press("d")
        await pilot.pause()
        (asked,) = {id(m): m for m in seen if isinstance(m, MainScreen.DuplicateRequested)}.values()
        assert asked.base.id == 2041
        assert isinstance(app.screen, DuplicateScreen)


async def test_a_poller_event_from_another_thread_reaches_the_table(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        await asyncio.to_thread(poller.observe, 3101, "error_building_tables", "from a thread")
        for _ in range(50):
            await pilot.pause(0.01)
            if plain(app, 3101, STATUS) == "✖ build error":
                break
        assert plain(app, 3101, STATUS) == "✖ build error"


async def test_a_workers_unexpected_failure_is_told_once_and_the_app_runs_on(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    poller.run_answers[3100] = RuntimeError("a bug, with token=t in it")
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        app.main.table.select_key("3100")
        await pilot.press("r", "enter")
        for _ in range(50):
            await pilot.pause(0.01)
            if any("went wrong" in m for m in messages(app)):
                break
        told = [m for m in messages(app) if "went wrong" in m]
        assert len(told) == 1, messages(app)
        assert "RuntimeError" in told[0] and "please report" in told[0]
        log = tmp_path / "state" / "kondado-tui" / "log" / "kondado-tui.log"
        assert f"the details are in {log}" in told[0]  # its traceback is there
        logged = log.read_text()
        assert "Traceback (most recent call last)" in logged and "token=***" in logged
        assert "token=t " not in logged
        assert app.is_running
        poller.observe(3101, "active")  # still alive: events still land
        await pilot.pause()
        assert plain(app, 3101, STATUS) == "● active"
