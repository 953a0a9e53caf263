"""The collector's process is stopped (SIGSTOP: what a hung loop or a machine deep in
swap looks like from outside): its viewers notice within seconds (it no longer beats),
say so, and gather on the stand-in name, so one of them polls for both; when it is
continued (SIGCONT) they attach to it again and the stand-in stops polling. The
simulator at the documented limits never sees them broken. A real process, real time."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from api_limits import arrivals_within_documented_limits
from collector_helpers import CollectorProcess, Dashboard, until, write_config

import kondado_tui.core.collector.shared as shared
import kondado_tui.core.collector.viewer as viewer
from kondado_tui.core.collector.local import LocalBackend
from kondado_tui.core.collector.viewer import ViewerBackend
from kondado_tui.core.events import HealthChanged, Role


@pytest.mark.slow
async def test_a_stopped_collector_is_noticed_stood_in_for_and_taken_back(
    tmp_path: Path,
    sim_factory,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kondado_tui.core.sim import SimWorld

    monkeypatch.setattr(viewer, "SILENT_AFTER", 1.5)
    monkeypatch.setattr(shared, "STAND_IN_RETRY", 1.0)
    server = sim_factory(
        world=SimWorld(pipelines=8, seed=5, speed=10.0), rps=1, rpm=20, lockout=60.0
    )
    ids = server.world.pipeline_ids
    collector = CollectorProcess(write_config(tmp_path / "a", server, ids[:3]), beat_every=0.3)
    b = c = None
    try:
        assert collector.role == "serving"
        b = await Dashboard(write_config(tmp_path / "b", server, ids[2:5])).start()
        c = await Dashboard(write_config(tmp_path / "c", server, ids[4:7])).start()
        assert b.session.role is Role.VIEWING and c.session.role is Role.VIEWING
        await until(lambda: set(b.session.known) == set(ids[2:5]), 60)
        await until(lambda: set(c.session.known) == set(ids[4:7]), 60)

        os.kill(collector.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        await until(lambda: {b.session.role, c.session.role} == {Role.ALONE, Role.VIEWING}, 15)
        took = time.monotonic() - stopped
        assert took < 10.0, f"noticed and stood in within {took:.1f} s"
        stand, other = (b, c) if b.session.role is Role.ALONE else (c, b)
        said = [e.health.collector for e in other.events if isinstance(e, HealthChanged)]
        assert any(link is not None and link.role is Role.LOST for link in said)  # the banner
        link = stand.session.poller.health.collector
        assert link is not None and f"(pid {collector.pid}) stopped answering" in link.why
        assert isinstance(stand.session.backend, LocalBackend)
        backend = other.session.backend
        assert isinstance(backend, ViewerBackend) and backend.collector.pid == os.getpid()

        os.kill(collector.pid, signal.SIGCONT)
        continued = time.monotonic()

        def viewing_it(board: Dashboard) -> bool:
            backend = board.session.backend
            return isinstance(backend, ViewerBackend) and backend.collector.pid == collector.pid

        await until(lambda: viewing_it(b) and viewing_it(c), 20)
        assert time.monotonic() - continued < 15.0
        assert b.session.role is c.session.role is Role.VIEWING
        assert set(b.session.known) == set(ids[2:5]) and set(c.session.known) == set(ids[4:7])
        # the collector polls for them again: answers newer than its return reach each
        wall = time.time()
        for board in (b, c):
            await until(
                lambda board=board: any(
                    e.observation.observed_at > wall for e in board.session.known.values()
                ),
                60,
            )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(collector.pid, signal.SIGCONT)
        collector.stop()
        for board in (b, c):
            if board is not None:
                await board.close()
    assert [r for r in server.log if r.rate_limited] == []
    arrivals_within_documented_limits(server)
