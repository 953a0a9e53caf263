"""The host budget over its real socket, in this process: budgets find (or become) the
broker, share one window, take over when the broker goes. Real time, a few seconds."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kondado_tui.core.budget import HostBudget, RateBudget
from kondado_tui.core.budget.host_budget import Mode
from kondado_tui.core.budget.scope import scope_for
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import ApiSettings, Config, HistorySettings, UiSettings
from kondado_tui.core.models import Priority
from kondado_tui.core.session import open_budget

BG, INTER = Priority.BACKGROUND, Priority.INTERACTIVE
SCOPE = scope_for("https://k2.kondado.com.br", "key", "token")


@pytest.fixture
def budgets(host_budget_name: str) -> Iterator[list[HostBudget]]:
    made: list[HostBudget] = []
    yield made
    for budget in made:
        budget.close()


def make(budgets: list[HostBudget], name: str, per_minute: int = 18) -> HostBudget:
    budget = HostBudget(per_minute, SCOPE, name, RateBudget(6))
    budgets.append(budget)
    return budget


async def until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.02)


def assert_spaced(stamps: list[float], gap: float = 1.0) -> None:
    for a, b in itertools.pairwise(sorted(stamps)):
        assert b - a >= gap - 0.05, f"two grants {b - a:.3f} s apart"


async def test_the_first_serves_and_both_share_one_window(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    a, b = make(budgets, host_budget_name), make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST and b.mode is Mode.HOST)
    assert a.sharing.serving != b.sharing.serving  # exactly one runs the broker
    stamps: list[float] = []

    async def ask(budget: HostBudget, n: int) -> None:
        for _ in range(n):
            await budget.acquire(BG)
            stamps.append(time.time())
            budget.request_done()

    await asyncio.gather(ask(a, 2), ask(b, 2))
    assert_spaced(stamps, 1.25)
    await until(lambda: a.used_last_minute() == 4 and b.used_last_minute() == 4)
    share = a.sharing
    assert (share.processes, share.logins, share.share) == (2, 1, 0.5)
    assert "2 processes of 1 login" in a.note
    assert a.planning_per_minute == pytest.approx(16 * 0.5 + 2)


async def test_when_the_broker_goes_another_takes_over_within_seconds(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    a, b = make(budgets, host_budget_name), make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST and b.mode is Mode.HOST)
    server, other = (a, b) if a.sharing.serving else (b, a)
    await other.acquire(BG)
    granted = time.time()
    other.request_done()
    server.close()
    asked = time.time()
    await other.acquire(INTER)
    assert time.time() - asked < 3.0
    assert time.time() - granted >= 1.25 - 0.05  # the new broker knew the last grant
    assert other.mode is Mode.HOST and other.sharing.serving
    assert other.used_last_minute() == 2


async def test_a_lockout_told_by_one_holds_the_other(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    a, b = make(budgets, host_budget_name), make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST and b.mode is Mode.HOST)
    await a.acquire(BG)
    a.request_done()
    a.report_rate_limited(60.0)
    await until(lambda: b.locked_until is not None)
    locked = b.locked_until
    assert locked is not None and locked - time.time() > 60.0  # nobody here explains it
    assert b.next_slot_at(INTER) >= locked
    # nobody on this host explains it: the key's rate is lowered for everyone
    await until(lambda: b.limit_per_minute < 18)
    assert b.limit_per_minute == a.limit_per_minute
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(b.acquire(INTER), 1.0)  # cancelling takes no slot


@pytest.mark.slow
async def test_the_smallest_rate_of_a_key_rules_every_process_of_it(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    a, b = make(budgets, host_budget_name, 18), make(budgets, host_budget_name, 4)
    await until(lambda: a.mode is Mode.HOST and b.mode is Mode.HOST)
    await until(lambda: a.limit_per_minute == 4)
    for _ in range(2):  # 4 a minute, less the reserve of 2: two background slots
        await asyncio.wait_for(a.acquire(BG), 5.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(a.acquire(BG), 3.0)
    await asyncio.wait_for(a.acquire(INTER), 5.0)  # the reserve is for key presses


async def test_a_cancelled_wait_takes_no_slot(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    a = make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST)
    await a.acquire(BG)
    waiting = asyncio.ensure_future(a.acquire(BG))
    await asyncio.sleep(0.3)
    assert a.waiting(waiting)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(1.5)
    assert a.used_last_minute() == 1


def test_off_or_virtual_time_means_no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    config = Config(
        path=__import__("pathlib").Path("/nonexistent/config.toml"),
        api=ApiSettings(key="k", token="t"),
        ui=UiSettings(),
        history=HistorySettings(),
        pipelines=(),
    )
    monkeypatch.setenv("XDG_STATE_HOME", "/nonexistent-state")
    virtual = open_budget(config, ManualClock())
    assert isinstance(virtual, RateBudget)
    virtual.close()
    monkeypatch.setenv("KONDADO_TUI_HOST_BUDGET", "off")
    off = open_budget(config)
    assert isinstance(off, RateBudget)
    off.close()


async def test_a_watcher_hears_when_who_shares_the_budget_changes(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    a = make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST)
    heard: list[int] = []
    a.watch(lambda: heard.append(a.sharing.processes))
    b = make(budgets, host_budget_name)
    await until(lambda: b.mode is Mode.HOST)
    assert heard == [] or heard[-1] == 1  # connected, spending nothing: not sharing yet
    await b.acquire(BG)
    await until(lambda: 2 in heard)  # on this loop, without polling
    b.close()
    budgets.remove(b)
    await until(lambda: heard[-1] == 1)


async def test_the_logins_ledger_still_counts_what_went_through_the_broker(
    budgets: list[HostBudget], host_budget_name: str, tmp_path: Path
) -> None:
    """A process of this login that must limit itself alone later counts them."""
    ledger = tmp_path / "ledger.sqlite3"
    a = HostBudget(18, SCOPE, host_budget_name, RateBudget(6, ledger_path=ledger))
    budgets.append(a)
    await a.acquire(BG)
    later = RateBudget(6, ledger_path=ledger)
    assert later.used_last_minute() == 1
    later.close()


@pytest.mark.slow
async def test_a_command_is_told_once_when_it_waited_for_others(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    busy, command = make(budgets, host_budget_name), make(budgets, host_budget_name)
    await until(lambda: busy.mode is Mode.HOST and command.mode is Mode.HOST)
    told: list[str] = []
    command.notices = told.append

    async def presses() -> None:  # key presses elsewhere go first
        for _ in range(4):
            await busy.acquire(INTER)
            busy.request_done()

    pressing = asyncio.ensure_future(presses())
    await asyncio.sleep(0.1)
    await command.acquire(BG)
    await command.acquire(BG)
    await pressing
    assert len(told) == 1, told
    assert told[0].startswith("waited ") and "other kondado-tui processes on this host" in told[0]
    assert "2 processes of 1 login" in told[0]


async def test_a_done_is_written_without_waking_the_link_thread(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    """A `done` goes out from the caller's thread (one hop a request fewer at idle); the
    broker still moves the record to the answer, for this process and the others."""
    a, b = make(budgets, host_budget_name), make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST and b.mode is Mode.HOST)
    woken: list[str] = []
    link = a._link
    wake = link._wake
    link._wake = lambda: (woken.append("wake"), wake())[1]  # type: ignore[method-assign]
    await a.acquire(BG)
    assert woken == ["wake"]  # the want: the link's thread times the broker's answer
    granted = max(t for t, _ in a._mirror.slots.values())
    await asyncio.sleep(0.6)  # the answer comes 0.6 s after the grant
    answered = time.time()
    a.request_done()
    assert woken == ["wake"]  # the done went out at once, from here
    # the broker's time, the same in every mirror: a new broker taking over merges their
    # windows by it (a time of this process's own would count the request twice)
    await until(lambda: min(max(t for t, _ in x._mirror.slots.values()) for x in (a, b)) > granted)
    assert a._mirror.slots == b._mirror.slots
    assert max(t for t, _ in a._mirror.slots.values()) == pytest.approx(answered, abs=0.05)
    assert a.used_last_minute() == b.used_last_minute() == 1  # moved, not added
