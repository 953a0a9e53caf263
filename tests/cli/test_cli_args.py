"""Bad pipeline arguments: every command that takes one refuses it the same way.

One argparse type (`cli_support.pipeline_arg`) reads ids and app URLs for `status`,
`run`, `history`, `add` and `remove`: a bad value is one line naming it and both accepted
forms, exit status 2, and nothing is asked of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import demo_sim, write_config

from kondado_tui.cli.exitcodes import EXIT_USAGE
from kondado_tui.cli.main import main
from kondado_tui.core.config import MAX_PIPELINE_ID
from kondado_tui.core.sim import SimServer

COMMANDS = (["status"], ["run", "--yes"], ["history"], ["add"], ["remove"])
BAD = (
    ("abc", "'abc' is not a pipeline id or a Kondado pipeline URL"),
    ("0", "'0': a pipeline id is a positive integer"),
    ("-5", "'-5' is not a pipeline id"),
    ("https://example.com/pipelines/3", "is not a pipeline id or a Kondado pipeline URL"),
    ("https://app.kondado.com.br/pipelines/0", "is not a pipeline id"),
    ("2040\x1b]0;owned\x07", "is not a pipeline id"),
    # found trying the CLI: `history 99999999999999999999999` was exit 70 (OverflowError)
    ("99999999999999999999999", "'99999999999999999999999' is too large for a pipeline id"),
    ("https://app.kondado.com.br/pipelines/99999999999999999999999", "is not a pipeline id"),
)


@pytest.fixture
def sim(
    sim_factory: Callable[..., SimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SimServer:
    return demo_sim(sim_factory, tmp_path, monkeypatch)


@pytest.fixture
def config(tmp_path: Path, sim: SimServer) -> Path:
    return write_config(tmp_path, sim)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(("value", "message"), BAD, ids=[b[0][:12] for b in BAD])
def test_a_bad_pipeline_argument_is_one_usage_line(
    config: Path,
    sim: SimServer,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    value: str,
    message: str,
) -> None:
    before = config.read_text()
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), *command, value])
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1
    assert message in errors[0]
    assert "e.g. 2040 or https://app.kondado.com.br/pipelines/2040" in errors[0]
    assert f"kondado-tui {command[0]}: error: argument ID" in errors[0]
    assert "\x1b" not in err and "Traceback" not in err
    assert sim.log == []
    assert config.read_text() == before


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--json", "https://app.kondado.com.br/pipelines/2040"],
        ["run", "--yes", "app.kondado.com.br/pipelines/2040/"],
    ],
)
def test_status_and_run_take_an_app_url_too(
    config: Path, sim: SimServer, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(["--config", str(config), *argv]) == 0
    assert "2040" in capsys.readouterr().out
    wanted = (
        ("GET", "/pipelines/2040/status")
        if argv[0] == "status"
        else ("POST", "/pipelines/2040/run")
    )
    assert [(r.method, r.path) for r in sim.log] == [wanted]


# -- global options after the command (found trying the CLI: `status --config x` was read
# as a pipeline id, `run 2040 --config x` as an unrecognized argument) -----------------


def test_global_options_work_after_the_command(
    config: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "2040", "--config", str(config)]) == 0
    assert "2040" in capsys.readouterr().out
    assert main(["run", "2040", "--yes", "--config", str(config), "--read-only"]) == EXIT_USAGE
    assert "read-only mode is on" in capsys.readouterr().err
    assert main(["history", "--base-url", "http://127.0.0.1:9", "--config", str(config)]) == 0
    assert [r.method for r in sim.log] == ["GET"]  # status asked; run refused before sending


def test_global_options_before_the_command_are_kept(
    config: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "--read-only", "run", "2040", "--yes"]) == EXIT_USAGE
    assert "read-only mode is on" in capsys.readouterr().err
    assert sim.log == []


def test_sim_takes_no_config_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sim", "--config", "x"])
    assert exited.value.code == EXIT_USAGE
    assert "unrecognized arguments: --config x" in capsys.readouterr().err


def test_the_largest_id_the_history_holds_is_accepted(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "status"]) == 0  # the history file exists
    capsys.readouterr()
    assert main(["--config", str(config), "history", str(MAX_PIPELINE_ID), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"


def test_a_config_id_too_large_for_the_history_is_a_config_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(config.read_text().replace("id = 2040", f"id = {MAX_PIPELINE_ID + 1}"))
    assert main(["--config", str(config), "history"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"pipelines[1].id: {MAX_PIPELINE_ID + 1} is too large" in err
    assert "Traceback" not in err and "unexpected" not in err
