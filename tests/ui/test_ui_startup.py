"""Start-up reads history once: the poller's read paints the table (before any request,
with each `since` told as exact or as a first sighting) and seeds what it asks first.

Once the app read the last observations itself for the first paint and the poller read
them again: the first paint then showed a first sighting's `since` as exact ("3h") until
the poller's replay corrected it ("≥3h").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from altapi import AltApi
from poller_fakes import FakeBudget, Recorder
from test_ui_sim import SIZE, until, write_config

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.clock import SYSTEM_CLOCK, ManualClock
from kondado_tui.core.config import load_config
from kondado_tui.core.events import Connection
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.core.poller import FROM_HISTORY_MESSAGE, Poller
from kondado_tui.core.session import Session
from kondado_tui.core.sim import SimServer
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.view.columns import SINCE, STATUS

HOUR = 3600.0


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per `HistoryStore.last_observations` call, whoever makes it."""
    calls: list[int] = []
    real = HistoryStore.last_observations

    def counted(
        self: HistoryStore, ids: Iterable[int] | None = None
    ) -> dict[int, tuple[Observation, float]]:
        calls.append(1)
        return real(self, ids)

    monkeypatch.setattr(HistoryStore, "last_observations", counted)
    return calls


def _remember(path: Path, now: float, first_seen: int, changed: int) -> None:
    """`first_seen` was already failing when first seen, 3 h ago; `changed` was seen
    going from active to failing 3 h ago."""
    with HistoryStore(path, clock=ManualClock(now)) as store:
        failing = "error_building_tables"
        store.record(
            Observation(PipelineStatus(first_seen, failing, raw_msg="boom"), now - 3 * HOUR)
        )
        store.record(Observation(PipelineStatus(changed, "active"), now - 5 * HOUR))
        store.record(Observation(PipelineStatus(changed, failing, raw_msg="boom"), now - 3 * HOUR))


async def test_the_first_paint_tells_a_first_sighting_from_a_seen_change(
    tmp_path: Path,
    sim: SimServer,
    reads: list[int],
) -> None:
    """Every paint of a row still showing history, from the very first, reads the first
    sighting's `since` as a lower bound; history is read once; nothing was asked yet."""
    first_seen, changed, *_ = ids = sim.world.pipeline_ids[:3]
    _remember(tmp_path / "history.sqlite3", time.time(), first_seen, changed)
    config = load_config(write_config(tmp_path, sim, ids), env={})
    session = Session.open(config, SYSTEM_CLOCK)
    app = KondadoApp(session, clock=SYSTEM_CLOCK)
    painted: dict[int, list[str]] = {first_seen: [], changed: []}
    asked_before_paint: list[int] = []
    flush = app.main.flush

    def recording_flush() -> None:
        flush()
        for pid, seen in painted.items():
            row = app.main.board.rows[pid]
            cells = app.main.table.cells(str(pid)) if app.main.is_mounted else None
            if row.live or row.observation is None or cells is None:
                continue  # not painted from history (yet, or any more)
            if not seen:
                asked_before_paint.extend(1 for r in sim.log if "status" in r.path)
            seen.append(f"{cells[STATUS].plain} | {cells[SINCE].plain}")

    app.main.flush = recording_flush  # type: ignore[method-assign]
    try:
        async with app.run_test(size=SIZE):
            await until(lambda: all(painted.values()))
            await until(lambda: all(app.main.board.rows[i].live for i in ids))
    finally:
        await session.aclose()
    assert painted[first_seen][0].endswith("| ≥3h"), painted
    assert all(p.endswith("| ≥3h") for p in painted[first_seen]), painted
    assert all(p.endswith("| 3h") for p in painted[changed]), painted
    assert reads == [1], "the last observations were read more than once"
    assert not asked_before_paint, "a status was asked before the history was painted"


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, chunked=False).start()
    yield api
    api.stop()


async def test_start_shows_history_and_says_so_before_asking(
    alt: AltApi,
    reads: list[int],
) -> None:
    """`Poller.start` (the app calls it before polling): the seeded rows and a health
    saying they come from history, without a request; `step` does not read again."""
    clock = ManualClock()
    store = HistoryStore(None, clock=clock)
    for pid in (101, 102):
        store.record(Observation(PipelineStatus(pid, "active"), clock.now() - HOUR))
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [101, 102, 103], on_event=recorder, store=store)
        await poller.start()
        assert {e.pipeline_id for e in recorder.observed()} == {101, 102}
        assert all(e.since_first_seen for e in recorder.observed())
        health = recorder.healths()[-1]
        assert health.connection is Connection.STARTING and health.from_history == 2
        assert health.message == FROM_HISTORY_MESSAGE
        assert not alt.received
        await poller.start()  # once only
        await poller.step()  # asks, without reading history again
        assert alt.received
        assert len(recorder.observed()) == 3
    assert reads == [1]
    store.close()
