"""Every command that asks the API fails the same way: one clear message, exit 3, no
traceback, never the token; a refused key or token says where to fix it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import DUPLICATE, demo_sim, isolate_dirs, write_config

from kondado_tui.cli.exitcodes import EXIT_API, EXIT_USAGE
from kondado_tui.cli.main import main
from kondado_tui.core.budget.ledger import SqliteLedger
from kondado_tui.core.sim import SimServer

TOKEN = "SEEDED-failures-T0KEN-77"
COMMANDS = {
    "status": ["status"],
    "status-json": ["status", "--json"],
    "run": ["run", "2040", "--yes"],
    "add": ["add", "2051"],
    "duplicate": ["duplicate", *DUPLICATE],
}


@pytest.fixture
def sim(
    sim_factory: Callable[..., SimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SimServer:
    return demo_sim(sim_factory, tmp_path, monkeypatch, token=TOKEN)


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_refused_token_names_the_fix(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    config = write_config(tmp_path, sim)
    config.write_text(config.read_text().replace(TOKEN, "WRONG-" + TOKEN))
    assert main(["--config", str(config), *argv]) == EXIT_API
    out, err = capsys.readouterr()
    assert "INVALID_TOKEN" in err
    assert f"check key and token in [api] of {config}" in err
    assert err.count("check key and token") == 1
    assert TOKEN not in out + err and "Traceback" not in err


@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_unreachable_api_is_one_line(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    config = write_config(tmp_path, sim, extra="timeout = 1.0")
    assert main(["--config", str(config), "--base-url", "http://127.0.0.1:9", *argv]) == EXIT_API
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if line.startswith("kondado-tui: ")]
    assert any("cannot connect to http://127.0.0.1:9" in line for line in said)
    assert "check key and token" not in err
    assert TOKEN not in out + err and "Traceback" not in err


# -- rate-limit lock-outs (found trying the CLI: `run` waited up to a minute in silence,
# and the budget's log line reached stderr unformatted) ---------------------------------


@pytest.mark.parametrize(
    ("argv", "what"),
    [(["run", "2040", "--yes"], "the run"), (["status", "2040"], "the first question")],
)
def test_a_command_says_it_waits_for_a_lock_out(
    tmp_path: Path,
    sim: SimServer,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    what: str,
) -> None:
    config = write_config(tmp_path, sim)
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    now = time.time()
    ledger.lock(now, now + 1.5)  # another kondado-tui process was locked out
    ledger.close()
    assert main(["--config", str(config), *argv]) == 0
    err = capsys.readouterr().err
    assert (
        f"the API locked this key out for going over its rate limit: {what} will be "
        "sent when the lock-out ends, in 2 s (Ctrl-C gives up)"
    ) in err
    assert time.time() - now >= 1.4 and len(sim.log) == 1


def test_a_rate_limited_status_is_told_once_in_the_commands_words(
    tmp_path: Path, sim_factory: Callable[..., SimServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real process (pytest's own log handlers would hide logging's last resort)."""
    sim = demo_sim(sim_factory, tmp_path, monkeypatch, token=TOKEN, rate_limit=True, rpm=1)
    config = write_config(tmp_path, sim, [(2040, None), (2051, None)])
    done = subprocess.run(
        [sys.executable, "-m", "kondado_tui", "--config", str(config), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert done.returncode == EXIT_API
    lines = done.stderr.splitlines()
    assert lines, done.stderr
    assert all(line.startswith("kondado-tui: ") for line in lines), done.stderr
    assert "stopped asking: rate limited by the API" in done.stderr
    assert "Traceback" not in done.stderr and TOKEN not in done.stdout + done.stderr


def test_an_output_encoding_without_the_glyphs_gets_question_marks(
    tmp_path: Path, sim: SimServer
) -> None:
    """Found trying the CLI: PYTHONIOENCODING=ascii (or a latin-1 locale) was exit 70."""
    config = write_config(tmp_path, sim, [(2040, None), (2071, "Events — Redshift")])
    done = subprocess.run(
        [sys.executable, "-m", "kondado_tui", "--config", str(config), "status"],
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert done.returncode == 1, done.stderr  # 2071 is blocked in the demo account
    out = done.stdout.decode("ascii")
    assert "? active" in out and "Events ? Redshift" in out
    assert done.stderr == b""


@pytest.mark.parametrize("argv", [[], ["--demo"]], ids=["dashboard", "demo"])
def test_the_dashboard_without_a_terminal_says_so_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """Found trying the CLI: `kondado-tui </dev/null` drew the dashboard into stderr and
    waited for keys forever (from cron: a hung job and escape sequences in its mail)."""
    isolate_dirs(tmp_path, monkeypatch)
    done = subprocess.run(
        [sys.executable, "-m", "kondado_tui", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""
    assert done.stderr.startswith("kondado-tui: the dashboard needs a terminal")
    assert "kondado-tui status" in done.stderr and "\x1b" not in done.stderr
    assert done.stderr.count("\n") == 1
