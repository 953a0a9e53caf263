"""The rate budget in virtual time: minutes of traffic run in milliseconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import sqlite3
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

import kondado_tui.core.budget.rate_budget as budget_module
from kondado_tui.core.budget.ledger import LedgerBusy, LedgerState
from kondado_tui.core.budget.rate_budget import BudgetPolicy, RateBudget
from kondado_tui.core.clock import ManualClock, SystemClock
from kondado_tui.core.models import Priority

T = TypeVar("T")
START = 1_790_000_000.0
BG, FOLLOW, INTER = Priority.BACKGROUND, Priority.FOLLOW, Priority.INTERACTIVE


class VirtualClock:
    """Sleepers wake in time order; time jumps to the next wake-up only once every task
    is waiting. (ManualClock advances on each sleep, so concurrent sleepers would add
    their waits up; this clock keeps concurrent tasks on one timeline.)"""

    SETTLE_YIELDS = 50  # far more hops than any wake-up chain in the budget takes

    def __init__(self, start: float = START) -> None:
        self._now = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, main: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(main)
        while True:
            for _ in range(self.SETTLE_YIELDS):
                await asyncio.sleep(0)
            if task.done():
                return task.result()
            while self._timers and self._timers[0][2].done():  # cancelled sleeps
                heapq.heappop(self._timers)
            if not self._timers:
                raise AssertionError("deadlock: every task waits and no timer is set")
            when, _, future = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            future.set_result(None)


def assert_within_limits(
    stamps: list[float], per_minute: int, spacing: float, window: float = 61.0
) -> None:
    """No two requests closer than `spacing`; no `window` seconds hold more than allowed."""
    stamps = sorted(stamps)
    for a, b in itertools.pairwise(stamps):
        assert b - a >= spacing - 1e-5, f"two requests {b - a:.3f} s apart"
    for i, t in enumerate(stamps):
        in_window = sum(1 for u in stamps[: i + 1] if u > t - window)
        assert in_window <= per_minute, f"{in_window} requests in {window} s ending at {t}"


async def worker(
    budget: RateBudget,
    clock: Any,
    priority: Priority,
    until: float,
    out: list[tuple[float, Priority]],
    think: float = 0.0,
) -> None:
    while clock.now() < until:
        await budget.acquire(priority)
        out.append((clock.now(), priority))
        if think:
            await clock.sleep(think)


# -- the policy: pure arithmetic ----------------------------------------------------------


def test_caps_keep_a_reserve_for_key_presses() -> None:
    policy = BudgetPolicy(per_minute=18, reserve=2)
    assert [policy.cap(p) for p in (INTER, FOLLOW, BG)] == [18, 16, 16]
    assert [policy.cap(p, recovering=True) for p in (INTER, FOLLOW, BG)] == [9, 8, 8]
    tiny = BudgetPolicy(per_minute=1, reserve=2)
    assert [tiny.cap(p) for p in (INTER, FOLLOW, BG)] == [1, 1, 1]


def test_earliest_honours_spacing_window_and_lockout() -> None:
    policy = BudgetPolicy(per_minute=3, spacing=1.25, window_margin=1.0, reserve=0)
    now = START
    assert policy.earliest(LedgerState(), BG, now) == now
    assert policy.earliest(LedgerState((now - 1.0,)), BG, now) == pytest.approx(now + 0.25)
    full = LedgerState((now - 30.0, now - 20.0, now - 10.0))
    assert policy.earliest(full, BG, now) == pytest.approx(now - 30.0 + 61.0)
    locked = LedgerState((), lockout_end=now + 60.0)
    assert policy.earliest(locked, INTER, now) == now + 60.0


def test_recovery_doubles_spacing_after_a_lockout() -> None:
    policy = BudgetPolicy(per_minute=18, spacing=1.25, recovery=60.0)
    end = START
    state = LedgerState((end + 1.0,), lockout_end=end)
    assert policy.earliest(state, BG, end + 1.5) == pytest.approx(end + 3.5)
    after = LedgerState((end + 70.0,), lockout_end=end)
    assert policy.earliest(after, BG, end + 70.5) == pytest.approx(end + 71.25)


def test_per_minute_is_never_above_the_api_limit() -> None:
    assert RateBudget(per_minute=50).per_minute == 20
    assert RateBudget(per_minute=0).per_minute == 1


# -- sustained load -----------------------------------------------------------------------


async def test_sustained_mixed_load_stays_within_both_windows() -> None:
    clock = VirtualClock()
    budget = RateBudget(per_minute=18, clock=clock)
    out: list[tuple[float, Priority]] = []
    until = START + 600.0

    async def main() -> None:
        await asyncio.gather(
            worker(budget, clock, BG, until, out),
            worker(budget, clock, BG, until, out),
            worker(budget, clock, FOLLOW, until, out, think=7.0),
            worker(budget, clock, INTER, until, out, think=23.0),
        )

    await clock.run(main())
    stamps = [t for t, _ in out]
    assert_within_limits(stamps, per_minute=18, spacing=1.25)
    assert_within_limits(stamps, per_minute=18, spacing=1.25, window=60.0)
    # Not needlessly timid: automatic traffic alone fills 16 per 61 s (157 in ten minutes).
    assert len(stamps) >= 160
    assert {p for _, p in out} == {BG, FOLLOW, INTER}


async def test_works_with_the_manual_clock_of_the_other_tests() -> None:
    clock = ManualClock(START)
    budget = RateBudget(per_minute=20, clock=clock)
    stamps = []
    for _ in range(200):
        await budget.acquire(BG)
        stamps.append(clock.now())
    assert_within_limits(stamps, per_minute=20, spacing=1.25)
    assert budget.used_last_minute() <= 20


# -- priority -----------------------------------------------------------------------------


async def test_interactive_jumps_a_queue_of_background_waiters() -> None:
    clock = VirtualClock()
    budget = RateBudget(per_minute=18, clock=clock)
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        await budget.acquire(priority)
        order.append(name)

    async def main() -> None:
        for _ in range(16):  # the background share of the window is full
            await budget.acquire(BG)
        waiting = [asyncio.create_task(one(f"bg{i}", BG)) for i in range(5)]
        await clock.sleep(3.0)
        asked = clock.now()
        await one("key", INTER)
        assert clock.now() - asked <= 1.3
        await asyncio.gather(*waiting)

    await clock.run(main())
    assert order == ["key", "bg0", "bg1", "bg2", "bg3", "bg4"]


async def test_a_key_press_finds_a_slot_while_background_saturates() -> None:
    clock = VirtualClock()
    budget = RateBudget(per_minute=18, clock=clock)
    until = START + 420.0
    out: list[tuple[float, Priority]] = []
    latencies: list[float] = []

    async def user() -> None:
        await clock.sleep(30.0)
        # `reserve` (2) presses in any 61 s: the guarantee the reserve buys.
        for pause in itertools.cycle((31.0, 33.5, 47.0, 30.75)):
            if clock.now() >= until:
                return
            asked = clock.now()
            await budget.acquire(INTER)
            latencies.append(clock.now() - asked)
            out.append((clock.now(), INTER))
            await clock.sleep(pause)

    async def main() -> None:
        await asyncio.gather(
            *(worker(budget, clock, BG, until, out) for _ in range(3)),
            worker(budget, clock, FOLLOW, until, out, think=2.0),
            user(),
        )

    await clock.run(main())
    assert len(latencies) >= 10
    assert max(latencies) <= 1.3
    assert_within_limits([t for t, _ in out], per_minute=18, spacing=1.25)
    # Automatic traffic really was saturating: it used its whole share.
    assert sum(1 for _, p in out if p is not INTER) >= 6 * 16


async def test_next_slot_at_tells_each_priority_when_it_may_go() -> None:
    clock = ManualClock(START)
    budget = RateBudget(per_minute=18, clock=clock)
    assert budget.next_slot_at(BG) == START
    for _ in range(16):
        await budget.acquire(BG)
    now = clock.now()
    assert budget.used_last_minute() == 16
    assert budget.next_slot_at(INTER) == pytest.approx(now + 1.25)
    assert budget.next_slot_at(BG) == pytest.approx(START + 61.0)


# -- lock-out -----------------------------------------------------------------------------


async def test_lockout_stops_everything_then_recovers_at_half_rate() -> None:
    clock = VirtualClock()
    budget = RateBudget(per_minute=18, clock=clock)
    out: list[tuple[float, Priority]] = []
    locked_at = START + 20.0
    seen: dict[str, object] = {}

    async def breach() -> None:
        await clock.sleep(20.0)
        budget.report_rate_limited(60.0)
        seen["locked_until"] = budget.locked_until
        await clock.sleep(30.0)
        seen["still_locked"] = budget.locked_until
        await clock.sleep(40.0)
        seen["after"] = budget.locked_until
        seen["recovering"] = budget.recovering

    async def main() -> None:
        await asyncio.gather(
            worker(budget, clock, BG, START + 300.0, out),
            worker(budget, clock, INTER, START + 300.0, out, think=5.0),
            breach(),
        )

    await clock.run(main())
    assert seen["locked_until"] == pytest.approx(locked_at + 60.0)
    assert seen["still_locked"] == pytest.approx(locked_at + 60.0)
    assert seen["after"] is None and seen["recovering"] is True
    stamps = sorted(t for t, _ in out)
    end = locked_at + 60.0
    assert not [t for t in stamps if locked_at < t < end]
    recovery = [t for t in stamps if end <= t < end + 60.0]
    assert recovery and recovery[0] == pytest.approx(end)
    assert_within_limits(recovery, per_minute=9, spacing=2.5)
    later = [t for t in stamps if t >= end + 60.0 + 61.0]
    assert min(b - a for a, b in itertools.pairwise(later)) == pytest.approx(1.25)
    assert not budget.recovering


async def test_lockout_wakes_a_sleeping_head_and_holds_it() -> None:
    clock = VirtualClock()
    budget = RateBudget(per_minute=18, clock=clock)

    async def main() -> float:
        await budget.acquire(BG)
        waiting = asyncio.create_task(budget.acquire(BG))
        await asyncio.sleep(0)
        budget.report_rate_limited(45.0)
        await waiting
        return clock.now()

    assert await clock.run(main()) == pytest.approx(START + 45.0)


async def test_a_lockout_holds_here_even_if_the_ledger_is_busy_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = VirtualClock()
    budget = RateBudget(clock=clock, ledger_path=tmp_path / "l.sqlite")

    def busy(now: float, until: float) -> None:
        raise LedgerBusy("database is locked")

    monkeypatch.setattr(budget._ledger, "lock", busy)
    budget.report_rate_limited(60.0)
    assert budget.shared
    assert budget.locked_until == pytest.approx(START + 60.0)

    async def main() -> float:
        await budget.acquire(INTER)
        return clock.now()

    assert await clock.run(main()) == pytest.approx(START + 60.0)


# -- cancellation -------------------------------------------------------------------------


async def test_a_cancelled_waiter_takes_no_slot_and_blocks_nobody() -> None:
    clock = VirtualClock()
    budget = RateBudget(per_minute=18, clock=clock)

    async def main() -> list[float]:
        await budget.acquire(BG)
        head = asyncio.create_task(budget.acquire(BG))
        behind = asyncio.create_task(budget.acquire(BG))
        await asyncio.sleep(0)
        head.cancel()
        with pytest.raises(asyncio.CancelledError):
            await head
        assert budget.used_last_minute() == 1
        await behind
        return [clock.now(), float(budget.used_last_minute())]

    granted_at, used = await clock.run(main())
    assert granted_at == pytest.approx(START + 1.25)
    assert used == 2


# -- the shared ledger --------------------------------------------------------------------


async def test_two_budgets_sharing_a_ledger_respect_the_combined_budget(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / "ledger.sqlite"
    first = RateBudget(per_minute=18, clock=clock, ledger_path=path)
    second = RateBudget(per_minute=18, clock=clock, ledger_path=path)
    assert first.shared and second.shared
    assert str(path) in first.note
    out_a: list[tuple[float, Priority]] = []
    out_b: list[tuple[float, Priority]] = []
    until = START + 240.0

    async def main() -> None:
        await asyncio.gather(
            worker(first, clock, BG, until, out_a),
            worker(first, clock, INTER, until, out_a, think=11.0),
            worker(second, clock, BG, until, out_b),
            worker(second, clock, FOLLOW, until, out_b, think=3.0),
        )

    await clock.run(main())
    assert len(out_a) > 10 and len(out_b) > 10
    assert_within_limits([t for t, _ in out_a + out_b], per_minute=18, spacing=1.25)
    # A lock-out one of them hears of holds the other too.
    first.report_rate_limited(60.0)
    assert second.locked_until == pytest.approx(clock.now() + 60.0)
    first.close()
    second.close()


def test_the_ledger_stays_small(tmp_path: Path) -> None:
    clock = ManualClock(START)
    path = tmp_path / "ledger.sqlite"
    budget = RateBudget(per_minute=20, clock=clock, ledger_path=path)

    async def traffic() -> None:
        for _ in range(400):
            await budget.acquire(BG)

    asyncio.run(traffic())
    budget.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT count(*) FROM requests").fetchone()[0]
    assert rows <= 45  # two minutes' worth at most


async def test_unwritable_ledger_path_falls_back_to_this_process(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    clock = ManualClock(START)
    budget = RateBudget(per_minute=18, clock=clock, ledger_path=blocker / "ledger.sqlite")
    assert not budget.shared
    assert "not-a-dir" in budget.note and "this process" in budget.note
    stamps = []
    for _ in range(40):
        await budget.acquire(BG)
        stamps.append(clock.now())
    assert_within_limits(stamps, per_minute=18, spacing=1.25)


async def test_corrupt_ledger_falls_back_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    budget = RateBudget(per_minute=18, clock=ManualClock(START), ledger_path=path)
    assert not budget.shared
    assert "not a database" in budget.note
    await budget.acquire(INTER)
    assert budget.used_last_minute() == 1


async def test_ledger_from_a_newer_version_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    budget = RateBudget(clock=ManualClock(START), ledger_path=path)
    assert not budget.shared and "newer" in budget.note


async def test_a_ledger_failing_mid_session_keeps_what_it_had_counted(tmp_path: Path) -> None:
    clock = VirtualClock()
    budget = RateBudget(per_minute=18, clock=clock, ledger_path=tmp_path / "l.sqlite")

    async def main() -> list[float]:
        stamps = []
        for _ in range(3):
            await budget.acquire(BG)
            stamps.append(clock.now())
        budget._ledger.close()  # the file vanished under us, as far as sqlite cares
        for _ in range(3):
            await budget.acquire(BG)
            stamps.append(clock.now())
        return stamps

    stamps = await clock.run(main())
    assert not budget.shared and "unusable" in budget.note
    assert_within_limits(stamps, per_minute=18, spacing=1.25)
    assert budget.used_last_minute() == 6


def _hold_write_lock(path: Path, seconds: float, held: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    db.execute("ROLLBACK")
    db.close()


async def test_a_briefly_busy_ledger_only_delays(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    budget = RateBudget(clock=SystemClock(), ledger_path=path)
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.4, held))
    holder.start()
    held.wait()
    started = time.monotonic()
    await budget.acquire(INTER)
    holder.join()
    assert time.monotonic() - started >= 0.3
    assert budget.shared
    budget.close()


async def test_a_ledger_locked_too_long_is_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget_module, "BUSY_LIMIT", 0.3)
    path = tmp_path / "ledger.sqlite"
    budget = RateBudget(clock=SystemClock(), ledger_path=path)
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.5, held))
    holder.start()
    held.wait()
    await budget.acquire(INTER)
    assert not budget.shared and "locked" in budget.note
    holder.join()


def test_ledger_operations_are_quick(tmp_path: Path) -> None:
    """The ledger works on the event loop's thread: each step must stay tiny."""
    clock = ManualClock(START)
    budget = RateBudget(per_minute=20, clock=clock, ledger_path=tmp_path / "l.sqlite")
    durations = []

    async def traffic() -> None:
        for _ in range(100):
            started = time.perf_counter()
            await budget.acquire(BG)
            budget.used_last_minute()
            durations.append(time.perf_counter() - started)

    asyncio.run(traffic())
    durations.sort()
    assert durations[len(durations) // 2] < 0.01  # median; measured ~0.3 ms
