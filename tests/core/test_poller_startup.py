"""What the health says before the API confirmed anything: no pipelines at all, or rows
showing states read from history (against the independent API, in virtual time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from altapi import AltApi
from poller_fakes import FakeBudget, Recorder

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.events import Connection, StatusObserved
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.core.poller import Poller


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, chunked=False).start()
    yield api
    api.stop()


async def test_no_pipelines_says_so_instead_of_connecting(alt: AltApi) -> None:
    clock = ManualClock()
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [], on_event=recorder)
        assert await poller.step() == float("inf")  # nothing to ask: sleeps until told
        health = recorder.healths()[-1]
        assert health.connection is Connection.STARTING and health.pipelines == 0
        assert "no pipelines configured" in health.message
        assert "press a" in health.message and "kondado-tui add" in health.message
        assert not alt.received
        poller.set_pipelines([101])  # added one
        assert recorder.healths()[-1].pipelines == 1
        assert "no pipelines" not in recorder.healths()[-1].message
        await poller.step()
        assert poller.health.connection is Connection.OK
        poller.set_pipelines([])  # removed the last one
        assert recorder.healths()[-1].connection is Connection.STARTING
        assert "no pipelines configured" in recorder.healths()[-1].message


async def test_states_from_history_are_not_called_nothing_received(alt: AltApi) -> None:
    clock = ManualClock()
    store = HistoryStore(None, clock=clock)
    for pid in (101, 102, 103):
        store.record(Observation(PipelineStatus(pid, "active"), clock.now() - 3600))
    budget = FakeBudget(clock)
    recorder = Recorder()
    alt.force_auth_failure = "401"  # the credentials fail from the start
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [101, 102, 103], on_event=recorder, store=store)
        await poller.step()  # seeds from history, asks one: refused (in doubt so far)
        health = recorder.healths()[-1]
        assert len(recorder.observed()) == 3  # the seeded rows
        assert health.connection is Connection.STARTING and health.from_history == 3
        assert "last known states from history" in health.message
        assert "none confirmed since start-up" in health.message
        await poller.step()  # another one refused: the credentials
        health = poller.health
        assert health.connection is Connection.REJECTED
        assert health.last_success_at is None and health.from_history == 3
        alt.force_auth_failure = ""
        poller.resume()  # try again now
        await poller.step()
        assert poller.health.connection is Connection.OK
        assert poller.health.from_history == 2
    store.close()


async def test_a_viewer_taking_over_keeps_what_its_collector_had_told_it(alt: AltApi) -> None:
    """`adopt`: the observations a collector sent before it went are this poller's own
    from the start, at their own times; older history does not show over them, and
    they are not asked again before they are due."""
    clock = ManualClock()
    store = HistoryStore(None, clock=clock)
    store.record(Observation(PipelineStatus(101, "error_building_tables"), clock.now() - 7200))
    store.record(Observation(PipelineStatus(103, "running"), clock.now() - 7200))
    told = StatusObserved(
        101, Observation(PipelineStatus(101, "active"), clock.now() - 20), None, clock.now() - 900
    )
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [101, 102, 103], on_event=recorder, store=store)
        poller.adopt([told])
        await poller.start()
        assert poller.observations[101] == told.observation  # not the older history
        assert [e.pipeline_id for e in recorder.observed()] == [103]  # history for the rest
        assert poller.scheduler.tracked(101).since == clock.now() - 900  # type: ignore[union-attr]
        await poller.step()
        assert len(alt.received) == 1 and "/101/" not in alt.received[0].path  # not due yet
