"""One login's dashboard without a terminal: the real session and poller, for a while.

    python benchmarks/_headless_login.py CONFIG SECONDS OUT.json [--shared] [--end-at T]

The same session the dashboard opens (config, host rate budget, history, poller),
polling the configured pipelines for SECONDS (or until the wall-clock time T), then
writing what it got to OUT.json: answers, lock-outs seen, and what its budget said about
sharing. Prints `login ready serving=<bool> role=<role>` once its budget has a broker
(or limits itself alone), so a driver can start the next one or kill this one. Used by
benchmarks/host_budget.py and tests/system/test_host_budget_logins.py.

`--shared` opens the session `kondado-tui` opens since issue 15, exactly as
cli/launch.py does (`SharedSession.open`): this process becomes the account's
collector, or a viewer of it, before it says it is ready. Without it, the session of
before (`Session.open`: every login polls for itself), which the host budget shares.
Either way, every status event the screens would be told is kept with the wall-clock
time it was told (`seen`), and every change of role (`roles`): benchmarks/viewers.py and
tests/system/test_collector_viewers.py read them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from kondado_tui.cli.support import reloader
from kondado_tui.core.budget import HostBudget
from kondado_tui.core.budget.host_budget import Mode
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.collector.shared import SharedSession
from kondado_tui.core.config import load_config
from kondado_tui.core.events import (
    Connection,
    HealthChanged,
    SessionEvent,
    StatusObserved,
)
from kondado_tui.core.session import Session


def open_session(config_path: Path, shared: bool) -> Session | SharedSession:
    config = load_config(config_path, env={})
    if not shared:
        return Session.open(config)
    # as cli/launch.py opens it for `kondado-tui --config CONFIG`
    return SharedSession.open(config, SYSTEM_CLOCK, reload=reloader(argparse.Namespace(), config))


async def main(
    config_path: Path, seconds: float, out: Path, *, shared: bool, end_at: float | None
) -> None:
    session = open_session(config_path, shared)
    answers: list[float] = []
    rate_limited: list[float] = []
    shares: list[dict[str, Any]] = []
    seen: list[tuple[int, str, str | None, float, float]] = []
    roles: list[tuple[float, str | None]] = []

    def on_event(event: SessionEvent) -> None:
        if isinstance(event, StatusObserved):
            status = event.observation.status
            observed_at = event.observation.observed_at
            seen.append(
                (event.pipeline_id, status.status, status.raw_msg, observed_at, time.time())
            )
            if observed_at >= started:  # not a state from history
                answers.append(observed_at)
        elif isinstance(event, HealthChanged):
            health = event.health
            link = health.collector
            role = link.role.value if link is not None else None
            if not roles or roles[-1][1] != role:
                roles.append((time.time(), role))
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
    role = None
    if isinstance(session, SharedSession):
        await session.poller.start()  # the collector found, or this process became it
        role = session.role.value if session.role is not None else None
    serving = isinstance(budget, HostBudget) and budget.sharing.serving
    print(f"login ready serving={serving} role={role} pid={os.getpid()}", flush=True)
    task = asyncio.ensure_future(session.poller.run())
    try:
        await asyncio.sleep(seconds if end_at is None else max(0.0, end_at - time.time()))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        result = {
            "pid": os.getpid(),
            "uid": os.getuid(),
            "started": started,
            "answers": answers,
            "rate_limited": rate_limited,
            "shares": shares,
            "seen": seen,
            "roles": roles,
            "notes": session.notes,
            "note": budget.note,
            "mode": budget.mode.value if isinstance(budget, HostBudget) else "ledger",
        }
        await session.aclose()
        out.write_text(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("seconds", type=float)
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", action="store_true", help="as kondado-tui since issue 15")
    parser.add_argument("--end-at", type=float, default=None, help="wall-clock end (not SECONDS)")
    args = parser.parse_args()
    asyncio.run(main(args.config, args.seconds, args.out, shared=args.shared, end_at=args.end_at))
