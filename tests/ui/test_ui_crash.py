"""The dashboard's crash report leans on Textual internals: they are as it expects on the
pinned Textual, and when they are not it still logs, ends with exit 70 and never raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kondado_tui.ui.terminal import crash


def test_the_pinned_textual_has_the_shape_the_crash_report_needs() -> None:
    assert crash.shape_problem() is None


def test_another_textual_still_gets_a_logged_report_and_exit_70(tmp_path: Path) -> None:
    class Elsewhere:  # an App whose private bookkeeping moved
        def __init__(self) -> None:
            self.exited: list[Any] = []

        def exit(self, result: Any = None, return_code: int = 0) -> None:
            self.exited.append(return_code)

    app = Elsewhere()
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        message = crash.handle(app, exc)  # type: ignore[arg-type]
    assert app.exited == [crash.EXIT_BUG]
    assert message.startswith("kondado-tui: unexpected RuntimeError: boom")
    log = tmp_path / "state" / "kondado-tui" / "log" / "kondado-tui.log"
    assert "Traceback" in log.read_text()
