"""Dashboards of one account: the first polls and serves, the next attach as viewers;
one schedule for all; each receives only its pipelines; runs and duplicates from a
viewer; taking over when the collector goes. The simulator over real HTTP, real sockets,
real time (short)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from collector_helpers import Dashboard, until, write_config

from kondado_tui.core.collector.local import LocalBackend
from kondado_tui.core.collector.viewer import ViewerBackend
from kondado_tui.core.errors import BadAnswer, Outcome, Rejected, ValidationError
from kondado_tui.core.events import PipelineFailed, Role, StatusObserved
from kondado_tui.core.models import Observation
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(world=SimWorld(pipelines=8, seed=2, speed=5.0), rate_limit=False)


async def open_dashboards(tmp_path: Path, server: SimServer, *lists: list[int]) -> list[Dashboard]:
    made = []
    for n, ids in enumerate(lists):
        config = write_config(tmp_path / f"login{n}", server, ids)
        made.append(await Dashboard(config).start())
    return made


def seen_ids(board: Dashboard) -> set[int]:
    return {e.pipeline_id for e in board.events if isinstance(e, StatusObserved | PipelineFailed)}


async def test_the_second_dashboard_attaches_and_the_collector_polls_the_union(
    tmp_path: Path, server: SimServer
) -> None:
    ids = server.world.pipeline_ids
    a, b = await open_dashboards(tmp_path, server, ids[:3], ids[2:5])
    try:
        assert a.session.role is Role.SERVING and isinstance(a.session.backend, LocalBackend)
        assert b.session.role is Role.VIEWING and isinstance(b.session.backend, ViewerBackend)
        collector = a.session.backend
        await until(lambda: set(collector.poller.pipeline_ids) == set(ids[:5]))
        await until(lambda: set(b.session.known) == set(ids[2:5]), 15)
        await until(lambda: set(a.session.known) == set(ids[:3]), 15)
        # each dashboard is told only of its own pipelines
        assert seen_ids(a) <= set(ids[:3]) and seen_ids(b) <= set(ids[2:5])
        health = b.session.poller.health
        assert health.collector is not None and health.collector.viewers == 1
        assert a.session.poller.health.collector.viewers == 1  # type: ignore[union-attr]
        # the observation times are the collector's, not when the viewer received them
        for pid in ids[2:3]:
            assert b.session.known[pid].observation == collector.latest[pid].observation
    finally:
        await b.close()
        await a.close()


async def test_a_viewer_never_receives_a_pipeline_it_does_not_watch(
    tmp_path: Path, server: SimServer
) -> None:
    ids = server.world.pipeline_ids
    a, b = await open_dashboards(tmp_path, server, ids[:4], ids[4:6])
    viewer = b.session.backend
    assert isinstance(viewer, ViewerBackend)
    raw: list[int] = []
    emit = viewer._emit
    viewer._emit = lambda event: (  # what arrives on the socket, before any filtering
        raw.append(event.pipeline_id)
        if isinstance(event, StatusObserved | PipelineFailed)
        else None,
        emit(event),
    )[-1]
    try:
        await until(lambda: set(b.session.known) == set(ids[4:6]), 15)
        for pid in ids[:4]:  # a's pipelines change and are asked about
            b.session.poller.request_now(pid)  # not its own: ignored by the collector
            a.session.poller.request_now(pid)
        await until(lambda: len(a.session.known) == 4, 15)
        await asyncio.sleep(1.0)
        assert set(raw) <= set(ids[4:6])
        # it watches one more: told at once what is known of it
        b.session.poller.set_pipelines([*ids[4:6], ids[0]])
        await until(lambda: ids[0] in b.session.known, 5)
        collector = a.session.backend
        assert isinstance(collector, LocalBackend)
        told = b.session.known[ids[0]].observation
        assert told.observed_at <= collector.latest[ids[0]].observation.observed_at
        # it stops watching one: the collector stops asking about it for it
        b.session.poller.set_pipelines(ids[4:5])
        await until(lambda: ids[5] not in collector.poller.pipeline_ids)
    finally:
        await b.close()
        await a.close()


async def test_interest_union_follows_viewers_and_pauses(tmp_path: Path, server: SimServer) -> None:
    ids = server.world.pipeline_ids
    a, b = await open_dashboards(tmp_path, server, ids[:2], ids[2:4])
    collector = a.session.backend
    assert isinstance(collector, LocalBackend)
    poller = collector.poller
    try:
        await until(lambda: set(poller.pipeline_ids) == set(ids[:4]))
        b.session.poller.focus(ids[3], pinned=True)  # its detail screen is open
        await until(lambda: poller.scheduler.attended(0.0, f"viewer {_peer_of(collector)}"))
        b.session.poller.pause()  # the viewer paused: its pipelines are held, not dropped
        await until(lambda: poller.scheduler._held == frozenset(ids[2:4]))
        assert b.session.poller.health.paused and not a.session.poller.health.paused
        a.session.poller.pause()  # everyone paused: the poller pauses
        await until(lambda: poller.health.paused)
        b.session.poller.resume()
        await until(
            lambda: not poller.health.paused and poller.scheduler._held == frozenset(ids[:2])
        )
        a.session.poller.resume()
        await b.close()  # the viewer left: its pipelines and its cursor leave the schedule
        await until(lambda: set(poller.pipeline_ids) == set(ids[:2]))
        assert not any(w.startswith("viewer") for w in poller.scheduler._watchers)
    finally:
        await a.close()


async def quiet(server: SimServer, seconds: float = 1.5) -> None:
    """Until the simulator heard nothing for `seconds`."""
    while True:
        count = len(server.log)
        await asyncio.sleep(seconds)
        if len(server.log) == count:
            return


def _peer_of(collector: LocalBackend) -> int:
    assert collector.serving is not None
    return next(iter(collector.serving._viewers))


async def test_run_and_duplicate_from_a_viewer(tmp_path: Path, server: SimServer) -> None:
    ids = server.world.pipeline_ids
    missing = 999_999
    runnable = [p for p in ids if server.world.status(p)["status"] == "active"]
    a, b = await open_dashboards(tmp_path, server, ids[:1], [*runnable[:2], missing])
    ids = [ids[0], ids[0], *runnable[:2]]
    try:
        answer = await b.session.poller.run_pipeline(ids[2])
        assert "queued" in answer
        runs = [r for r in server.log if r.method == "POST" and r.path.endswith("/run")]
        assert len(runs) == 1 and f"/{ids[2]}/" in runs[0].path
        # a run Kondado refuses: the typed error, as the collector's poller raised it
        with pytest.raises(Rejected) as refused:
            await b.session.poller.run_pipeline(missing)
        assert refused.value.outcome is Outcome.NOT_DONE and "not found" in str(refused.value)
        # a run whose answer is cut: it may be queued (the second-confirmation case)
        a.session.poller.pause()
        b.session.poller.pause()  # nothing else is asked: the fault hits the run
        await until(lambda: a.session.backend.poller.health.paused)  # type: ignore[union-attr]
        await quiet(server)  # the follow-up of the run above goes even while paused
        idle = next(p for p in (ids[3], ids[2]) if server.world.status(p)["status"] == "active")
        server.set_fault(FaultMode.MALFORMED_JSON, count=1)
        with pytest.raises(BadAnswer) as cut:
            await b.session.poller.run_pipeline(idle)
        assert cut.value.outcome is Outcome.UNKNOWN
        a.session.poller.resume()
        b.session.poller.resume()
        # duplicate: refused by the one validator, then created and watched
        with pytest.raises(ValidationError):
            await b.session.poller.duplicate({"pipeline_id": ids[2], "name": "x"})
        body = server.world.example_duplicate_body(ids[2])
        new_id = await b.session.poller.duplicate(body)
        b.session.set_entries(
            [dataclasses.replace(e) for e in b.config.pipelines]
            + [type(b.config.pipelines[0])(new_id)]
        )
        await until(lambda: new_id in b.session.known, 10)
        assert b.session.known[new_id].observation.status.status == "building_tables"
    finally:
        await b.close()
        await a.close()


async def test_history_of_the_detail_screen_comes_from_the_collector(
    tmp_path: Path, server: SimServer
) -> None:
    ids = server.world.pipeline_ids
    a, b = await open_dashboards(tmp_path, server, ids[:2], ids[:2])
    try:
        await until(lambda: set(b.session.known) == set(ids[:2]), 15)
        store = b.session.store
        assert store is not None
        summary = await asyncio.to_thread(store.summary, ids[0])
        transitions = await asyncio.to_thread(store.transitions, ids[0], limit=200)
        runs = await asyncio.to_thread(store.runs, ids[0], 30)
        local = a.session.store
        assert local is not None
        assert transitions == await asyncio.to_thread(local.transitions, ids[0], limit=200)
        assert summary == await asyncio.to_thread(local.summary, ids[0])
        assert runs == await asyncio.to_thread(local.runs, ids[0], 30)
        assert transitions  # the first observation is a transition
    finally:
        await b.close()
        await a.close()


async def test_a_viewer_takes_over_when_its_collector_quits(
    tmp_path: Path, server: SimServer
) -> None:
    ids = server.world.pipeline_ids
    a, b, c = await open_dashboards(tmp_path, server, ids[:3], ids[2:5], ids[4:7])
    try:
        await until(lambda: set(b.session.known) == set(ids[2:5]), 15)
        await until(lambda: set(c.session.known) == set(ids[4:7]), 15)
        before = {pid: e.observation for pid, e in b.session.known.items()}
        await a.close()  # q
        await until(lambda: {b.session.role, c.session.role} == {Role.SERVING, Role.VIEWING})
        new, other = (b, c) if b.session.role is Role.SERVING else (c, b)
        for pid, observation in before.items():  # every row, at its original time or later
            assert b.session.known[pid].observation.observed_at >= observation.observed_at
        collector = new.session.backend
        assert isinstance(collector, LocalBackend)
        await until(lambda: set(collector.poller.pipeline_ids) == set(ids[2:7]))
        # the new collector asks again: both keep getting answers
        marks = {pid: e.observation.observed_at for pid, e in other.session.known.items()}
        await until(
            lambda: any(
                e.observation.observed_at > marks.get(pid, 0.0)
                for pid, e in other.session.known.items()
            ),
            15,
        )
    finally:
        await b.close()
        await c.close()


async def test_an_older_observation_never_replaces_a_newer_one(
    tmp_path: Path, server: SimServer
) -> None:
    ids = server.world.pipeline_ids
    (a,) = await open_dashboards(tmp_path, server, ids[:1])
    try:
        await until(lambda: ids[0] in a.session.known, 10)
        shown = a.session.known[ids[0]]
        stale = dataclasses.replace(
            shown,
            observation=Observation(shown.observation.status, shown.observation.observed_at - 3600),
        )
        a.session._from_backend(stale)
        assert a.session.known[ids[0]] is shown
    finally:
        await a.close()


async def test_a_bug_in_looking_for_the_collector_still_polls(
    tmp_path: Path, server: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong in finding the collector, the dashboard polls (alone, saying
    why) rather than sit on "looking for this account's collector" for ever."""
    import kondado_tui.core.collector.shared as shared

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(shared.attach, "find_or_become", broken)
    ids = server.world.pipeline_ids[:2]
    (a,) = await open_dashboards(tmp_path, server, ids)
    try:
        link = a.session.poller.health.collector
        assert link is not None and link.role is Role.ALONE
        assert "failed (RuntimeError)" in link.why
        await until(lambda: set(a.session.known) == set(ids), 15)
    finally:
        await a.close()


async def test_a_new_collector_tells_what_it_inherited_at_its_original_times(
    tmp_path: Path, server: SimServer
) -> None:
    """The rows a viewer showed before taking over are the new collector's latest word
    until it asks again: a viewer attaching then is told them at once, at their original
    times, and `status` (Peek) finds them, without a request."""
    ids = server.world.pipeline_ids[:3]
    a, b = await open_dashboards(tmp_path, server, ids, ids)
    d = None
    try:
        await until(lambda: set(b.session.known) == set(ids), 15)
        b.session.poller.pause()  # the new collector will then ask nothing
        a.session.poller.pause()
        await until(lambda: a.session.backend.poller.health.paused)  # type: ignore[union-attr]
        before = {pid: e.observation for pid, e in b.session.known.items()}
        await a.close()
        await until(lambda: b.session.role is Role.SERVING)
        collector = b.session.backend
        assert isinstance(collector, LocalBackend)
        assert {pid: e.observation for pid, e in collector.latest.items()} == before
        asked = len(server.log)
        (d,) = await open_dashboards(tmp_path / "late", server, ids)
        assert d.session.role is Role.VIEWING
        d.session.poller.pause()
        await until(lambda: set(d.session.known) == set(ids), 5)
        assert all(d.session.known[pid].observation == before[pid] for pid in ids)
        assert not [r for r in server.log[asked:] if any(f"/{p}/" in r.path for p in ids)]
    finally:
        if d is not None:
            await d.close()
        await b.close()
        await a.close()
