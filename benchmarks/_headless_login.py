"""One login's dashboard without a terminal: the real session and poller, for a while.

    python benchmarks/_headless_login.py CONFIG SECONDS OUT.json

The same session the dashboard opens (config, host rate budget, history, poller),
polling the configured pipelines for SECONDS, then writing what it got to OUT.json:
answers, lock-outs seen, and what its budget said about sharing. Prints
`login ready serving=<bool>` once its budget has a broker (or limits itself alone), so
a driver can start the next one or kill this one. Used by benchmarks/host_budget.py and
tests/system/test_host_budget_logins.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from kondado_tui.core.budget import HostBudget
from kondado_tui.core.budget.host_budget import Mode
from kondado_tui.core.config import load_config
from kondado_tui.core.events import Connection, HealthChanged, PollerEvent, StatusObserved
from kondado_tui.core.session import Session


async def main(config_path: Path, seconds: float, out: Path) -> None:
    session = Session.open(load_config(config_path, env={}))
    answers: list[float] = []
    rate_limited: list[float] = []
    shares: list[dict[str, Any]] = []

    def on_event(event: PollerEvent) -> None:
        if isinstance(event, StatusObserved):
            if event.observation.observed_at >= started:  # not a state from history
                answers.append(event.observation.observed_at)
        elif isinstance(event, HealthChanged):
            health = event.health
            if health.connection is Connection.RATE_LIMITED:
                rate_limited.append(time.time())
            if health.share is not None:
                shares.append(
                    {
                        "at": time.time(),
                        "host_wide": health.share.host_wide,
                        "processes": health.share.processes,
                        "logins": health.share.logins,
                        "share": health.share.share,
                        "max_age": health.max_age,
                        "limit": health.lowered_to or health.budget_per_minute,
                    }
                )

    started = time.time()
    session.subscribe(on_event)
    budget = session.budget
    deadline = time.monotonic() + 15.0
    while isinstance(budget, HostBudget) and budget.mode is Mode.WAITING:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    serving = isinstance(budget, HostBudget) and budget.sharing.serving
    print(f"login ready serving={serving} pid={os.getpid()}", flush=True)
    task = asyncio.ensure_future(session.poller.run())
    try:
        await asyncio.sleep(seconds)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        result = {
            "pid": os.getpid(),
            "uid": os.getuid(),
            "answers": answers,
            "rate_limited": rate_limited,
            "shares": shares,
            "notes": session.notes,
            "note": budget.note,
            "mode": budget.mode.value if isinstance(budget, HostBudget) else "ledger",
        }
        await session.aclose()
        out.write_text(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])))
