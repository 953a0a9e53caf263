"""`since` tells a seen change from a first sighting: a pipeline first seen in a status
entered it at some unknown time before, so its `since` is only a lower bound (against
the independent API, in virtual time, through a restart on the same history)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from altapi import AltApi
from poller_fakes import FakeBudget, Recorder

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.core.poller import Poller


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, chunked=False).start()
    yield api
    api.stop()


async def _ask(poller: Poller, clock: ManualClock, pid: int) -> None:
    clock.advance(5)
    poller.request_now(pid)
    await poller.step()


async def test_since_is_a_lower_bound_until_a_change_is_seen(alt: AltApi, tmp_path: Path) -> None:
    clock = ManualClock()
    history = tmp_path / "history.sqlite3"
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        with HistoryStore(history, clock=clock) as store:
            poller = Poller(client, budget, clock, [101, 106], on_event=recorder, store=store)
            await _ask(poller, clock, 101)
            first = recorder.observed(101)[-1]
            assert first.since_first_seen and first.since == first.observation.observed_at
            await _ask(poller, clock, 101)  # the same status again: still only a bound
            again = recorder.observed(101)[-1]
            assert again.since_first_seen and again.since == first.since
            await _ask(poller, clock, 106)  # seen once, never changed
            alt.pipelines[101].update(status="running", is_running=True)
            await _ask(poller, clock, 101)
            changed = recorder.observed(101)[-1]
            assert not changed.since_first_seen  # entered between two looks
            assert changed.since == changed.observation.observed_at
        # A restart on the same history keeps the difference.
        restarted = Recorder()
        with HistoryStore(history, clock=clock) as store:
            poller = Poller(client, budget, clock, [101, 106], on_event=restarted, store=store)
            clock.advance(60)
            await poller.step()
            seeded = {e.pipeline_id: e for e in restarted.observed() if e.previous is None}
            assert not seeded[101].since_first_seen and seeded[101].since == changed.since
            assert seeded[106].since_first_seen


def test_first_sightings_reads_the_newest_state_only(tmp_path: Path) -> None:
    clock = ManualClock()
    with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        store.record(Observation(PipelineStatus(1, "active"), 100.0))
        store.record(Observation(PipelineStatus(2, "active"), 100.0))
        store.record(Observation(PipelineStatus(2, "running", is_running=True), 200.0))
        store.record(Observation(PipelineStatus(1, "active"), 300.0))  # no change
        assert store.first_sightings() == {1}
        assert store.first_sightings([2]) == set()
