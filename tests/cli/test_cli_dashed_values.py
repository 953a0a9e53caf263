"""A value starting with a dash (`status --max-age -1m`): argparse took it for an option
and answered a bare "expected one argument". Every option that takes a duration or a
number now gets the value, glued or not, and refuses it in its own words: the option
named, what a valid value looks like, exit status 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kondado_tui.cli.exitcodes import EXIT_USAGE
from kondado_tui.cli.main import build_parser, main
from kondado_tui.cli.support import glue_dashed_values

NEGATIVE = "negative durations are not allowed; use one like 90s, 30m, 24h, 7d or 1h30m"

# (command, option, value, what the one error line says)
DASHED = (
    (["status"], "--max-age", "-1m", f"argument --max-age: cannot read duration '-1m': {NEGATIVE}"),
    (
        ["status"],
        "--max-age",
        "-1h30m",
        f"argument --max-age: cannot read duration '-1h30m': {NEGATIVE}",
    ),
    (
        ["history"],
        "--since",
        "-1h",
        f"argument --since: cannot read duration '-1h': {NEGATIVE} (or 'all')",
    ),
    (["sim"], "--pipelines", "-5x", "argument --pipelines: invalid int value: '-5x'"),
    (["sim"], "--speed", "-.5x", "argument --speed: invalid float value: '-.5x'"),
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[api]\nkey = "k"\ntoken = "t"\n')
    path.chmod(0o600)
    return path


def _global(command: list[str], config: Path) -> list[str]:
    return [] if command == ["sim"] else ["--config", str(config)]


@pytest.mark.parametrize("glued", [False, True], ids=["spaced", "glued"])
@pytest.mark.parametrize(
    ("command", "option", "value", "message"),
    DASHED,
    ids=[f"{d[0][0]}{d[1]}{d[2]}" for d in DASHED],
)
def test_a_dashed_value_is_refused_by_its_option(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    glued: bool,
    command: list[str],
    option: str,
    value: str,
    message: str,
) -> None:
    given = [f"{option}={value}"] if glued else [option, value]
    with pytest.raises(SystemExit) as exited:
        main([*_global(command, config), *command, *given])
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1, err
    assert message in errors[0]
    assert "expected one argument" not in err


def test_a_negative_number_the_command_checks_is_named_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`-1e3` does not look like a number to argparse either; the command's own check
    (numbers are read, then judged) names the option and the range."""
    assert main(["sim", "--speed", "-1e3"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("kondado-tui: --speed -1000.0: use a number above 0"), err


def test_the_real_command_says_it_in_one_line_without_a_traceback(config: Path) -> None:
    for given in (["--max-age", "-1m"], ["--max-age=-1m"]):
        done = subprocess.run(
            [sys.executable, "-m", "kondado_tui", "--config", str(config), "status", *given],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ},
        )
        assert done.returncode == EXIT_USAGE
        assert done.stdout == ""
        assert (
            f"kondado-tui status: error: argument --max-age: cannot read duration "
            f"'-1m': {NEGATIVE}" in done.stderr
        )
        assert "Traceback" not in done.stderr and "expected one argument" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        # only after an option that takes one value, within its command
        (["status", "--max-age", "-1m"], ["status", "--max-age=-1m"]),
        (["status", "--json", "-5"], ["status", "--json", "-5"]),  # a flag: -5 is an ID
        (["--config", "-1", "status"], ["--config=-1", "status"]),
        # a value that is a command's name does not switch commands
        (
            ["--config", "sim", "status", "--max-age", "-2h"],
            ["--config", "sim", "status", "--max-age=-2h"],
        ),
        # words that can be options, '-' (standard input) and anything after '--' stay
        (["status", "--max-age", "--json"], ["status", "--max-age", "--json"]),
        (["duplicate", "--body", "-"], ["duplicate", "--body", "-"]),
        (["status", "--", "--max-age", "-1m"], ["status", "--", "--max-age", "-1m"]),
        (["status", "--max-age"], ["status", "--max-age"]),
    ],
)
def test_glue_dashed_values(argv: list[str], parsed: list[str]) -> None:
    assert glue_dashed_values(argv, build_parser()) == parsed
