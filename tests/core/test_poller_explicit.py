"""A person's explicit request (`f`, an add, a run) against the real rate budget, in
virtual time: it uses the budget's reserve instead of queueing behind background polls,
and it goes once even while polling is paused."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from poller_fakes import FakeBudget, Recorder

from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import SYSTEM_CLOCK, ManualClock
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


class TurnBudget(FakeBudget):
    """The host broker as the poller sees it: a background request waits for other
    logins' turns (here: for ever), a key press gets a slot at once."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: set[asyncio.Task[Any]] = set()
        self.cancelled = 0

    async def acquire(self, priority: Priority = Priority.BACKGROUND) -> None:
        if priority is Priority.INTERACTIVE:
            return await super().acquire(priority)
        task = asyncio.current_task()
        assert task is not None
        self.queued.add(task)
        try:
            await asyncio.Event().wait()  # other logins' turns, for as long as it takes
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.queued.discard(task)

    def waiting(self, task: asyncio.Task[Any]) -> bool:
        return task in self.queued


async def test_a_key_press_does_not_queue_behind_a_waiting_background_request() -> None:
    budget = TurnBudget()
    client = BudgetedClient(budget, SYSTEM_CLOCK)  # type: ignore[arg-type]
    poller = Poller(client, budget, SYSTEM_CLOCK, IDS, on_event=Recorder())
    task = asyncio.create_task(poller.run())
    try:
        while not budget.queued:  # a background poll waits for its turn
            await asyncio.sleep(0.01)
        asked = time.monotonic()
        poller.request_now(IDS[5])
        while not any(pid == IDS[5] for _, pid, _ in client.asked):
            assert time.monotonic() - asked < 2.0, "the key press queued behind the poll"
            await asyncio.sleep(0.01)
        assert budget.cancelled == 1  # the poll stepped aside; it had taken no slot
        assert client.asked[0][2] is Priority.INTERACTIVE
        while not budget.queued:  # and polling goes on
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_change_of_selection_does_not_make_a_poll_step_aside() -> None:
    budget = TurnBudget()
    client = BudgetedClient(budget, SYSTEM_CLOCK)  # type: ignore[arg-type]
    poller = Poller(client, budget, SYSTEM_CLOCK, IDS, on_event=Recorder())
    task = asyncio.create_task(poller.run())
    try:
        while not budget.queued:
            await asyncio.sleep(0.01)
        poller.focus(IDS[3])  # wakes the poller, but nothing more urgent is due
        await asyncio.sleep(0.2)
        assert budget.cancelled == 0 and budget.queued
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
