"""A person's explicit request (`f`, an add, a run) against the real rate budget, in
virtual time: it uses the budget's reserve instead of queueing behind background polls,
and it goes once even while polling is paused."""

from __future__ import annotations

from typing import Any

from poller_fakes import Recorder

from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.poller import Poller

IDS = list(range(101, 111))


class BudgetedClient:
    """Answers at once, after taking a slot of the real budget, and notes who was asked."""

    def __init__(self, budget: RateBudget, clock: ManualClock) -> None:
        self.budget = budget
        self.clock = clock
        self.asked: list[tuple[float, int, Priority]] = []

    async def get_status(
        self, pipeline_id: int, priority: Priority = Priority.BACKGROUND
    ) -> PipelineStatus:
        await self.budget.acquire(priority)
        self.asked.append((self.clock.now(), pipeline_id, priority))
        return PipelineStatus(pipeline_id, "scheduled")

    async def run(self, pipeline_id: int, priority: Priority = Priority.INTERACTIVE) -> str:
        raise AssertionError("not used")

    async def duplicate(
        self, body: dict[str, Any], priority: Priority = Priority.INTERACTIVE
    ) -> int:
        raise AssertionError("not used")


async def drive(poller: Poller, clock: ManualClock, until: float) -> None:
    """The poller's loop, in virtual time, up to `until`."""
    while clock.now() < until:
        wake_at = await poller.step()
        if wake_at > clock.now():
            clock.set(min(wake_at, until))


def make(clock: ManualClock) -> tuple[Poller, BudgetedClient]:
    budget = RateBudget(18, clock)
    client = BudgetedClient(budget, clock)
    poller = Poller(client, budget, clock, IDS, on_event=Recorder())
    return poller, client


async def test_request_now_uses_the_reserve_while_the_budget_is_busy() -> None:
    clock = ManualClock()
    poller, client = make(clock)
    start = clock.now()
    await drive(poller, clock, start + 300)  # ten queued runs: the budget is full
    assert poller.health.used_last_minute >= 15
    waits = []
    for n in range(5):
        pid = IDS[n * 2]
        asked_before = len(client.asked)
        requested = clock.now()
        poller.request_now(pid)
        while not any(p == pid for _, p, _ in client.asked[asked_before:]):
            await drive(poller, clock, clock.now() + 0.5)
        at, _, priority = next(a for a in client.asked[asked_before:] if a[1] == pid)
        assert priority is Priority.INTERACTIVE
        waits.append(at - requested)
        await drive(poller, clock, clock.now() + 30)
    assert max(waits) <= 2 * 1.25 + 0.5, waits  # within about one spacing, not ~20 s


async def test_request_now_asks_once_while_paused() -> None:
    clock = ManualClock()
    poller, client = make(clock)
    await drive(poller, clock, clock.now() + 60)
    poller.pause()
    await drive(poller, clock, clock.now() + 120)
    paused_at = len(client.asked)
    poller.request_now(IDS[3])
    await drive(poller, clock, clock.now() + 120)
    assert [(p, prio) for _, p, prio in client.asked[paused_at:]] == [
        (IDS[3], Priority.INTERACTIVE)
    ]
    assert poller.health.paused and poller.health.next_poll_at is None
    poller.resume()
    await drive(poller, clock, clock.now() + 30)
    assert len(client.asked) > paused_at + 3  # background polling is back
