"""The simulator plays several keys behind one IP and someone else spending the budget:
another tool on our key, or a NAT neighbour on our IP. Virtual time, real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.sim import Outcome, OutsideConsumer, SimServer
from kondado_tui.core.sim.server import OUTSIDE_PATH

SimFactory = Callable[..., SimServer]
START = 1_790_000_000.0


def ask(server: SimServer, account: int = 1) -> dict[str, object]:
    pid = server.world.pipeline_ids[0]
    pair = server.accounts[account - 1]
    answer = httpx.get(
        f"{server.base_url}/pipelines/{pid}/status",
        params={"key": pair.key, "token": pair.token},
        timeout=10,
    )
    result: dict[str, object] = answer.json()
    return result


def test_several_keys_on_one_limiter(sim_factory: SimFactory) -> None:
    clock = ManualClock(START)
    server = sim_factory(keys=3, clock=clock)
    assert len({a.key for a in server.accounts}) == 3
    assert server.accounts[0].key == server.key
    assert "token" not in repr(server.accounts[1]).replace("token='***'", "")
    for account in (1, 2, 3):
        clock.advance(1.0)
        assert "error" not in ask(server, account)
    # the three keys leave from one IP: the IP's second within the second breaches
    assert ask(server, 2)["error"] == "RATE_LIMIT_EXCEEDED"
    records = server.log
    assert [r.account for r in records] == [1, 2, 3, 2]
    assert not any(r.outside for r in records)
    wrong = httpx.get(
        f"{server.base_url}/pipelines/1/status",
        params={"key": server.accounts[0].key, "token": server.accounts[1].token},
    )
    assert wrong.json()["error"] == "RATE_LIMIT_EXCEEDED"  # locked out before auth


def test_a_wrong_pairing_of_key_and_token_is_refused(sim_factory: SimFactory) -> None:
    server = sim_factory(keys=2, rate_limit=False)
    answer = httpx.get(
        f"{server.base_url}/pipelines/1/status",
        params={"key": server.accounts[0].key, "token": server.accounts[1].token},
    )
    assert answer.json()["error"] == "INVALID_TOKEN"


def test_the_outside_consumer_spends_the_key_in_virtual_time(sim_factory: SimFactory) -> None:
    clock = ManualClock(START)
    server = sim_factory(clock=clock)
    server.add_outside(8, on="key", jitter=0.0)
    clock.advance(600.0)  # ten minutes, no HTTP at all
    outside = [r for r in server.log if r.outside]
    assert 79 <= len(outside) <= 81
    assert {r.path for r in outside} == {OUTSIDE_PATH}
    assert all(r.outcome is Outcome.OK and r.account == 1 for r in outside)
    times = [r.time for r in outside]
    assert times == sorted(times) and START <= times[0] <= START + 7.5
    # 8 a minute leave us 12 on the key: 13 in a minute trips it
    for _ in range(13):
        clock.advance(60.0 / 13)
        answer = ask(server)
    assert answer["error"] == "RATE_LIMIT_EXCEEDED"
    assert server.limiter.locked_until("127.0.0.1", server.key) is not None


def test_a_nat_neighbour_spends_the_ip_not_the_key(sim_factory: SimFactory) -> None:
    clock = ManualClock(START)
    server = sim_factory(clock=clock)
    server.add_outside(15, on="ip", jitter=0.0)
    clock.advance(60.0)
    seen = server.log
    assert len(seen) == 15 and all(r.account is None for r in seen)
    for _ in range(6):  # 15 + 6 > 20 on the IP, though the key has had only 6
        clock.advance(1.5)
        answer = ask(server)
    assert answer["error"] == "RATE_LIMIT_EXCEEDED"
    assert server.limiter.locked_until("127.0.0.1") is not None


def test_outside_requests_obey_the_lockout_like_anyone(sim_factory: SimFactory) -> None:
    clock = ManualClock(START)
    server = sim_factory(clock=clock)
    server.add_outside(30, on="key", jitter=0.0)
    assert "error" not in ask(server)
    assert ask(server)["error"] == "RATE_LIMIT_EXCEEDED"  # within the second: breach
    clock.advance(30.0)
    during = [r for r in server.log if r.outside]
    assert len(during) >= 14 and all(r.rate_limited for r in during)


def test_outside_consumer_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        OutsideConsumer(0, None, "ip", START)
    with pytest.raises(ValueError):
        SimServer.__new__(SimServer).add_outside(5, on="moon")
