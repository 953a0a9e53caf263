"""The rate budget against the simulator's documented limits (1/s, 20/min, 60 s lock-out),
over real loopback HTTP: in virtual time, and with three real processes sharing a ledger."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_limits import arrivals_within_documented_limits

from kondado_tui.core.api import KondadoClient, OpenGate
from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import RateLimited
from kondado_tui.core.models import Priority
from kondado_tui.core.sim import SimServer

SimFactory = Callable[..., SimServer]


START = 1_790_000_000.0


def client_for(sim: SimServer, gate: Any) -> KondadoClient:
    return KondadoClient(sim.base_url, sim.key, sim.token, gate=gate)


async def test_two_sharing_budgets_never_trip_the_simulator(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    sim = sim_factory(rps=1, rpm=20, lockout=60.0, clock=clock)
    ledger = tmp_path / "ledger.sqlite3"
    budgets = [RateBudget(18, clock, ledger) for _ in range(2)]
    clients = [client_for(sim, b) for b in budgets]
    pid = sim.world.pipeline_ids[0]
    priorities = itertools.cycle([Priority.BACKGROUND, Priority.INTERACTIVE, Priority.FOLLOW])
    try:
        while clock.now() < START + 600.0:  # ten virtual minutes, as fast as allowed
            for client in clients:
                await client.get_status(pid, next(priorities))
    finally:
        for client in clients:
            await client.aclose()
        for b in budgets:
            b.close()
    assert not [r for r in sim.log if r.rate_limited]
    times = arrivals_within_documented_limits(sim)
    assert len(times) >= 160


async def test_a_breach_by_someone_else_locks_every_sharer_out(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    sim = sim_factory(rps=1, rpm=20, lockout=60.0, clock=clock)
    ledger = tmp_path / "ledger.sqlite3"
    ours, neighbour = RateBudget(18, clock, ledger), RateBudget(18, clock, ledger)
    rogue = client_for(sim, OpenGate())  # a tool that ignores the budget, same IP
    client = client_for(sim, ours)
    pid = sim.world.pipeline_ids[0]
    try:
        await rogue.get_status(pid)
        with pytest.raises(RateLimited):
            await rogue.get_status(pid)  # the breach: the IP is locked for 60 s
        breach = clock.now()
        with pytest.raises(RateLimited):
            await client.get_status(pid)  # we only learn of it from the answer
        assert ours.locked_until is not None
        assert neighbour.locked_until == ours.locked_until  # heard through the ledger
        assert neighbour.next_slot_at(Priority.INTERACTIVE) >= breach + 60.0
        await client.get_status(pid, Priority.INTERACTIVE)  # waits out the lock-out
        assert clock.now() >= breach + 60.0
        assert ours.recovering and neighbour.recovering
        for _ in range(12):
            await client.get_status(pid)
    finally:
        await rogue.aclose()
        await client.aclose()
    refused = [r for r in sim.log if r.rate_limited]
    assert len(refused) == 2  # the rogue's breach and our one unknowing request
    recovery = sorted(r.time for r in sim.log if breach + 60.0 <= r.time < breach + 120.0)
    assert len(recovery) == 8  # half the background share of the window
    assert min(b - a for a, b in itertools.pairwise(recovery)) >= 2.5 - 1e-6  # half rate


# -- three real processes -------------------------------------------------------------

WORKER = r"""
import asyncio, json, os, sys, time
from pathlib import Path
from kondado_tui.core.api import KondadoClient
from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.errors import KondadoError
from kondado_tui.core.models import Priority

base_url, pid, ledger, deadline, out = sys.argv[1:6]
deadline = float(deadline)

async def main():
    budget = RateBudget(per_minute=18, ledger_path=Path(ledger) if ledger else None)
    client = KondadoClient(base_url, os.environ["SIM_KEY"], os.environ["SIM_TOKEN"],
                           gate=budget)
    sent = []

    async def loop(priority, pause):
        while True:
            try:
                await client.get_status(int(pid), priority)
                outcome = "ok"
            except KondadoError as exc:
                outcome = type(exc).__name__
            sent.append([time.time(), priority.name, outcome])
            if pause:
                await asyncio.sleep(pause)

    loops = [asyncio.ensure_future(loop(p, pause)) for p, pause in (
        (Priority.BACKGROUND, 0), (Priority.BACKGROUND, 0),
        (Priority.INTERACTIVE, 13.0), (Priority.FOLLOW, 3.0))]
    await asyncio.wait(loops, timeout=deadline - time.time())
    for task in loops:  # waiters cancelled at the deadline take no slot
        task.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
    await client.aclose()
    budget.close()
    Path(out).write_text(json.dumps({"shared": budget.shared, "note": budget.note,
                                     "sent": sent}))

asyncio.run(main())
"""


def run_processes(
    sim: SimServer, ledger: Path | None, seconds: float, tmp_path: Path, count: int = 3
) -> list[dict[str, Any]]:
    """`count` processes, each sending as fast as its budget allows for `seconds`."""
    pid = sim.world.pipeline_ids[0]
    deadline = time.time() + 2.0 + seconds  # interpreters take a moment to start
    env = {**os.environ, "SIM_KEY": sim.key, "SIM_TOKEN": sim.token}
    outs = [tmp_path / f"worker{i}.json" for i in range(count)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                sim.base_url,
                str(pid),
                str(ledger or ""),
                str(deadline),
                str(out),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=seconds + 60)
        assert proc.returncode == 0, err
    return [json.loads(out.read_text()) for out in outs]


@pytest.mark.slow
def test_three_processes_sharing_a_ledger_stay_inside_the_budget(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = sim_factory(rps=1, rpm=20, lockout=60.0)
    results = run_processes(sim, tmp_path / "ledger.sqlite3", 90.0, tmp_path)
    assert all(r["shared"] for r in results), [r["note"] for r in results]
    assert all(len(r["sent"]) >= 3 for r in results)  # every process got its turns
    assert not [r for r in sim.log if r.rate_limited]
    assert {s[2] for r in results for s in r["sent"]} == {"ok"}
    times = arrivals_within_documented_limits(sim)
    # As fast as the budget allows: the first window at spacing, then its refill.
    assert len(times) >= 30
    assert {s[1] for r in results for s in r["sent"]} == {"BACKGROUND", "INTERACTIVE", "FOLLOW"}


@pytest.mark.slow
def test_without_the_shared_ledger_three_processes_do_trip_the_limits(
    sim_factory: SimFactory, tmp_path: Path
) -> None:
    """The control experiment: the check above can fail."""
    sim = sim_factory(rps=1, rpm=20, lockout=60.0)
    results = run_processes(sim, None, 6.0, tmp_path)
    assert not any(r["shared"] for r in results)
    assert [r for r in sim.log if r.rate_limited]
