"""A collector nobody views costs nothing at idle: its beat (what tells viewers it is
alive) runs only while a viewer is attached, so a lone dashboard's loop is not woken
every few seconds for nobody."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from collector_helpers import Dashboard, until, write_config

import kondado_tui.core.collector.serve as serve
from kondado_tui.core.collector.local import LocalBackend
from kondado_tui.core.events import Role
from kondado_tui.core.sim import SimServer, SimWorld


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(world=SimWorld(pipelines=4, seed=3, speed=5.0), rate_limit=False)


async def test_the_beat_runs_only_while_someone_views(
    tmp_path: Path, server: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "BEAT_EVERY", 0.2)
    ids = server.world.pipeline_ids
    a = await Dashboard(write_config(tmp_path / "a", server, ids[:1])).start()
    try:
        backend = a.session.backend
        assert isinstance(backend, LocalBackend)
        await until(lambda: backend.serving is not None)
        serving = backend.serving
        assert serving is not None
        await asyncio.sleep(0.5)  # beats would have come and gone
        assert serving._beating is None  # nobody to tell: no timer at all
        b = await Dashboard(write_config(tmp_path / "b", server, ids[:1])).start()
        try:
            assert b.session.role is Role.VIEWING
            await until(lambda: serving.viewers == 1)
            assert serving._beating is not None
        finally:
            await b.close()
        await until(lambda: serving.viewers == 0)
        await until(lambda: serving._beating is None, timeout=2.0)  # the next beat stops
    finally:
        await a.close()
