"""The poller against the simulator over real loopback HTTP (relaxed limits, fast budget).

Every failure kind must end as the right health state with a message that names the
problem, never the token, and polling must recover by itself.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from poller_fakes import FakeBudget, Recorder

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.clock import SYSTEM_CLOCK, ManualClock
from kondado_tui.core.errors import FailureKind, Rejected, Unreachable
from kondado_tui.core.events import (
    Connection,
    PollerEvent,
    StatusObserved,
)
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus, Priority
from kondado_tui.core.poller import Poller
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld

SimFactory = Callable[..., SimServer]


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Harness:
    def __init__(self, server: SimServer, token: str | None = None, timeout: float = 2.0):
        self.server = server
        self.budget = FakeBudget()
        self.client = KondadoClient(
            server.base_url,
            server.key,
            token or server.token,
            timeout=timeout,
            gate=self.budget,
        )
        self.recorder = Recorder()
        self.task: asyncio.Task[None] | None = None
        self.poller: Poller | None = None

    def start(self, ids: list[int] | None = None, store: HistoryStore | None = None) -> Poller:
        ids = ids if ids is not None else self.server.world.pipeline_ids
        self.poller = Poller(
            self.client, self.budget, SYSTEM_CLOCK, ids, on_event=self.recorder, store=store
        )
        self.task = asyncio.create_task(self.poller.run())
        return self.poller

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task
        await self.client.aclose()


@pytest.fixture
async def harness_factory() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(server: SimServer, **options: Any) -> Harness:
        h = Harness(server, **options)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.close()


async def test_observes_every_pipeline_and_reports_health(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim)
    ids = sim.world.pipeline_ids
    poller = h.start(ids)
    await wait_for(lambda: set(poller.observations) == set(ids))
    for pid in ids:
        event = h.recorder.observed(pid)[0]
        assert event.previous is None
        assert event.since == event.observation.observed_at
        assert event.observation.status.status == sim.world.status(pid)["status"]
    assert h.recorder.healths()[-1].connection is Connection.OK
    health = poller.health
    assert health.connection is Connection.OK
    assert health.last_success_at is not None
    assert health.budget_per_minute == 18
    assert health.used_last_minute == len(h.budget.stamps)
    assert health.max_age == poller.max_age > 0
    assert health.shared_ledger is False and health.ledger_note == "test budget"
    assert health.next_poll_at is not None


async def test_run_pipeline_is_followed_within_seconds(
    sim_factory: SimFactory, harness_factory: Callable[..., Harness]
) -> None:
    server = sim_factory(rate_limit=False, demo=True, speed=1.0)
    h = harness_factory(server)
    poller = h.start([2040, 2061])
    await wait_for(lambda: len(poller.observations) == 2)
    started = SYSTEM_CLOCK.now()
    answer = await poller.run_pipeline(2040)
    assert answer
    assert any(p is Priority.INTERACTIVE for _, p in h.budget.stamps)
    await wait_for(
        lambda: any(
            e.observation.status.status in ("scheduled", "running")
            for e in h.recorder.observed(2040)
        ),
        timeout=5,
    )
    first_busy = next(
        e
        for e in h.recorder.observed(2040)
        if e.observation.status.status in ("scheduled", "running")
    )
    assert first_busy.observation.observed_at - started < 3.0
    assert first_busy.changed
    assert first_busy.since == first_busy.observation.observed_at
    assert poller.scheduler.following(2040)


async def test_unreachable_backs_off_and_recovers(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim)
    poller = h.start()
    await wait_for(lambda: poller.health.connection is Connection.OK)
    sim.set_fault(FaultMode.HTTP_500_HTML)
    poller.request_now(sim.world.pipeline_ids[0])
    await wait_for(lambda: poller.health.connection is Connection.UNREACHABLE)
    health = poller.health
    assert "HTTP 500" in health.message
    assert sim.token not in health.message
    assert health.retry_at is not None and health.retry_at > SYSTEM_CLOCK.now()
    assert not h.recorder.failed()  # a global problem is not blamed on a pipeline
    sent = len(h.budget.stamps)
    await asyncio.sleep(0.5)
    assert len(h.budget.stamps) == sent  # backing off, not hammering
    sim.clear_fault()
    await wait_for(lambda: poller.health.connection is Connection.OK, timeout=6)
    assert poller.health.message == ""
    assert poller.health.retry_at is None


async def test_auth_failure_pauses_with_a_clear_message(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim, token="wrong-token-0123456789")
    poller = h.start()
    await wait_for(lambda: poller.health.connection is Connection.REJECTED)
    health = poller.health
    assert "token" in health.message and "configuration" in health.message
    assert "wrong-token-0123456789" not in health.message
    assert health.retry_at is not None and health.retry_at - SYSTEM_CLOCK.now() > 200
    sent = len(h.budget.stamps)
    await asyncio.sleep(0.3)
    assert len(h.budget.stamps) == sent
    assert not h.recorder.failed()


async def test_unknown_pipeline_backs_off_alone(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim)
    good = sim.world.pipeline_ids[:2]
    poller = h.start([999_999_999, *good])
    await wait_for(lambda: len(h.recorder.failed()) == 1 and len(poller.observations) == 2)
    failure = h.recorder.failed()[0]
    assert failure.pipeline_id == 999_999_999
    assert failure.kind is FailureKind.REJECTED
    assert "999999999" in failure.message
    assert poller.health.connection is Connection.OK
    tracked = poller.scheduler.tracked(999_999_999)
    assert tracked is not None and tracked.backoff.retry_at is not None
    assert tracked.backoff.retry_at - failure.at >= 29


async def test_unreadable_answers_become_bad_answer_then_recover(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim)
    sim.set_fault(FaultMode.HTML_200)
    poller = h.start()
    await wait_for(lambda: poller.health.connection is Connection.BAD_ANSWER)
    assert all(f.kind is FailureKind.BAD_ANSWER for f in h.recorder.failed())
    assert len(h.recorder.failed()) >= 3
    assert "HTML" in poller.health.message
    assert sim.token not in poller.health.message
    sim.clear_fault()
    await wait_for(lambda: poller.health.connection is Connection.OK, timeout=6)


async def test_timeouts_are_unreachable(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim, timeout=0.3)
    sim.set_fault(FaultMode.NO_ANSWER)
    poller = h.start()
    await wait_for(lambda: poller.health.connection is Connection.UNREACHABLE)
    assert "timed out" in poller.health.message


async def test_rate_limited_waits_for_the_lockout(
    sim_factory: SimFactory, harness_factory: Callable[..., Harness]
) -> None:
    server = sim_factory(rps=None, rpm=3)
    h = harness_factory(server)  # the fake budget lets everything through: the API objects
    poller = h.start()
    await wait_for(lambda: poller.health.connection is Connection.RATE_LIMITED)
    health = poller.health
    assert health.retry_at is not None
    assert 50 < health.retry_at - SYSTEM_CLOCK.now() <= 60
    assert "RATE_LIMIT_EXCEEDED" in health.message
    assert h.budget.locked_until == health.retry_at
    sent = len(h.budget.stamps)
    await asyncio.sleep(0.3)
    assert len(h.budget.stamps) == sent


async def test_unexpected_errors_do_not_end_the_loop(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim)
    real = h.client.get_status
    calls = 0

    async def flaky(pid: int, priority: Priority = Priority.BACKGROUND) -> PipelineStatus:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError(f"boom at /status?token={sim.token}")
        return await real(pid, priority)

    h.client.get_status = flaky  # type: ignore[method-assign]
    poller = h.start()
    await wait_for(lambda: any("internal error" in x.message for x in h.recorder.healths()))
    message = next(x.message for x in h.recorder.healths() if "internal error" in x.message)
    assert "RuntimeError" in message and sim.token not in message
    await wait_for(lambda: len(poller.observations) == len(sim.world.pipeline_ids), timeout=6)


async def test_a_failing_listener_does_not_stop_polling(sim: SimServer) -> None:
    budget = FakeBudget()
    client = KondadoClient(sim.base_url, sim.key, sim.token, gate=budget)
    seen: list[int] = []

    def listener(event: PollerEvent) -> None:
        if isinstance(event, StatusObserved):
            seen.append(event.pipeline_id)
        raise ValueError("listener bug")

    poller = Poller(client, budget, SYSTEM_CLOCK, sim.world.pipeline_ids[:3], on_event=listener)
    task = asyncio.create_task(poller.run())
    try:
        await wait_for(lambda: len(seen) >= 3)
    finally:
        task.cancel()
        await client.aclose()


async def test_run_pipeline_raises_typed_errors(
    sim_factory: SimFactory, harness_factory: Callable[..., Harness]
) -> None:
    server = sim_factory(rate_limit=False, demo=True)
    h = harness_factory(server)
    poller = h.start([2053, 2040])
    with pytest.raises(Rejected, match="Essentials"):
        await poller.run_pipeline(2053)  # the Essentials plan cannot run on demand
    assert poller.health.connection is not Connection.REJECTED
    server.set_fault(FaultMode.RESET)
    with pytest.raises(Unreachable):
        await poller.run_pipeline(2040)
    assert poller.health.connection is Connection.UNREACHABLE
    server.clear_fault()


async def test_duplicate_adds_and_follows_the_new_pipeline(
    sim_factory: SimFactory, harness_factory: Callable[..., Harness]
) -> None:
    server = sim_factory(rate_limit=False, demo=True)
    spec = server.world.spec(2040)
    h = harness_factory(server)
    poller = h.start([2040])
    body = {
        "pipeline_id": 2040,
        "src_collection_id": spec.src_collection_id,
        "dest_collection_id": spec.dest_collection_id,
        "full_tables": {path: f"copy_{n}" for n, path in enumerate(spec.paths)},
        "execute_immediately": "N",
    }
    new_id = await poller.duplicate(body)
    assert new_id in poller.pipeline_ids
    assert poller.scheduler.following(new_id)
    await wait_for(lambda: bool(h.recorder.observed(new_id)), timeout=3)
    assert h.recorder.observed(new_id)[0].observation.status.status == "building_tables"


async def test_request_now_wakes_a_sleeping_poller(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim)
    pid = sim.world.pipeline_ids[0]
    poller = h.start([pid])
    await wait_for(lambda: len(h.recorder.observed(pid)) == 1)
    await asyncio.sleep(0.2)
    assert len(h.recorder.observed(pid)) == 1  # nothing due for a while
    poller.request_now(pid)
    await wait_for(lambda: len(h.recorder.observed(pid)) == 2, timeout=1)
    assert h.budget.stamps[-1][1] is Priority.INTERACTIVE  # a key press: the reserve


async def test_pause_and_resume(sim: SimServer, harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(sim)
    pid = sim.world.pipeline_ids[0]
    poller = h.start([pid])
    await wait_for(lambda: len(h.recorder.observed(pid)) == 1)
    poller.pause()
    assert poller.health.paused and poller.health.next_poll_at is None
    assert h.recorder.healths()[-1].paused
    poller.request_now(pid)  # a person asked: once, even while paused
    await wait_for(lambda: len(h.recorder.observed(pid)) == 2, timeout=1)
    await asyncio.sleep(0.2)
    assert len(h.recorder.observed(pid)) == 2 and poller.health.paused
    poller.resume()
    assert not poller.health.paused


async def test_set_pipelines_asks_new_ones_first(
    sim: SimServer, harness_factory: Callable[..., Harness]
) -> None:
    h = harness_factory(sim)
    first, second, third = sim.world.pipeline_ids[:3]
    poller = h.start([first])
    await wait_for(lambda: first in poller.observations)
    poller.set_pipelines([second, third])
    await wait_for(lambda: set(poller.observations) == {second, third}, timeout=1)
    assert first not in poller.observations


async def test_history_seeds_old_observations_and_asks_busy_ones_first(
    sim: SimServer, tmp_path: Path, harness_factory: Callable[..., Harness]
) -> None:
    ids = sim.world.pipeline_ids[:4]
    long_ago = SYSTEM_CLOCK.now() - 3600
    store = HistoryStore(tmp_path / "history.sqlite3", clock=SYSTEM_CLOCK)
    statuses = ["active", "active", "running", "not_active"]
    for pid, status in zip(ids, statuses, strict=True):
        store.record(Observation(PipelineStatus(pid, status), long_ago))
    h = harness_factory(sim)
    h.start(ids, store=store)
    await wait_for(lambda: len(h.recorder.observed()) >= 5)
    seeded = h.recorder.observed()[:4]
    assert {e.pipeline_id for e in seeded} == set(ids)
    assert all(e.observation.observed_at == long_ago for e in seeded)
    asked_first = h.recorder.observed()[4]
    assert asked_first.pipeline_id == ids[2]  # it was running: most likely changed
    assert asked_first.previous is not None and asked_first.previous.observed_at == long_ago
    await wait_for(lambda: len(h.recorder.observed()) >= 8)
    store.close()


async def test_manual_clock_loop_makes_progress() -> None:
    """With a virtual clock the loop runs ahead in virtual time instead of hanging."""
    clock = ManualClock()
    world = SimWorld(pipelines=6, seed=2, clock=clock)
    budget = FakeBudget(clock)
    recorder = Recorder()

    class WorldClient:
        async def get_status(
            self, pid: int, priority: Priority = Priority.BACKGROUND
        ) -> PipelineStatus:
            await budget.acquire(priority)
            entry = world.status(pid)
            return PipelineStatus(pid, entry["status"], raw_msg=entry["raw_msg"])

        async def run(self, pid: int, priority: Priority = Priority.INTERACTIVE) -> str:
            raise NotImplementedError

        async def duplicate(
            self, body: dict[str, Any], priority: Priority = Priority.INTERACTIVE
        ) -> int:
            raise NotImplementedError

    poller = Poller(WorldClient(), budget, clock, world.pipeline_ids, on_event=recorder)
    start = clock.now()
    task = asyncio.create_task(poller.run())
    for _ in range(2000):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.now() - start > 600
    asked = {e.pipeline_id for e in recorder.observed()}
    assert asked == set(world.pipeline_ids)
    assert not math.isinf(clock.now())
