"""The dashboard fed the hostile corpus, checked by the bytes it would write.

Two ways in: a real Session over HTTP whose answers hold the corpus in every field (the
simulator's FIELDS fault: what the parser must clean), and the fake poller handing the
table raw values the parser never saw (a history row written by an older version, a
name from the config: what the display layers must clean). Each time the whole screen
is rendered to the terminal stream Textual would write (table, status line, banner,
notifications, the detail screen, the run confirmation), and what is left once
Textual's own sequences are taken out must be printable text without the token; the
desktop notifications' OSC payloads too.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_corpus import KEY, SAMPLE, TEXTS, TOKEN, leaks, seed_token, terminal_residue, unsafe
from ui_fakes import SIZE, build

from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.config import PipelineEntry, load_config
from kondado_tui.core.events import Connection
from kondado_tui.core.session import Session
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.screens.confirm import ConfirmScreen
from kondado_tui.ui.screens.detail import DetailScreen

SimFactory = Callable[..., SimServer]
OSC_PAYLOAD = re.compile(r"\x1b\](?:9|777);(.*?)\x1b\\", re.S)


def terminal_stream(app: KondadoApp) -> str:
    """Everything the current screen would write to the terminal, from scratch."""
    update = app.screen._compositor.render_full_update()
    return update.render_segments(app.console)


def assert_screen_safe(app: KondadoApp, where: str) -> None:
    stream = terminal_stream(app)
    residue = terminal_residue(stream, app.size.height)
    assert residue == [], (where, residue[:5])
    assert leaks(stream) == [], (where, leaks(stream))
    for notification in app._notifications:
        for text in (notification.message, notification.title):
            assert unsafe(text) == [] and leaks(text) == [], (where, text)


def assert_escapes_safe(app: KondadoApp, where: str) -> None:
    for sequence in app.escapes:
        for payload in OSC_PAYLOAD.findall(sequence.replace("\x1b\x1b", "\x1b")):
            assert unsafe(payload, newlines=False) == [], (where, payload)
            assert leaks(payload) == [], (where, payload)


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def api(sim_factory: SimFactory) -> SimServer:
    seed_token()
    return sim_factory(world=SimWorld(demo=True), key=KEY, token=TOKEN, rate_limit=False)


def _session(tmp_path: Path, api: SimServer) -> Session:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[api]\nbase_url = "{api.base_url}"\nkey = "{KEY}"\ntoken = "{TOKEN}"\n'
        f'ledger = "{tmp_path / "ledger.sqlite3"}"\n'
        f'[ui]\ndesktop_notify = true\n[history]\npath = "{tmp_path / "h.sqlite3"}"\n'
        '\n[[pipelines]]\nid = 2040\nname = "Orders"\n\n[[pipelines]]\nid = 2071\n'
    )
    path.chmod(0o600)
    return Session.open(load_config(path, env={}), SYSTEM_CLOCK)


@pytest.mark.parametrize("name", sorted(SAMPLE))
async def test_every_answer_field_hostile_over_http(
    tmp_path: Path, api: SimServer, name: str
) -> None:
    text = SAMPLE[name]
    # An undocumented status, blocked and not running: trouble, so an alert, a bell and
    # a desktop notification carry the hostile words too.
    api.set_fault(
        FaultMode.FIELDS,
        fields={"status": text, "raw_msg": text, "is_blocked": True, "is_running": False},
    )
    session = _session(tmp_path, api)
    app = KondadoApp(session, clock=SYSTEM_CLOCK, env={"TERM": "xterm"})
    try:
        async with app.run_test(size=SIZE) as pilot:
            board = app.main.board
            await until(lambda: all(row.observation for row in board.rows.values()))
            await pilot.pause()
            assert_screen_safe(app, f"{name}: table")
            assert_escapes_safe(app, name)
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, DetailScreen))
            await pilot.pause()
            assert_screen_safe(app, f"{name}: details")
            await pilot.press("escape", "r")
            await until(lambda: isinstance(app.screen, ConfirmScreen))
            assert_screen_safe(app, f"{name}: run confirmation")
            await pilot.press("escape")
            # error texts: a server failure (the banner) and a refusal (the row)
            error = json.dumps({"success": False, "error": text})
            api.set_fault(FaultMode.BODY, body=error, http_status=500)
            await pilot.press("f")
            await until(lambda: board.health.connection is Connection.UNREACHABLE)
            await pilot.pause()
            assert_screen_safe(app, f"{name}: banner")
            api.set_fault(FaultMode.BODY, body=error, http_status=404)
            await pilot.press("p", "p")  # resume at once
            await until(lambda: any(row.failure for row in board.rows.values()))
            await pilot.pause()
            assert_screen_safe(app, f"{name}: refused row")
    finally:
        await session.aclose()


async def test_raw_values_the_parser_never_saw(tmp_path: Path) -> None:
    """A history row written by an older version, names from the config: the display
    layers clean what did not come through the parser."""
    seed_token()
    entries = tuple(
        PipelineEntry(3000 + i, text[:60], text[:20]) for i, text in enumerate(SAMPLE.values())
    )
    app, poller = build(tmp_path, desktop_notify=True, entries=entries)
    async with app.run_test(size=SIZE) as pilot:
        for i, text in enumerate(SAMPLE.values()):
            poller.observe(3000 + i, text, text)  # raw: no parser on this path
        poller.observe(3001, "too_many_consecutive_failed_builds__blocked", TEXTS["everything"])
        await pilot.pause()
        assert_screen_safe(app, "table")
        assert_escapes_safe(app, "alerts")
        await pilot.press("/")
        await pilot.press(*"x\u202ey")
        await pilot.pause()
        assert_screen_safe(app, "filter")
        await pilot.press("escape", "enter")
        await until(lambda: isinstance(app.screen, DetailScreen))
        await pilot.pause()
        assert_screen_safe(app, "details")
