"""Four dashboards of one account, as a new team would have them: two panes of one login
and two other logins, each with the default config (one key), on 20 pipelines whose
statuses change every few seconds, against the simulator at the documented limits.
Real processes (benchmarks/_headless_login.py --shared: the session cli/launch.py
opens), real time, about 50 s. Counts only: the timings are benchmarks/viewers.py's."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_limits import arrivals_within_documented_limits

from kondado_tui.core.budget.arbiter import HOST_PER_MINUTE
from kondado_tui.core.sim import SimServer, SimWorld

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _logins import (  # the benchmark's logins (benchmarks/viewers.py)
    AS_ROOT,
    FIRST_UID,
    Login,
    Pane,
    finish,
    interpreter_for,
    make_logins,
    ready,
    start,
    write_config,
)

SimFactory = Callable[..., SimServer]
SECONDS = 45.0
LINGER = 3.0  # the collector outlives its viewers: none of them takes over at the end
MARGIN = 2.0  # observations this close to the viewers' end may not have reached them


@pytest.fixture
def team(sim_factory: SimFactory) -> Iterator[tuple[SimServer, list[Login]]]:
    world = SimWorld(pipelines=20, seed=5, speed=30.0)  # a change every ~3 s
    server = sim_factory(world=world, rps=1, rpm=20, lockout=60.0)
    real_uids = AS_ROOT and interpreter_for(FIRST_UID) is not None
    logins = make_logins(
        server.base_url, server.key, server.token, world.pipeline_ids, 3, real_uids=real_uids
    )
    yield server, logins
    for login in logins:
        login.remove()


def observations(result: dict[str, Any]) -> dict[tuple[int, float], tuple[str, str | None]]:
    return {(pid, at): (status, raw) for pid, status, raw, at, _told in result["seen"]}


@pytest.mark.slow
def test_four_dashboards_of_one_key_ask_once_and_all_see_it(
    team: tuple[SimServer, list[Login]], collector_prefix: str
) -> None:
    server, (first, second, third) = team
    ids = server.world.pipeline_ids
    watches = {0: set(ids), 1: set(ids), 2: set(ids[:8]), 3: set(ids[12:])}
    write_config(second, server.base_url, server.key, server.token, ids[:8])
    write_config(third, server.base_url, server.key, server.token, ids[12:])
    env = {"KONDADO_TUI_COLLECTOR": collector_prefix}  # the test's own names
    end = time.time() + SECONDS
    panes: list[Pane] = []
    roles: list[str] = []
    for n, login in enumerate((first, first, second, third)):  # two panes of one login
        pane = start(login, SECONDS, env, shared=True, end_at=end + (LINGER if n == 0 else 0))
        panes.append(pane)
        roles.append(ready(pane).split("role=")[1].split()[0])
    attached = time.time()
    results = [finish(pane, SECONDS + 60) for pane in panes]

    assert roles == ["serving", "viewing", "viewing", "viewing"]
    for result, role in zip(results, roles, strict=True):  # nobody lost or changed role
        assert [r for _, r in result["roles"] if r is not None] == [role], result["roles"]

    # the API saw one dashboard's worth: within the limits, nothing refused, no more
    # in any minute than the host's cap (one dashboard alone asks at most that)
    assert [r for r in server.log if r.rate_limited] == []
    times = arrivals_within_documented_limits(server)
    assert max(sum(1 for u in times if t - 60.0 < u <= t) for t in times) <= HOST_PER_MINUTE
    # ... and the collector had the budget to itself: the viewers took no share of it
    shares = [s["share"] for s in results[0]["shares"] if s["at"] > attached]
    assert shares and set(shares) == {1.0}, shares

    collector = observations(results[0])
    asked = {pid for pid, at in collector if at >= attached}
    assert len(asked) >= 10  # the collector did poll while they watched
    changes = [
        (pid, at)
        for pid, status, raw, at, _ in results[0]["seen"]
        if at >= attached and (status, raw) != _before(results[0]["seen"], pid, at)
    ]
    assert changes  # statuses changed while they watched
    for n, result in enumerate(results[1:], start=1):
        mine = observations(result)
        # a viewer is told only of the pipelines it watches
        assert {pid for pid, _ in mine} <= watches[n]
        # ... and of every observation the collector made of them (every change too),
        # exactly as the collector saw it
        due = {
            key: state
            for key, state in collector.items()
            if key[0] in watches[n] and attached <= key[1] < end - MARGIN
        }
        assert due, n
        missing = sorted(set(due) - set(mine))
        assert missing == [], (n, missing)
        assert all(mine[key] == state for key, state in due.items())


def _before(seen: list[list[Any]], pid: int, at: float) -> tuple[str, str | None] | None:
    """The state the dashboard showed for `pid` before the observation made at `at`."""
    earlier = [(a, (s, r)) for p, s, r, a, _ in seen if p == pid and a < at]
    return max(earlier, key=lambda e: e[0])[1] if earlier else None
