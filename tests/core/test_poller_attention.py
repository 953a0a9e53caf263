"""The poller's side of "spend the budget where someone is looking", in virtual time with
the real rate budget: `focus` alone (the cursor resting on a row) earns nothing once the
user is gone; `user_active` (a key) and `focus(pinned=True)` (a detail screen) do."""

from __future__ import annotations

import itertools
from typing import Any

from test_poller import Recorder
from test_poller_explicit import drive

from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.poller import Poller
from kondado_tui.core.scheduling import FOCUS_ATTENTION, FOCUS_INTERVAL

IDS = list(range(2040, 2060))  # 20 pipelines, as in the issue
SELECTED = IDS[0]  # the cursor rests on the top row
MINUTE = 60.0


class IdleClient:
    """Every pipeline idle (nothing predicts a change), after a slot of the real budget."""

    def __init__(self, budget: RateBudget, clock: ManualClock) -> None:
        self.budget = budget
        self.clock = clock
        self.asked: list[tuple[float, int]] = []

    async def get_status(
        self, pipeline_id: int, priority: Priority = Priority.BACKGROUND
    ) -> PipelineStatus:
        await self.budget.acquire(priority)
        self.asked.append((self.clock.now(), pipeline_id))
        return PipelineStatus(pipeline_id, "active")

    async def run(self, pipeline_id: int, priority: Priority = Priority.INTERACTIVE) -> str:
        raise AssertionError("not used")

    async def duplicate(
        self, body: dict[str, Any], priority: Priority = Priority.INTERACTIVE
    ) -> int:
        raise AssertionError("not used")

    def share(self, start: float, end: float) -> tuple[int, int]:
        """(asks of the selected row, the most asks of any other row) in [start, end)."""
        counts = {pid: 0 for pid in IDS}
        for at, pid in self.asked:
            if start <= at < end:
                counts[pid] += 1
        return counts.pop(SELECTED), max(counts.values())

    def times(self, start: float, end: float) -> list[float]:
        return [at for at, pid in self.asked if pid == SELECTED and start <= at < end]


def make() -> tuple[Poller, IdleClient, ManualClock]:
    clock = ManualClock()
    budget = RateBudget(18, clock)
    client = IdleClient(budget, clock)
    poller = Poller(client, budget, clock, IDS, on_event=Recorder())
    return poller, client, clock


def gaps(times: list[float], end: float) -> float:
    points = [*times, end]
    return max(b - a for a, b in itertools.pairwise(points))


async def test_an_idle_dashboard_gives_the_cursor_row_its_share_only() -> None:
    poller, client, clock = make()
    start = clock.now()
    poller.focus(SELECTED)  # as the table does when it opens
    await drive(poller, clock, start + 30 * MINUTE)
    selected, most_other = client.share(start, start + 30 * MINUTE)
    assert selected <= most_other, (selected, most_other)
    assert len(client.asked) >= 30 * 14  # the budget was spent all the same, on the sweep


async def test_a_key_press_brings_the_boost_back_for_a_few_minutes() -> None:
    poller, client, clock = make()
    start = clock.now()
    poller.focus(SELECTED)
    await drive(poller, clock, start + 20 * MINUTE)
    pressed = clock.now()
    poller.user_active()
    await drive(poller, clock, pressed + FOCUS_ATTENTION)
    during = client.times(pressed, pressed + FOCUS_ATTENTION)
    assert during and during[0] - pressed <= 5.0  # at once, not at its sweep turn
    assert gaps(during, pressed + FOCUS_ATTENTION) <= FOCUS_INTERVAL + 5.0
    lapsed = pressed + FOCUS_ATTENTION + FOCUS_INTERVAL
    await drive(poller, clock, lapsed + 30 * MINUTE)
    selected, most_other = client.share(lapsed, lapsed + 30 * MINUTE)
    assert selected <= most_other, (selected, most_other)


async def test_an_open_detail_screen_keeps_its_row_fresh_without_keys() -> None:
    poller, client, clock = make()
    start = clock.now()
    await drive(poller, clock, start + 10 * MINUTE)
    opened = clock.now()
    poller.focus(SELECTED, pinned=True)
    await drive(poller, clock, opened + 30 * MINUTE)
    shown = client.times(opened, opened + 30 * MINUTE)
    assert shown[0] - opened <= 5.0
    assert gaps(shown, opened + 30 * MINUTE) <= FOCUS_INTERVAL + 5.0
    closed = clock.now()
    poller.focus(SELECTED)  # closed; no key for half an hour
    await drive(poller, clock, closed + 30 * MINUTE)
    selected, most_other = client.share(closed, closed + 30 * MINUTE)
    assert selected <= most_other, (selected, most_other)
