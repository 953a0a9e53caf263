"""What the dashboard shows of the alert command: a failure as a notification and in the
status line until a run succeeds; a hold once, as a warning; alerts decided in the core
ring the bell once."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static
from ui_fakes import SIZE, FakeSession, build, messages, record_bells, seed

from kondado_tui.core.events import AlertNotice, AlertOutcome


def status_line(app: object) -> str:
    return str(app.main.query_one("#health", Static).render())  # type: ignore[attr-defined]


async def test_a_failing_alert_command_is_said_and_stays_in_the_status_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, poller = build(tmp_path)
    session = app.session
    assert isinstance(session, FakeSession)
    bells = record_bells(app, monkeypatch)
    now = app.clock.now()
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.observe(2040, "error_building_tables", "db down")
        await pilot.pause()
        assert bells == [1]  # the core's decision reached the dashboard
        failed = "alert command failed for Orders to warehouse (2040): /bin/x failed (exit 6)"
        session.tell(AlertNotice(AlertOutcome.FAILED, failed, now))
        await pilot.pause()
        assert any(failed in m for m in messages(app))
        assert "alert command failing" in status_line(app)
        held = "alert for pipeline 2041 held back: the alert command ran 6 times"
        session.tell(AlertNotice(AlertOutcome.HELD, held, now))
        await pilot.pause()
        assert any(held in m for m in messages(app))
        assert "alert command failing" in status_line(app)  # a hold changes nothing
        session.tell(AlertNotice(AlertOutcome.SENT, "alert sent for x (exit 0 in 0.1 s)", now))
        await pilot.pause()
        assert "alert command failing" not in status_line(app)
        assert not any("alert sent" in m for m in messages(app))  # success is quiet
