"""The poller against the documented limits, in real time, over real HTTP.

12 pipelines, the simulator enforcing 1 request/s and 20/min with a 60 s lock-out, the
real `RateBudget` at 18/min: for over 90 s the API must never answer RATE_LIMIT_EXCEEDED,
while a user's run goes out in the middle of the background polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.events import Connection, HealthChanged, PollerEvent, StatusObserved
from kondado_tui.core.poller import Poller
from kondado_tui.core.sim import Outcome, SimServer, SimWorld

SimFactory = Callable[..., SimServer]
DURATION = 92.0


@pytest.mark.slow
async def test_twelve_pipelines_never_trip_the_documented_limits(
    sim_factory: SimFactory,
) -> None:
    world = SimWorld(pipelines=12, seed=4, speed=20.0)
    server = sim_factory(world=world, rps=1, rpm=20, lockout=60.0)
    budget = RateBudget(per_minute=18, clock=SYSTEM_CLOCK, ledger_path=None)
    client = KondadoClient(server.base_url, server.key, server.token, gate=budget)
    events: list[PollerEvent] = []
    poller = Poller(client, budget, SYSTEM_CLOCK, world.pipeline_ids, on_event=events.append)
    task = asyncio.create_task(poller.run())
    try:
        await asyncio.sleep(DURATION / 2)
        runnable = [
            pid
            for pid in world.pipeline_ids
            if world.status(pid)["status"] in ("active", "too_many_consecutive_failed_builds")
            and world.spec(pid).plan.value == "business"
        ]
        if runnable:
            await poller.run_pipeline(runnable[0])
        await asyncio.sleep(DURATION / 2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        budget.close()

    log = server.log
    limited = [r for r in log if r.rate_limited or r.outcome is Outcome.RATE_LIMITED]
    assert limited == []
    assert len(log) >= 25  # the budget was used, not sat on
    times = sorted(r.time for r in log)
    for n in range(len(times)):
        in_minute = [t for t in times[n:] if t < times[n] + 60.0]
        assert len(in_minute) <= 20
    observed = {e.pipeline_id for e in events if isinstance(e, StatusObserved)}
    assert observed == set(world.pipeline_ids)  # every row was asked
    healths = [e.health for e in events if isinstance(e, HealthChanged)]
    assert all(h.connection in (Connection.OK, Connection.STARTING) for h in healths)
    assert max(h.used_last_minute for h in healths) <= 18
