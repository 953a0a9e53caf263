"""Chaos: the dashboard against a simulator that fails in every way it knows, and back.

The real composition (`Session.open`: client, shared rate budget, history, poller) drives
the real app (Pilot, headless) over real loopback HTTP. Time runs 200x faster than the
wall clock for the app, the budget and the simulator alike (`ScaledClock`), so the
poller's own backoffs (5 minutes after refused credentials, the 60 s rate-limit lock-out)
play out in seconds; HTTP timeouts stay real (0.3 s).

Through every fault the app must stay responsive (a key works), never pass old data off
as fresh (a banner names the problem; rows older than the poller's promise are marked
stale), recover by itself once the fault clears (at the retry time the banner announced, plus
one request slot; every row fresh again within one round of requests), and never show,
log or store the token.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kondado_tui.core.config import load_config
from kondado_tui.core.events import Connection
from kondado_tui.core.guards.redact import install_log_redaction
from kondado_tui.core.session import Session
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.screens.main import MainScreen
from kondado_tui.ui.view.board import stale_after
from kondado_tui.ui.view.columns import AGE, STALE_MARKER

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _scaled import ScaledClock  # the benchmarks' scaled clock (now and sleep agree)

SPEED = 200.0
TOKEN = "TOKENxSEKRITx7f3a9c"  # recognisable in any text, bytes or log line
KEY = "chaoskey"
PER_MINUTE = 20
SLOT = 60.0 / PER_MINUTE  # seconds between two requests of the budget
TIMEOUT = 0.3  # real seconds: the client's HTTP timeout
PIPELINES = 6
SIZE = (120, 30)
WAIT = 20.0  # real seconds: the longest any phase may take on a busy machine
SLACK = 0.5 * SPEED  # half a real second of scheduling noise, in scaled seconds


@dataclass
class Rig:
    app: KondadoApp
    server: SimServer
    clock: ScaledClock
    directory: Path
    seen_text: list[str]


@pytest.fixture
async def rig_parts(tmp_path: Path, sim_factory: Callable[..., SimServer]) -> AsyncIterator[Rig]:
    clock = ScaledClock(SPEED)
    world = SimWorld(pipelines=PIPELINES, seed=11, clock=clock)
    server = sim_factory(
        world=world, clock=clock, key=KEY, token=TOKEN, rps=1, rpm=20, lockout=60.0
    )
    config_path = tmp_path / "config.toml"
    lines = [
        "[api]",
        f'base_url = "{server.base_url}"',
        f'key = "{KEY}"',
        f'token = "{TOKEN}"',
        f"requests_per_minute = {PER_MINUTE}",
        f"timeout = {TIMEOUT}",
        f'ledger = "{tmp_path / "ledger.sqlite3"}"',
        "",
        "[history]",
        f'path = "{tmp_path / "history.sqlite3"}"',
    ]
    for pid in world.pipeline_ids:
        lines += ["", "[[pipelines]]", f"id = {pid}", f'name = "chaos {pid}"']
    config_path.write_text("\n".join(lines) + "\n")
    config_path.chmod(0o600)
    session = Session.open(load_config(config_path, env={}), clock)
    app = KondadoApp(session, clock=clock, env={"TERM": "xterm"})
    try:
        yield Rig(app, server, clock, tmp_path, [])
    finally:  # as the launcher does after the app: the client, ledger and history close
        await session.aclose()


def screen_text(app: KondadoApp) -> str:
    return app.export_screenshot().replace("&#160;", " ")


def notifications(app: KondadoApp) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


def look(rig: Rig) -> str:
    """The screen now; every look is kept for the token check at the end."""
    text = screen_text(rig.app)
    rig.seen_text.append(text)
    rig.seen_text.extend(notifications(rig.app))
    return text


async def until(
    pilot: object, condition: Callable[[], bool], what: str, timeout: float = WAIT
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


def main_screen(app: KondadoApp) -> MainScreen:
    return app.main


def connection(app: KondadoApp) -> Connection:
    return main_screen(app).board.health.connection


def all_fresh(app: KondadoApp) -> bool:
    main = main_screen(app)
    now = app.clock.now()
    rows = list(main.board.rows.values())
    return connection(app) is Connection.OK and all(
        r.observation is not None and not main.board.is_stale(r, now) for r in rows
    )


def stale_marks_are_honest(app: KondadoApp) -> None:
    """Every row older than the poller's promise says so on screen (the age cell)."""
    main = main_screen(app)
    now = app.clock.now()
    limit = stale_after(main.board.health)
    assert limit is not None
    for row in main.board.rows.values():
        age = row.age(now)
        cells = main.table.cells(str(row.id))
        assert cells is not None
        # a margin for the once-a-second tick, in scaled time
        if age is not None and age > limit + 2 * SPEED:
            assert STALE_MARKER.strip() in cells[AGE].plain, (
                f"row {row.id} is {age:.0f} s old (limit {limit:.0f}) but not marked stale"
            )


async def responsive(pilot: object, app: KondadoApp) -> None:
    """A key still does its job: `s` cycles the sort order."""
    main = main_screen(app)
    before = main.sort_mode
    await pilot.press("s")  # type: ignore[attr-defined]
    await until(pilot, lambda: main.sort_mode is not before, "the s key to change the sort")


def blast(server: SimServer, count: int) -> int:
    """Another program using the same key: `count` quick requests; how many were refused."""
    refused = 0
    pid = server.world.pipeline_ids[0]
    url = f"{server.base_url}/pipelines/{pid}/status?key={KEY}&token={TOKEN}"
    for _ in range(count):
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                refused += b"RATE_LIMIT_EXCEEDED" in answer.read()
        except urllib.error.URLError:
            pass
    return refused


@dataclass(frozen=True)
class Scene:
    name: str
    expect: Connection
    banner: str  # words the banner must show
    start: Callable[[SimServer], None]
    stop: Callable[[SimServer], None]


def fault(mode: FaultMode, delay: float = 2.0) -> Callable[[SimServer], None]:
    return lambda server: server.set_fault(mode, delay=delay)


def clear(server: SimServer) -> None:
    server.clear_fault()


def refuse_token(server: SimServer) -> None:
    server.token = "a-new-token-the-app-does-not-have"


def restore_token(server: SimServer) -> None:
    server.token = TOKEN


SCENES = [
    Scene("5xx HTML", Connection.UNREACHABLE, "unreachable", fault(FaultMode.HTTP_500_HTML), clear),
    Scene("HTML 200", Connection.BAD_ANSWER, "", fault(FaultMode.HTML_200), clear),
    Scene("malformed JSON", Connection.BAD_ANSWER, "", fault(FaultMode.MALFORMED_JSON), clear),
    Scene(
        "slow",
        Connection.UNREACHABLE,
        "unreachable",
        fault(FaultMode.SLOW, delay=4 * TIMEOUT),
        clear,
    ),
    Scene("reset", Connection.UNREACHABLE, "unreachable", fault(FaultMode.RESET), clear),
    Scene("no answer", Connection.UNREACHABLE, "unreachable", fault(FaultMode.NO_ANSWER), clear),
    Scene("token rejected", Connection.REJECTED, "rejected", refuse_token, restore_token),
]


async def run_scene(pilot: object, rig: Rig, scene: Scene) -> float:
    """Fault on, checks, fault off, recovery. Returns scaled seconds from the clear until
    every row was fresh again."""
    app, server = rig.app, rig.server
    scene.start(server)
    await until(
        pilot,
        lambda: connection(app) is scene.expect,
        f"{scene.name}: the app to notice ({scene.expect})",
    )
    # The state changes before the next paint: wait for the banner to be drawn, in words.
    await until(
        pilot,
        lambda: "Kondado" in screen_text(app) and (scene.banner in screen_text(app).lower()),
        f"{scene.name}: the banner to be drawn",
    )
    text = look(rig)
    assert "Kondado" in text
    if scene.banner:
        assert scene.banner in text.lower(), f"{scene.name}: banner missing:\n{text[-3000:]}"
    await responsive(pilot, app)
    # long enough without an answer that every row must be marked stale
    limit = stale_after(main_screen(app).board.health) or 0.0
    last = main_screen(app).board.health.last_success_at or rig.clock.now()
    await until(
        pilot,
        lambda: rig.clock.now() > last + limit + 2 * SPEED,
        f"{scene.name}: the data to outlive its promise",
    )
    await pilot.pause(0.3)  # type: ignore[attr-defined]
    stale_marks_are_honest(app)
    look(rig)
    assert connection(app) is scene.expect, f"{scene.name}: the problem is no longer shown"
    scene.stop(server)
    cleared_at = rig.clock.now()
    # A request in flight at the clear still fails (and may push the retry back): let it
    # end, then hold the poller to the retry time it shows.
    await pilot.pause(TIMEOUT * 2)  # type: ignore[attr-defined]
    health = main_screen(app).board.health
    promised_at = health.retry_at if health.connection is not Connection.OK else None
    await until(pilot, lambda: connection(app) is Connection.OK, f"{scene.name}: back to OK")
    ok_at = rig.clock.now()
    asked_before = len(server.log)
    if promised_at is not None:
        assert ok_at <= max(promised_at, cleared_at) + SLOT + SLACK, (
            f"{scene.name}: back {ok_at - cleared_at:.0f} s after the fault cleared; "
            f"the banner promised a retry {promised_at - cleared_at:.0f} s after it"
        )
    await until(pilot, lambda: all_fresh(app), f"{scene.name}: every row fresh again")
    delay = rig.clock.now() - cleared_at
    # Counted in requests, not time: at 200x, real overheads would dominate a time bound.
    # One round, with the focused row (under the cursor) asked in between the others.
    asked = len(server.log) - asked_before
    assert asked <= 2 * PIPELINES, (
        f"{scene.name}: {asked} requests after the recovery before every row was fresh "
        f"again ({PIPELINES} pipelines): some pipelines were left waiting"
    )
    look(rig)
    await responsive(pilot, app)
    return delay


@pytest.mark.slow  # ~40 s: seven faults, a lock-out, each held until the rows go stale
async def test_every_fault_and_back(rig_parts: Rig, caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()  # as the command line does before it opens the dashboard
    caplog.set_level(logging.DEBUG)
    rig = rig_parts
    app = rig.app
    delays: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all_fresh(app), "every pipeline seen once")
        look(rig)
        for scene in SCENES:
            delays[scene.name] = await run_scene(pilot, rig, scene)
        # rate limited: another program burns the key's budget; the API locks it out
        refused = await asyncio.to_thread(blast, rig.server, 25)
        assert refused > 0
        await until(
            pilot, lambda: connection(app) is Connection.RATE_LIMITED, "the app to hit the lock-out"
        )
        await until(
            pilot, lambda: "Rate limited" in screen_text(app), "the rate-limit banner to be drawn"
        )
        text = look(rig)
        assert "Rate limited" in text
        await responsive(pilot, app)
        locked_at = rig.clock.now()
        await until(pilot, lambda: all_fresh(app), "recovery after the lock-out")
        delays["rate limited"] = rig.clock.now() - locked_at
        assert delays["rate limited"] <= 60.0 + SLOT + 2 * SPEED
        look(rig)
        assert app.is_running
    print("recovery after the fault cleared (simulated seconds):", delays)

    # the token never shows, is never logged, never stored outside the config file
    for text in rig.seen_text:
        assert TOKEN not in text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    for path in rig.directory.rglob("*"):
        if path.is_file() and path.name != "config.toml":
            assert TOKEN.encode() not in path.read_bytes(), f"the token is in {path.name}"
    assert all(TOKEN not in r.path for r in rig.server.log)
