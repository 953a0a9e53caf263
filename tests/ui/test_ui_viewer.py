"""The dashboard as a viewer of its account's collector (Pilot, the simulator over HTTP,
real sockets): rows come from the collector; the banner says when the collector is lost;
the screens keep their rows, cursor and a half-typed duplicate form while a viewer takes
over, and the form then sends through the new collector."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from collector_helpers import Dashboard, until, write_config
from textual.widgets import Input

import kondado_tui.core.collector.shared as shared_module
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.collector.shared import SharedSession
from kondado_tui.core.duplicate import draft_from_body
from kondado_tui.core.events import Role
from kondado_tui.core.sim import SimServer, SimWorld
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.screens.duplicate import DuplicateReviewScreen, DuplicateScreen
from kondado_tui.ui.view.columns import STATUS
from kondado_tui.ui.widgets.banner import Banner

SIZE = (120, 36)


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(world=SimWorld(pipelines=6, seed=3, speed=5.0), rate_limit=False)


@pytest.fixture
def slow_takeover(monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.Event]:
    """Taking over waits until the test lets it (so the banner can be seen)."""
    go = asyncio.Event()
    real = shared_module.attach.find_or_become

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("timeout") == shared_module.TAKEOVER_TIMEOUT:  # the takeover's call
            await go.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(shared_module.attach, "find_or_become", held)
    yield go
    go.set()


def banner_words(app: KondadoApp) -> str:
    return " ".join(str(app.main.query_one(Banner).render()).split())


async def test_rows_come_from_the_collector(tmp_path: Path, server: SimServer) -> None:
    ids = server.world.pipeline_ids[:3]
    collector = await Dashboard(write_config(tmp_path / "a", server, ids)).start()
    session = SharedSession.open(write_config(tmp_path / "b", server, ids), SYSTEM_CLOCK)
    app = KondadoApp(session, clock=SYSTEM_CLOCK)
    try:
        async with app.run_test(size=SIZE) as pilot:
            board = app.main.board
            await until(lambda: all(board.rows[pid].observation for pid in ids), 15)
            assert session.role is Role.VIEWING
            await pilot.pause()
            for pid in ids:
                cells = app.main.table.cells(str(pid))
                assert cells is not None and "not yet observed" not in cells[STATUS].plain
                shown = board.rows[pid].observation
                known = collector.session.known[pid].observation
                assert shown is not None and shown.observed_at <= known.observed_at
            status = str(app.main.query_one("#health").render())
            assert "viewer of pid" in status and "asking" not in status
    finally:
        await session.aclose()
        await collector.close()


async def test_the_banner_says_the_collector_is_lost_until_one_took_over(
    tmp_path: Path, server: SimServer, slow_takeover: asyncio.Event
) -> None:
    ids = server.world.pipeline_ids[:3]
    collector = await Dashboard(write_config(tmp_path / "a", server, ids)).start()
    session = SharedSession.open(write_config(tmp_path / "b", server, ids), SYSTEM_CLOCK)
    app = KondadoApp(session, clock=SYSTEM_CLOCK)
    try:
        async with app.run_test(size=SIZE) as pilot:
            board = app.main.board
            await until(lambda: all(board.rows[pid].observation for pid in ids), 15)
            await collector.close()  # q at the collector
            await until(lambda: session.role is Role.LOST)
            await pilot.pause()
            await until(lambda: "Lost this account's collector" in banner_words(app))
            assert "collector lost" in str(app.main.query_one("#health").render())
            slow_takeover.set()
            await until(lambda: session.role is Role.SERVING)
            await pilot.pause()
            await until(lambda: "Lost this account's collector" not in banner_words(app))
    finally:
        await session.aclose()
        await collector.close()


async def test_a_half_typed_duplicate_form_survives_a_takeover(
    tmp_path: Path, server: SimServer
) -> None:
    ids = server.world.pipeline_ids[:3]
    collector = await Dashboard(write_config(tmp_path / "a", server, ids)).start()
    session = SharedSession.open(write_config(tmp_path / "b", server, ids), SYSTEM_CLOCK)
    app = KondadoApp(session, clock=SYSTEM_CLOCK)
    base = ids[1]
    draft, problems = draft_from_body(server.world.example_duplicate_body(base))
    assert not problems
    app.drafts[base] = draft  # the tables mapped earlier in this session
    try:
        async with app.run_test(size=SIZE) as pilot:
            board = app.main.board
            await until(lambda: all(board.rows[pid].observation for pid in ids), 15)
            app.main.table.select_key(str(base))
            await pilot.pause()
            await pilot.press("d")
            await until(lambda: isinstance(app.screen, DuplicateScreen))
            form = app.screen
            assert isinstance(form, DuplicateScreen)
            name = form.query_one("#name", Input)
            name.focus()
            await pilot.press(*"Outlet co")  # half typed
            await pilot.pause()

            await collector.close()  # the collector goes: this dashboard takes over
            await until(lambda: session.role is Role.SERVING, 15)
            await pilot.pause()
            assert app.screen is form and form.query_one("#name", Input).value == "Outlet co"
            assert app.focused is name and app.main.selected_id() == base

            await pilot.press(*"py")  # the rest of it, then send through the new collector
            await pilot.press("ctrl+s")
            await until(lambda: isinstance(app.screen, DuplicateReviewScreen))
            await pilot.press("y")
            await until(lambda: app.screen is app.main)
            bodies = server.world.duplicate_bodies
            created = [b for b in bodies if b.get("name") == "Outlet copy"]
            assert len(created) == 1
            await until(lambda: len(set(board.rows) - set(ids)) == 1)  # adopted: shown, watched
            (new_id,) = set(board.rows) - set(ids)
            await until(lambda: board.rows[new_id].observation is not None, 15)
    finally:
        await session.aclose()
        await collector.close()
