"""Which of Textual's internals kondado-tui replaces: decided once, guarded by version.

`ui/terminal/overrides.py` installs the quiet input driver and the left-cropping
partial-update renderer only on the Textual releases they were tested on, and only if
what they replace is still there in the shape they expect; otherwise the dashboard runs
on Textual's own and says so once (a log line, a note on screen). The real program on a
faked version: tests/ui/test_quiet_driver.py (`ON_ANOTHER_TEXTUAL`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual._compositor import ChopsUpdate
from textual.drivers.linux_driver import LinuxDriver
from ui_fakes import ENTRIES, SIZE, FakePoller, FakeSession, make_config, messages, seed

from kondado_tui.core.clock import ManualClock
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.terminal import overrides, partial_updates
from kondado_tui.ui.terminal.overrides import TerminalOverrides
from kondado_tui.ui.terminal.quiet_driver import QuietLinuxDriver

TEXTUALS_OWN = partial_updates._TEXTUALS


@pytest.fixture(autouse=True)
def renderer_as_found(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test leaves `ChopsUpdate.render_segments` as it found it, and runs without
    TEXTUAL_DRIVER (which would choose the driver whatever the overrides say)."""
    monkeypatch.setattr("textual.constants.DRIVER", None)
    found = ChopsUpdate.render_segments
    yield
    ChopsUpdate.render_segments = found  # type: ignore[method-assign]


def _app(tmp_path: Path, terminal: TerminalOverrides) -> tuple[KondadoApp, FakePoller]:
    """The app as the launcher makes it: the overrides' notes join the session's."""
    clock = ManualClock(frozen=True)
    poller = FakePoller(clock, [e.id for e in ENTRIES])
    config = make_config(tmp_path / "config.toml", ENTRIES)
    session = FakeSession(config, poller, notes=list(terminal.notes))
    app = KondadoApp(session, clock=clock, env={}, overrides=terminal)
    return app, poller


def _another_textual(monkeypatch: pytest.MonkeyPatch, version: str = "8.3.0") -> None:
    monkeypatch.setattr(overrides, "textual_version", lambda: version)


@pytest.mark.parametrize(
    ("version", "tested"),
    [
        ("8.2.8", True),
        ("8.2.12", True),
        ("8.2.9rc1", True),
        ("8.3.0", False),
        ("9.0.0", False),
        ("8.1.5", False),
        ("18.2.0", False),
        ("", False),
        ("dev", False),
    ],
)
def test_the_tested_releases(version: str, tested: bool) -> None:
    assert overrides.tested(version) is tested


def test_the_running_textual_is_one_it_was_tested_on() -> None:
    """The test extra pins Textual to 8.2.x (pyproject): the overrides are tested."""
    assert overrides.tested(overrides.textual_version())


def test_on_the_tested_textual_both_are_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    partial_updates.uninstall()
    with caplog.at_level(logging.INFO, logger=overrides.__name__):
        terminal = overrides.install()
    assert terminal == TerminalOverrides(quiet_driver=True, partial_updates=True)
    assert ChopsUpdate.render_segments is partial_updates.render_segments
    assert not caplog.records  # nothing to say
    app, _poller = _app(tmp_path, terminal)
    assert app.driver_class is QuietLinuxDriver


def test_without_the_launcher_the_app_is_on_textuals_own(tmp_path: Path) -> None:
    """Overrides are installed by the launcher, not by the app."""
    partial_updates.uninstall()
    app, _poller = _app(tmp_path, TerminalOverrides())
    assert app.driver_class is LinuxDriver
    assert ChopsUpdate.render_segments is TEXTUALS_OWN


async def test_on_another_textual_the_dashboard_starts_on_textuals_own_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    partial_updates.install()  # as an earlier install in this process would have left it
    _another_textual(monkeypatch)
    with caplog.at_level(logging.INFO, logger=overrides.__name__):
        terminal = overrides.install()
    assert not terminal.quiet_driver and not terminal.partial_updates
    assert ChopsUpdate.render_segments is TEXTUALS_OWN  # Textual's own renderer
    (note,) = terminal.notes
    assert note == (
        "Textual 8.3.0: using Textual's own input driver and renderer "
        "(kondado-tui's quiet driver and partial updates are tested on 8.2)"
    )
    assert [r.getMessage() for r in caplog.records] == [note]  # one log line
    app, poller = _app(tmp_path, terminal)
    assert app.driver_class is LinuxDriver  # Textual's own driver
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        assert app.main.table.row_count == len(ENTRIES)  # the dashboard is up
        poller.observe(2040, "error_building_tables", "boom")  # and lives on
        await pilot.pause()
        assert [m for m in messages(app) if "Textual 8.3.0" in m] == [f" {note}"]  # once


def test_a_changed_render_segments_falls_back_alone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The shape guard: on a tested release whose method changed, Textual's renderer
    is kept and the quiet driver still used."""

    def reshaped(self: Any, console: Any, *, cursor: bool = False) -> str:
        return ""

    monkeypatch.setattr(partial_updates, "_TEXTUALS", reshaped)
    partial_updates.uninstall()  # Textual's (the reshaped one) in place
    with caplog.at_level(logging.INFO, logger=overrides.__name__):
        terminal = overrides.install()
    assert terminal.quiet_driver and not terminal.partial_updates
    assert ChopsUpdate.render_segments is reshaped
    (note,) = terminal.notes
    assert note.startswith("Textual 8.2") and "own renderer (" in note
    assert "render_segments takes (self, console, cursor)" in note
    assert "input driver" not in note
    assert len(caplog.records) == 1


def test_a_changed_linux_driver_falls_back_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(LinuxDriver, "run_input_thread")
    terminal = overrides.install()
    assert not terminal.quiet_driver and terminal.partial_updates
    (note,) = terminal.notes
    assert (
        "own input driver (kondado-tui's quiet driver: LinuxDriver has no run_input_thread()"
        in note
    )
    assert "renderer" not in note
    assert terminal.driver_class(LinuxDriver) is LinuxDriver


def test_a_driver_named_in_textual_driver_is_obeyed(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = overrides.install()
    assert terminal.driver_class(LinuxDriver) is QuietLinuxDriver
    monkeypatch.setattr("textual.constants.DRIVER", "textual.drivers.linux_driver:LinuxDriver")
    assert terminal.driver_class(LinuxDriver) is LinuxDriver
