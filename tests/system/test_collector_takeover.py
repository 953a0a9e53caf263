"""The collector's process is SIGKILLed: a viewer becomes the collector within seconds,
the other attaches to it, no row is lost (each keeps its original observation time until
a newer one comes), and the simulator at the documented limits (1/s, 20/min, 60 s
lock-out) never sees them broken. A real collector process, two viewers, real time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from api_limits import arrivals_within_documented_limits
from collector_helpers import CollectorProcess, Dashboard, until, write_config

from kondado_tui.core.collector.local import LocalBackend
from kondado_tui.core.events import HealthChanged, Role, StatusObserved
from kondado_tui.core.sim import SimWorld


@pytest.mark.slow
async def test_a_viewer_takes_over_when_the_collector_is_killed(
    tmp_path: Path,
    sim_factory,  # type: ignore[no-untyped-def]
) -> None:
    server = sim_factory(
        world=SimWorld(pipelines=10, seed=7, speed=10.0), rps=1, rpm=20, lockout=60.0
    )
    ids = server.world.pipeline_ids
    collector = CollectorProcess(write_config(tmp_path / "a", server, ids[:5]))
    b = c = None
    try:
        assert collector.role == "serving"
        b = await Dashboard(write_config(tmp_path / "b", server, ids[3:8])).start()
        c = await Dashboard(write_config(tmp_path / "c", server, ids[6:10])).start()
        assert b.session.role is Role.VIEWING and c.session.role is Role.VIEWING
        await until(lambda: set(b.session.known) == set(ids[3:8]), 60)
        await until(lambda: set(c.session.known) == set(ids[6:10]), 60)
        before_b = {pid: e.observation for pid, e in b.session.known.items()}
        before_c = {pid: e.observation for pid, e in c.session.known.items()}

        collector.kill()  # SIGKILL: no goodbye
        killed = time.monotonic()
        await until(lambda: {b.session.role, c.session.role} == {Role.SERVING, Role.VIEWING}, 15)
        took = time.monotonic() - killed
        assert took < 10.0, f"took over in {took:.1f} s"
        said = [e.health.collector for e in [*b.events, *c.events] if isinstance(e, HealthChanged)]
        assert any(link is not None and link.role is Role.LOST for link in said)  # the banner
        for board, before in ((b, before_b), (c, before_c)):  # no row lost, none older
            assert set(board.session.known) == set(before)
            for pid, observation in before.items():
                shown = board.session.known[pid].observation
                assert shown.observed_at >= observation.observed_at
        new = b if b.session.role is Role.SERVING else c
        backend = new.session.backend
        assert isinstance(backend, LocalBackend)
        await until(lambda: set(backend.poller.pipeline_ids) == set(ids[3:10]), 5)
        # the new collector polls for both: answers newer than the kill reach each
        wall_killed = time.time() - took
        for board in (b, c):
            await until(
                lambda board=board: any(
                    e.observation.observed_at > wall_killed for e in board.session.known.values()
                ),
                60,
            )
        # the rows nobody watches any more (the dead collector's own) are not asked
        asked_after = [r for r in server.log if r.time > wall_killed + 2]
        assert not any(f"/{pid}/" in r.path for r in asked_after for pid in ids[:3])
        # observations from the viewer's events never went back in time
        for board in (b, c):
            last: dict[int, float] = {}
            for event in board.events:
                if isinstance(event, StatusObserved):
                    at = event.observation.observed_at
                    assert at >= last.get(event.pipeline_id, 0.0)
                    last[event.pipeline_id] = at
    finally:
        collector.stop()
        for board in (b, c):
            if board is not None:
                await board.close()
    assert [r for r in server.log if r.rate_limited] == []
    arrivals_within_documented_limits(server)
