"""The dashboard on a real Session talking to the simulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Callable
from pathlib import Path

from history_faults import FullDisk
from rich.console import Console
from textual.widgets import Static

from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.config import load_config
from kondado_tui.core.session import Session
from kondado_tui.core.sim import SimServer
from kondado_tui.core.sim.faults import FaultMode
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.screens.confirm import ConfirmScreen, SecondConfirmScreen
from kondado_tui.ui.screens.detail import DetailScreen
from kondado_tui.ui.screens.help import HelpScreen
from kondado_tui.ui.view.columns import MESSAGE, STATUS

SIZE = (120, 36)


def write_config(tmp_path: Path, sim: SimServer, ids: list[int]) -> Path:
    path = tmp_path / "config.toml"
    lines = [
        "# written by a test\n[api]\n",
        f'base_url = "{sim.base_url}"\nkey = "{sim.key}"\ntoken = "{sim.token}"\n',
        f'ledger = "{tmp_path / "ledger.sqlite3"}"\n',
        f'[history]\npath = "{tmp_path / "history.sqlite3"}"\n',
    ]
    for pid in ids:
        lines.append(f'\n[[pipelines]]\nid = {pid}\nname = "sim {pid}"\n')
    path.write_text("".join(lines))
    path.chmod(0o600)
    return path


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def as_text(widget: Static) -> str:
    """What a Static shows, as plain text on long lines (rich renderables included)."""
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(widget.content)
    return " ".join(console.export_text().split())


def open_app(tmp_path: Path, sim: SimServer, count: int) -> tuple[KondadoApp, Session, list[int]]:
    ids = sim.world.pipeline_ids[:count]
    config = load_config(write_config(tmp_path, sim, ids), env={})
    session = Session.open(config, SYSTEM_CLOCK)
    return KondadoApp(session, clock=SYSTEM_CLOCK), session, ids


async def test_live_rows_fill_in_from_the_api(tmp_path: Path, sim: SimServer) -> None:
    app, session, ids = open_app(tmp_path, sim, 3)
    try:
        async with app.run_test(size=SIZE):
            board = app.main.board
            await until(lambda: all(board.rows[i].observation for i in ids))
            for pid in ids:
                cells = app.main.table.cells(str(pid))
                assert cells is not None and "not yet observed" not in cells[STATUS].plain
            assert "connected" in str(app.main.query_one("#health").render())
    finally:
        await session.aclose()


async def test_run_key_posts_a_run(tmp_path: Path, sim: SimServer) -> None:
    app, session, _ids = open_app(tmp_path, sim, 2)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: app.main.selected_id() is not None)
            pid = app.main.selected_id()
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(
                lambda: any(
                    r.method == "POST" and r.path == f"/pipelines/{pid}/run" for r in sim.log
                )
            )
            await until(lambda: any("Run of" in str(n.message) for n in app._notifications))
    finally:
        await session.aclose()


async def test_a_run_answered_by_a_cut_success_body_may_be_queued_and_asks_twice(
    tmp_path: Path, sim: SimServer
) -> None:
    app, session, _ids = open_app(tmp_path, sim, 2)

    def runs() -> list[str]:
        return [r.path for r in sim.log if r.method == "POST" and r.path.endswith("/run")]

    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: app.main.selected_id() is not None)
            await pilot.press("p")  # paused: the next request is the run, not a poll
            await pilot.pause(0.5)
            sim.set_fault(FaultMode.MALFORMED_JSON, count=1, body='{"success": true, "mess')
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(
                lambda: any("may have been queued" in str(n.message) for n in app._notifications)
            )
            said = next(str(n.message) for n in app._notifications if "queued" in str(n.message))
            assert "Nothing was queued" not in said and "refused" not in said
            await pilot.press("r")
            await until(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(lambda: isinstance(app.screen, SecondConfirmScreen))
            await pilot.press("y")
            await until(lambda: len(runs()) == 2)
            assert runs()[0] == runs()[1]  # the same pipeline, asked twice
            await until(lambda: any("requested" in str(n.message) for n in app._notifications))
    finally:
        await session.aclose()


async def test_garbage_answers_raise_the_banner(tmp_path: Path, sim: SimServer) -> None:
    sim.set_fault(FaultMode.HTML_200)
    app, session, ids = open_app(tmp_path, sim, 3)
    try:
        async with app.run_test(size=SIZE):
            banner = app.main.query_one("#banner")
            await until(lambda: banner.has_class("shown"), timeout=15)
            text = str(banner.render())
            assert "unreadable" in text
            assert sim.token not in text
            cells = app.main.table.cells(str(ids[0]))
            assert cells is not None and cells[MESSAGE].plain.startswith("could not ask:")
    finally:
        await session.aclose()


async def test_http_429_is_rate_limiting_not_a_refusal_of_every_row(
    tmp_path: Path, sim: SimServer
) -> None:
    sim.set_fault(FaultMode.HTTP_429, retry_after="47")
    app, session, ids = open_app(tmp_path, sim, 3)
    try:
        async with app.run_test(size=SIZE):
            banner = app.main.query_one("#banner")
            await until(lambda: banner.has_class("shown"), timeout=15)
            # nobody here went over the limit: a little longer than the 47 s asked, at
            # random; the host broker's word on it may follow the first banner by a moment
            await until(lambda: "at least as long" in str(banner.render()), timeout=10)
            text = str(banner.render())
            assert "Rate limited by Kondado (HTTP 429)" in text
            assert re.search(
                r"Next try in (50|60|70|80|90)s, at least as long as the API asked", text
            )
            assert "someone else uses the budget too" in text
            assert "rate limited" in str(app.main.query_one("#health").render())
            for pid in ids:
                row = app.main.board.rows[pid]
                assert row.refusal is None  # not "no access" / "refused"
            assert session.store is not None and session.store.refusals() == {}
            assert len(sim.log) == 1  # the wait is obeyed: nothing more was sent
    finally:
        await session.aclose()


async def test_history_that_cannot_be_saved_is_said_then_clears(
    tmp_path: Path, sim: SimServer
) -> None:
    """A full disk after start-up (history_faults.FullDisk on the real store): the status
    line, the detail screen and the help say so; it clears after a write works again."""
    app, session, ids = open_app(tmp_path, sim, 2)
    assert session.store is not None
    try:
        async with app.run_test(size=SIZE) as pilot:
            health = app.main.query_one("#health")
            await until(lambda: all(app.main.board.rows[i].observation for i in ids))
            assert "history" not in str(health.render())
            disk = FullDisk(session.store)
            await pilot.press("f")  # ask now: an answer to record
            await until(lambda: "history not saved" in str(health.render()))
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, DetailScreen))
            history = app.screen.query_one("#history", Static)
            await until(lambda: "database or disk is full" in as_text(history))
            assert "missing from this history" in as_text(history)
            await pilot.press("escape", "question_mark")
            await until(lambda: isinstance(app.screen, HelpScreen))
            assert "Now: History could not be saved" in as_text(app.screen.query_one(Static))
            await pilot.press("escape")
            disk.full = False
            await pilot.press("f")
            await until(lambda: "history" not in str(health.render()))
            assert disk.refused >= 1
    finally:
        await session.aclose()
