"""Alerts with nobody looking: the real session (client, budget, poller, the alert
decision and the alert command) against an independent API, no UI at all, as a
headless collector (`kondado-tui serve`) will run it. A pipeline breaks: the command
runs once with the alert, never with the token, whatever the API's text holds."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from altapi import AltApi

from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.config import load_config
from kondado_tui.core.events import Alert, AlertNotice, AlertOutcome, SessionEvent
from kondado_tui.core.session import Session

TOKEN = "SEEDED-headless-T0KEN-2b7e"

RECORDER = """\
import json, os, sys
out = sys.argv[1]
n = len(os.listdir(out))
with open(os.path.join(out, f"call-{n:03d}.json"), "w") as f:
    json.dump({"env": dict(os.environ), "stdin": sys.stdin.read()}, f)
"""


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(token=TOKEN, rate_limit=False, chunked=False).start()
    yield api
    api.stop()


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_a_pipeline_breaking_runs_the_alert_command_with_no_ui(
    tmp_path: Path, alt: AltApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONDADO_TOKEN", TOKEN)  # the token in our environment, too
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    calls = tmp_path / "calls"
    calls.mkdir()
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        f'[api]\nbase_url = "{alt.base_url}"\nkey = "{alt.key}"\n'
        f'ledger = "{tmp_path / "ledger.sqlite3"}"\n'
        f'[history]\npath = "{tmp_path / "history.sqlite3"}"\n'
        f'[alerts]\ncommand = ["{sys.executable}", "{script}", "{calls}"]\n'
        "on_recovery = true\n"
        '[[pipelines]]\nid = 101\nname = "Orders"\ngroup = "shop"\n'
    )
    config_path.chmod(0o600)
    session = Session.open(load_config(config_path), SYSTEM_CLOCK)
    events: list[SessionEvent] = []
    session.subscribe(events.append)
    polling = asyncio.create_task(session.poller.run())
    try:
        await until(lambda: 101 in session.poller.observations)
        alt.pipelines[101].update(
            status="error_building_tables",
            is_blocked=True,
            raw_msg=f"\x1b]2;pwned\x07db down: https://x/?token={TOKEN}\nstack trace...",
        )
        session.poller.request_now(101)
        await until(lambda: len(list(calls.iterdir())) == 1)
        alt.pipelines[101].update(status="active", is_blocked=False, raw_msg=None)
        session.poller.request_now(101)
        await until(lambda: len(list(calls.iterdir())) == 2)
        await until(lambda: sum(isinstance(e, AlertNotice) for e in events) == 2)
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await session.aclose()
    first, second = (json.loads(p.read_text()) for p in sorted(calls.iterdir()))
    assert first["env"]["KONDADO_ALERT_KIND"] == "trouble"
    assert first["env"]["KONDADO_PIPELINE_NAME"] == "Orders"
    assert first["env"]["KONDADO_PIPELINE_GROUP"] == "shop"
    assert first["env"]["KONDADO_PIPELINE_MESSAGE"] == "db down: https://x/?token=***"
    assert json.loads(first["stdin"])["status"] == "error_building_tables"
    assert second["env"]["KONDADO_ALERT_KIND"] == "recovered"
    everything = json.dumps([first, second])
    assert TOKEN not in everything and "KONDADO_TOKEN" not in everything
    assert "\\u001b" not in everything and "pwned" not in everything
    # the listeners (a dashboard, a viewer) got the same two alerts and both outcomes
    assert [e.kind.value for e in events if isinstance(e, Alert)] == ["trouble", "recovered"]
    outcomes = [e.outcome for e in events if isinstance(e, AlertNotice)]
    assert outcomes == [AlertOutcome.SENT, AlertOutcome.SENT]
