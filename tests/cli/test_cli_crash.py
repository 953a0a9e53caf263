"""A bug ends with exit 70 and one message naming the log; the traceback is in the log,
never on screen, and neither holds the token (a real process, and the dashboard)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import demo_sim, write_config
from textual.widgets import Static
from ui_fakes import SIZE, build

from kondado_tui.cli.exitcodes import EXIT_BUG
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.sim import SimServer

TOKEN = "SEEDED-crash-T0KEN-0b5c7e"
BUG = f"""\
import sys
import kondado_tui.cli.commands.status as status

def broken(config):
    raise KeyError("https://k2.example/pipelines/1/status?key=KEY-9&token={TOKEN}")

status.config_names = broken
from kondado_tui.cli.main import run
sys.argv[0] = "kondado-tui"
run()
"""


def test_a_bug_in_a_command_leaves_its_traceback_in_the_log(
    tmp_path: Path,
    sim_factory: Callable[..., SimServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = demo_sim(sim_factory, tmp_path, monkeypatch, token=TOKEN)
    config = write_config(tmp_path, sim)
    done = subprocess.run(
        [sys.executable, "-c", BUG, "--config", str(config), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    log = tmp_path / "state" / "kondado-tui" / "log" / "kondado-tui.log"
    assert done.returncode == EXIT_BUG
    assert done.stdout == ""
    err = done.stderr
    assert err.startswith("kondado-tui: unexpected KeyError: ")
    assert "Traceback" not in err and TOKEN not in err and 'File "' not in err
    assert f"the details are in {log}" in err
    text = log.read_text()
    assert "unexpected error in status: KeyError" in text
    assert "Traceback (most recent call last)" in text and "in broken" in text
    assert TOKEN not in text and "KEY-9" not in text


async def test_a_bug_in_the_dashboard_goes_to_the_log_not_the_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    register_secret(TOKEN)
    app, _poller = build(tmp_path)

    def broken() -> None:
        raise RuntimeError(f"GET https://k2.example/?token={TOKEN} failed")

    monkeypatch.setattr(app.main, "action_sort", broken)
    with pytest.raises(RuntimeError):
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.main.query_one("#health", Static)  # the screen is up
            await pilot.press("s")
            await pilot.pause()
    assert app.return_code == EXIT_BUG
    err = capsys.readouterr().err + app.crash_message  # what the launcher prints after
    log = tmp_path / "state" / "kondado-tui" / "log" / "kondado-tui.log"
    assert "kondado-tui: unexpected RuntimeError: GET https://k2.example/?token=*** failed" in err
    assert f"the details are in {log}" in err
    assert "Traceback" not in err and TOKEN not in err and "locals" not in err.lower()
    text = log.read_text()
    assert "unexpected error in dashboard: RuntimeError" in text and "in broken" in text
    assert TOKEN not in text
