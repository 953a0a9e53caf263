"""Snapshots of every screen at 120x36 and 80x24: frozen clock, fixed data, no polling.

Refresh after a deliberate change with `pytest tests/ui/test_ui_snapshots.py --snapshot-update`
and look at the SVGs in tests/ui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from ui_scene import T, build_scene, seed_scene, utc

from kondado_tui.core.events import Connection

SIZES = [pytest.param((120, 36), id="120x36"), pytest.param((80, 24), id="80x24")]
Compare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    with utc():
        yield


async def _settle(pilot: Pilot[Any]) -> None:
    for _ in range(3):
        await pilot.pause()


def scene(
    tmp_path: Path, health: dict[str, Any] | None = None, select: str | None = None
) -> tuple[Any, Callable[[Pilot[Any]], Any]]:
    app, poller = build_scene(tmp_path)

    async def before(pilot: Pilot[Any]) -> None:
        seed_scene(poller)
        if health:
            poller.set_health(**health)
        await _settle(pilot)
        # the poller and the tick run as long as the app; the rest (start-up, summaries)
        # end (an empty list would mean every worker to `wait_for_complete`)
        ending = [w for w in app.workers if w.group not in ("poller", "tick")]
        if ending:
            await app.workers.wait_for_complete(ending)
        await _settle(pilot)
        if select is not None:
            app.main.table.select_key(select)
            await _settle(pilot)

    return app, before


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app, before = scene(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_detail_screen(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app, before = scene(tmp_path, select="2061")
    assert snap_compare(app, terminal_size=size, run_before=before, press=["enter", "_"])


@pytest.mark.parametrize("size", SIZES)
def test_run_confirm(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app, before = scene(tmp_path, select="2041")
    assert snap_compare(app, terminal_size=size, run_before=before, press=["r", "_"])


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app, before = scene(tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=before, press=["question_mark"])


@pytest.mark.parametrize("size", SIZES)
def test_offline_banner(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    health = {
        "connection": Connection.UNREACHABLE,
        "message": "connection refused (k2.kondado.com.br:443)",
        "retry_at": T + 25,
        "last_success_at": T - 95,
        "next_poll_at": T + 25,
    }
    app, before = scene(tmp_path, health)
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_rate_limit_banner(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    health = {
        "connection": Connection.RATE_LIMITED,
        "message": "Too many requests. Please try again in 60 seconds.",
        "retry_at": T + 47,
        "last_success_at": T - 13,
        "used_last_minute": 20,
    }
    app, before = scene(tmp_path, health)
    assert snap_compare(app, terminal_size=size, run_before=before)
