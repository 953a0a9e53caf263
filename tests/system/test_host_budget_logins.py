"""Logins on one jump host, each with its own HOME and the default config, against the
simulator at the documented limits (1/s, 20/min, 60 s lock-out): the headless session
and poller of each (benchmarks/_headless_login.py), real processes, real time.

Before the host budget, three such logins got 9 of 14 requests refused in 150 s."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from api_limits import arrivals_within_documented_limits

from kondado_tui.core.budget.ledger import LedgerState
from kondado_tui.core.budget.policy import BudgetPolicy
from kondado_tui.core.models import Priority
from kondado_tui.core.sim import SimServer, SimWorld

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _logins import (  # the benchmark's logins (benchmarks/host_budget.py)
    AS_ROOT,
    FIRST_UID,
    Login,
    finish,
    interpreter_for,
    make_logins,
    ready,
    start,
)

SimFactory = Callable[..., SimServer]
Logins = Callable[..., list[Login]]


@pytest.fixture
def logins() -> Iterator[Logins]:
    made: list[Login] = []

    def make(server: SimServer, count: int, *, real_uids: bool) -> list[Login]:
        if real_uids and interpreter_for(FIRST_UID) is None:
            pytest.skip("no Python this package imports in is runnable by another user here")
        ids = server.world.pipeline_ids[:10]
        team = make_logins(
            server.base_url, server.key, server.token, ids, count, real_uids=real_uids
        )
        made.extend(team)
        return team

    yield make
    for login in made:
        login.remove()


@pytest.mark.slow
@pytest.mark.parametrize(
    "real_uids",
    [pytest.param(True, id="three-uids"), pytest.param(False, id="one-uid-three-homes")],
)
def test_three_logins_with_default_configs_share_the_hosts_budget(
    sim_factory: SimFactory, logins: Logins, real_uids: bool
) -> None:
    if real_uids and not AS_ROOT:
        pytest.skip("running as three users needs root")
    world = SimWorld(pipelines=10, seed=5, speed=10.0)
    server = sim_factory(world=world, rps=1, rpm=20, lockout=60.0)
    team = logins(server, 3, real_uids=real_uids)
    seconds = 150.0
    started = time.time()
    for login in team:
        start(login, seconds)
        ready(login)
    results = [finish(login, seconds + 60) for login in team]

    refused = [r for r in server.log if r.rate_limited]
    assert refused == []
    times = arrivals_within_documented_limits(server)
    assert len(times) >= 30  # the budget was used, not sat on
    answers = [len(r["answers"]) for r in results]
    assert min(answers) >= 0.7 * max(answers), answers  # a fair share each
    assert all(not r["rate_limited"] for r in results)
    assert all(r["mode"] == "host" for r in results), [r["note"] for r in results]
    # what each said while all three ran (at the end, the others leave first)
    middle = [s for r in results for s in r["shares"] if started + 30 < s["at"] < started + 120]
    assert middle
    assert all(s["processes"] == 3 for s in middle), middle
    assert all(s["logins"] == (3 if real_uids else 1) for s in middle), middle
    assert all(abs(s["share"] - 1 / 3) < 0.01 for s in middle), middle
    if real_uids:
        assert sorted(r["uid"] for r in results) == [FIRST_UID, FIRST_UID + 1, FIRST_UID + 2]
    print(f"\n{len(times)} requests, 0 refused; answers per login: {answers}")


@pytest.mark.slow
def test_the_brokers_process_killed_the_others_carry_on(
    sim_factory: SimFactory, logins: Logins
) -> None:
    world = SimWorld(pipelines=10, seed=6, speed=10.0)
    server = sim_factory(world=world, rps=1, rpm=20, lockout=60.0)
    real_uids = AS_ROOT and interpreter_for(FIRST_UID) is not None
    first, *others = logins(server, 3, real_uids=real_uids)
    seconds = 90.0
    start(first, seconds)
    assert "serving=True" in ready(first)
    for login in others:
        start(login, seconds)
        assert "serving=False" in ready(login)
    time.sleep(40.0)
    assert first.proc is not None
    first.proc.send_signal(signal.SIGKILL)  # while it may hold a slot
    killed = time.time()
    results = [finish(login, seconds + 60) for login in others]

    assert [r for r in server.log if r.rate_limited] == []
    times = arrivals_within_documented_limits(server)
    before, after = [t for t in times if t <= killed], [t for t in times if t > killed]
    # carried on within seconds of when the budget allowed the next request (it may
    # have been full: 16 automatic requests in any 61 s)
    allowed = BudgetPolicy().earliest(LedgerState(tuple(before)), Priority.BACKGROUND, killed)
    assert after and after[0] - allowed < 4.0, (after[0] - killed, allowed - killed)
    assert len(after) >= 10
    for result in results:
        answered_after = [t for t in result["answers"] if t > killed + 5]
        assert answered_after, result
        assert result["mode"] == "host"
        after_kill = [s for s in result["shares"] if killed + 5 < s["at"] < killed + 30]
        assert after_kill and all(s["processes"] == 2 for s in after_kill), result["shares"]
