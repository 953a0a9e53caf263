"""Answers of the API over real HTTP: empty ones, and HTTP 429.

HTTP 429 Too Many Requests is rate limiting, not a refusal of the pipeline: the client
raises `RateLimited` with the `Retry-After` asked for (seconds or an HTTP date, believed up
to 10 minutes), the budget is locked out for it, the poller says "rate limited (HTTP 429)"
and history records no refusal. Over real HTTP against the simulator's HTTP_429 fault."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate

import pytest

from kondado_tui.core.api import MAX_RATE_LIMIT_WAIT, KondadoClient, retry_after_seconds
from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import BadAnswer, RateLimited
from kondado_tui.core.events import Connection, PipelineFailed, PollerEvent
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Priority
from kondado_tui.core.poller import Poller
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld

SimFactory = Callable[..., SimServer]


class RecordingGate:
    def __init__(self) -> None:
        self.locked: list[float] = []

    async def acquire(self, priority: Priority) -> None:
        return None

    def report_rate_limited(self, wait: float) -> None:
        self.locked.append(wait)


@pytest.fixture
def sim(sim_factory: SimFactory) -> SimServer:
    return sim_factory(world=SimWorld(demo=True), rate_limit=False)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("47", 47.0),
        ("0", 1.0),  # "now" still waits a second: no hammering
        ("99999", MAX_RATE_LIMIT_WAIT),  # never believe more than 10 minutes
        ("99999999999999999999", MAX_RATE_LIMIT_WAIT),
        (None, 60.0),  # no header: the documented lock-out
        ("soon", 60.0),  # unreadable: the same
        ("-5", 60.0),
    ],
)
async def test_retry_after_in_seconds(sim: SimServer, header: str | None, expected: float) -> None:
    sim.set_fault(FaultMode.HTTP_429, retry_after=header)
    gate = RecordingGate()
    async with KondadoClient(sim.base_url, sim.key, sim.token, gate=gate) as client:
        with pytest.raises(RateLimited) as caught:
            await client.get_status(2040)
    assert caught.value.retry_after == expected
    assert gate.locked == [expected]  # the budget hears of it, whoever catches the error
    assert "HTTP 429" in str(caught.value)
    assert sim.token not in str(caught.value)


async def test_retry_after_as_an_http_date_counts_from_the_answers_own_date(
    sim: SimServer,
) -> None:
    # The client's clock is a year off: the server's Date header is the reference.
    sim.set_fault(FaultMode.HTTP_429, retry_after=formatdate(time.time() + 120, usegmt=True))
    clock = ManualClock(time.time() + 365 * 86400)
    async with KondadoClient(sim.base_url, sim.key, sim.token, clock=clock) as client:
        with pytest.raises(RateLimited) as caught:
            await client.get_status(2040)
    assert 118.0 <= caught.value.retry_after <= 122.0


def test_retry_after_date_without_a_date_header_uses_the_clock() -> None:
    now = 1_790_000_000.0
    assert retry_after_seconds(formatdate(now + 300, usegmt=True), None, now) == 300.0
    assert retry_after_seconds(formatdate(now - 300, usegmt=True), None, now) == 1.0
    assert retry_after_seconds(formatdate(now + 86400, usegmt=True), "garbage", now) == 600.0
    assert retry_after_seconds("", None, now) is None


async def test_the_poller_calls_it_rate_limiting_and_history_records_no_refusal(
    sim: SimServer,
) -> None:
    clock = ManualClock()
    budget = RateBudget(per_minute=18, clock=clock, ledger_path=None)
    store = HistoryStore(None, clock=clock)
    events: list[PollerEvent] = []
    client = KondadoClient(sim.base_url, sim.key, sim.token, gate=budget, clock=clock)
    poller = Poller(client, budget, clock, [2040, 2041], on_event=events.append, store=store)
    sim.set_fault(FaultMode.HTTP_429, retry_after="47")
    try:
        await poller.step()
        health = poller.health
        assert health.connection is Connection.RATE_LIMITED
        assert "HTTP 429" in health.message and "47 s" in health.message
        assert health.retry_at == pytest.approx(clock.now() + 47.0, abs=1.0)
        assert not [e for e in events if isinstance(e, PipelineFailed)]  # no row refused
        assert store.refusals() == {}
        assert store.transitions() == []
        # nothing leaves before the wait is over
        clock.advance(30)
        await poller.step()
        assert len(sim.log) == 1
        clock.advance(20)
        sim.clear_fault()
        for _ in range(3):
            await poller.step()
            clock.advance(5)
        assert poller.health.connection is Connection.OK
        assert len(sim.log) >= 2
    finally:
        await client.aclose()
        budget.close()
        store.close()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("null", "empty answer (JSON null, HTTP 200)"),
        ("  null\n", "empty answer (JSON null, HTTP 200)"),
        ("", "empty answer (no body at all, HTTP 200)"),
        ("nul", "the answer is not valid JSON (HTTP 200): nul"),
    ],
)
async def test_an_empty_answer_is_called_empty_not_invalid_json(
    sim: SimServer, body: str, words: str
) -> None:
    sim.set_fault(FaultMode.MALFORMED_JSON, body=body)
    async with KondadoClient(sim.base_url, sim.key, sim.token) as client:
        with pytest.raises(BadAnswer) as caught:
            await client.get_status(2040)
    assert words in str(caught.value)
    if body.strip() in ("", "null"):
        assert "not valid JSON" not in str(caught.value)
