"""A collector that stops answering (its process stopped, its event loop hung) is
noticed: it beats when it has nothing else to say, and a viewer that hears nothing for
`SILENT_AFTER` takes it for lost. It still holds the account's name, so its viewers
gather on the stand-in name: one polls for all of them (not each alone), and when the
collector answers again they all attach to it. In one process, the collector's sends
blocked (what a hung loop does); tests/system/test_collector_stopped.py stops a real
one with SIGSTOP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from collector_helpers import Dashboard, until, write_config

import kondado_tui.core.collector.serve as serve
import kondado_tui.core.collector.shared as shared
import kondado_tui.core.collector.viewer as viewer
from kondado_tui.core.collector.local import LocalBackend
from kondado_tui.core.collector.viewer import ViewerBackend
from kondado_tui.core.events import HealthChanged, Role
from kondado_tui.core.sim import SimServer, SimWorld


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(world=SimWorld(pipelines=6, seed=3, speed=5.0), rate_limit=False)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve, "BEAT_EVERY", 0.2)
    monkeypatch.setattr(viewer, "SILENT_AFTER", 1.2)
    monkeypatch.setattr(shared, "STAND_IN_RETRY", 0.5)


async def test_a_quiet_collector_beats_and_its_viewers_stay(
    tmp_path: Path, server: SimServer, quick: None
) -> None:
    """Paused, it sends nothing else for many silences: its viewers stay attached."""
    ids = server.world.pipeline_ids
    a = await Dashboard(write_config(tmp_path / "a", server, ids[:1])).start()
    b = await Dashboard(write_config(tmp_path / "b", server, ids[:1])).start()
    try:
        assert b.session.role is Role.VIEWING
        b.session.poller.pause()
        a.session.poller.pause()  # nothing is asked, nothing sent: only beats
        await until(lambda: a.session.backend.poller.health.paused)  # type: ignore[union-attr]
        backend = b.session.backend
        assert isinstance(backend, ViewerBackend)
        await asyncio.sleep(3 * viewer.SILENT_AFTER)  # beats, nothing else
        assert b.session.role is Role.VIEWING and b.session.backend is backend
    finally:
        await b.close()
        await a.close()


async def test_viewers_of_a_silent_collector_gather_on_a_stand_in_and_come_back(
    tmp_path: Path, server: SimServer, quick: None
) -> None:
    ids = server.world.pipeline_ids
    a = await Dashboard(write_config(tmp_path / "a", server, ids[:2])).start()
    b = await Dashboard(write_config(tmp_path / "b", server, ids[1:3])).start()
    c = await Dashboard(write_config(tmp_path / "c", server, ids[2:4])).start()
    collector = a.session.backend
    assert isinstance(collector, LocalBackend) and collector.serving is not None
    serving = collector.serving
    try:
        await until(lambda: set(b.session.known) == set(ids[1:3]), 15)
        await until(lambda: set(c.session.known) == set(ids[2:4]), 15)
        serving._send_lines = lambda peer_id, lines: None  # type: ignore[method-assign]
        await until(lambda: {b.session.role, c.session.role} == {Role.ALONE, Role.VIEWING}, 15)
        stand, other = (b, c) if b.session.role is Role.ALONE else (c, b)
        said = [e.health.collector for e in stand.events if isinstance(e, HealthChanged)]
        assert any(link is not None and link.role is Role.LOST for link in said)  # the banner
        assert stand.session.standing_in and isinstance(stand.session.backend, LocalBackend)
        link = stand.session.poller.health.collector
        assert link is not None and "stopped answering" in link.why
        await until(lambda: stand.session.poller.health.collector.viewers == 1)  # type: ignore[union-attr]
        assert isinstance(other.session.backend, ViewerBackend)  # one poller, not two
        stood_in = stand.session.backend
        await until(lambda: set(stood_in.poller.pipeline_ids) == set(ids[1:4]))
        # the stand-in polls for both: answers newer than the silence reach the other
        marks = {pid: e.observation.observed_at for pid, e in other.session.known.items()}
        for pid in marks:
            other.session.poller.request_now(pid)
        await until(
            lambda: any(
                e.observation.observed_at > marks[pid] for pid, e in other.session.known.items()
            ),
            15,
        )
        # it answers again: the stand-in hands over, everyone views the collector
        del serving._send_lines
        await until(lambda: serving.viewers == 2, 15)
        await until(lambda: b.session.role is c.session.role is Role.VIEWING)
        assert not stand.session.standing_in
        await until(lambda: set(collector.poller.pipeline_ids) == set(ids[:4]))
    finally:
        await c.close()
        await b.close()
        await a.close()
