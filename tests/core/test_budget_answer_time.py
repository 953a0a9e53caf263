"""The spacing counts from when a request surely arrived (its answer), not only from when
its slot was granted: a request that leaves late (a new connection's handshakes after a
pause or a retry, a busy event loop) must not be followed too closely by one that leaves
at once on a warm connection."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from altapi import RATE_LIMIT_BODY, AltApi

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.budget.ledger import SqliteLedger
from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import SYSTEM_CLOCK, ManualClock
from kondado_tui.core.models import Priority


class LateFirstRequest(httpx.AsyncHTTPTransport):
    """The first request leaves `delay` seconds after its slot, like one that must first
    open a TCP and TLS connection far away; the next ones leave at once."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            delay, self.delay = self.delay, 0.0
            await asyncio.sleep(delay)
        return await super().handle_async_request(request)


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rps=1, rpm=20, chunked=False).start()  # the documented limits, enforced
    yield api
    api.stop()


async def test_a_late_request_is_not_followed_within_a_second(alt: AltApi) -> None:
    budget = RateBudget(18, SYSTEM_CLOCK)
    transport = LateFirstRequest(delay=0.6)
    async with KondadoClient(
        alt.base_url, alt.key, alt.token, gate=budget, transport=transport
    ) as client:
        for pid in (101, 102, 103):
            await client.get_status(pid)  # raises RateLimited on a breach
    arrivals = [r.at for r in alt.calls("GET")]
    assert all(r.answer != RATE_LIMIT_BODY for r in alt.received)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1.2, gaps


async def test_the_record_moves_to_the_answer_in_virtual_time(tmp_path: Path) -> None:
    clock = ManualClock()
    budget = RateBudget(18, clock, tmp_path / "ledger.sqlite3")
    start = clock.now()
    await budget.acquire(Priority.BACKGROUND)
    assert budget.next_slot_at(Priority.INTERACTIVE) == pytest.approx(start + 1.25)
    clock.advance(0.8)  # the answer came 0.8 s after the grant
    budget.request_done()
    assert budget.next_slot_at(Priority.INTERACTIVE) == pytest.approx(start + 0.8 + 1.25)
    # other processes see the moved record too
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    assert [at for at, _, _ in ledger.stamps_with_pids()] == [pytest.approx(start + 0.8)]
    ledger.close()
    other = RateBudget(18, clock, tmp_path / "ledger.sqlite3")
    assert other.next_slot_at(Priority.INTERACTIVE) == pytest.approx(start + 0.8 + 1.25)
    assert budget.used_last_minute() == 1  # moved, not added
    budget.request_done()  # nothing in flight: harmless
    assert budget.used_last_minute() == 1
    other.close()
    budget.close()


async def test_requests_in_flight_together_each_move_later(tmp_path: Path) -> None:
    clock = ManualClock()
    budget = RateBudget(18, clock)
    await budget.acquire(Priority.BACKGROUND)
    await budget.acquire(Priority.INTERACTIVE)  # a run while a poll is out
    second = clock.now()
    clock.advance(2.0)
    budget.request_done()
    budget.request_done()
    assert budget.used_last_minute() == 2
    assert budget.next_slot_at(Priority.INTERACTIVE) >= second + 2.0 + 1.25 - 1e-6
