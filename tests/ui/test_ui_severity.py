"""The dashboard's alerts, row severity and trouble count follow the one severity model:
the same table of cases `status`'s exit code is held to (tests/status_cases.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from status_cases import CASES
from textual.widgets import Static
from ui_fakes import SIZE, build, messages, record_bells

from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import StatusObserved
from kondado_tui.core.models import Observation

FIRST_ID = 500
ENTRIES = tuple(PipelineEntry(FIRST_ID + i, f"case {i}") for i in range(len(CASES)))


async def test_alerts_and_counts_follow_the_severity_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, poller = build(tmp_path, entries=ENTRIES)
    bells = record_bells(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        for entry in ENTRIES:  # the baseline: every pipeline healthy
            poller.observe(entry.id, "active")
        await pilot.pause()
        for index, case in enumerate(CASES):
            pid = FIRST_ID + index
            before = poller.observations[pid]
            now = Observation(case.parsed(pid), app.clock.now())
            poller.emit(StatusObserved(pid, now, before, now.observed_at))
        await pilot.pause()
        trouble = [i for i, case in enumerate(CASES) if case.trouble]
        assert len(bells) == len(trouble)
        alerted = [m for m in messages(app) if m.startswith("case ")]
        assert sorted(int(m.split()[1].rstrip(":")) for m in alerted) == trouble
        for index, case in enumerate(CASES):
            row = app.main.board.rows[FIRST_ID + index]
            assert row.severity is case.severity, case
        shown = str(app.main.query_one("#counts", Static).render())
        # every alarming severity is worded and counted, worst first
        words = [
            f"{sum(1 for c in CASES if c.severity is s)} {s.label}"
            for s in sorted({c.severity for c in CASES if c.trouble}, key=lambda s: s.rank)
        ]
        positions = [shown.find(w) for w in words]
        assert -1 not in positions, (words, shown)
        assert positions == sorted(positions)
        # and sorted on top of the table by severity
        top = app.main.table.shown_keys[: len(trouble)]
        assert sorted(int(k) - FIRST_ID for k in top) == trouble


def test_the_cases_cover_both_answers() -> None:
    assert {c.trouble for c in CASES} == {True, False}
    assert any(c.trouble and c.severity.label == "unknown" for c in CASES)
