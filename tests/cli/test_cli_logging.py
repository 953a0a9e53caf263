"""`--log-file`, `--debug` and `[log]` on real commands: the lines land where asked,
HTTP request lines only with --debug, never the token nor the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import demo_sim, write_config

from kondado_tui.cli.main import main
from kondado_tui.core.sim import SimServer

TOKEN = "SEEDED-logging-T0KEN-91aa"


@pytest.fixture
def sim(
    sim_factory: Callable[..., SimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SimServer:
    return demo_sim(sim_factory, tmp_path, monkeypatch, token=TOKEN)


def test_debug_logs_requests_masked_where_asked(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sim)
    log = tmp_path / "debug.log"
    assert main(["--config", str(config), "status", "--debug", "--log-file", str(log)]) == 0
    text = log.read_text()
    assert "HTTP Request: GET" in text and "/pipelines/2040/status" in text
    assert TOKEN not in text and sim.key not in text and "key=***&token=***" in text
    assert " status DEBUG " in text or " status INFO " in text
    out, err = capsys.readouterr()
    assert TOKEN not in out + err


def test_the_config_names_the_log_and_its_level(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "from-config.log"
    config = write_config(tmp_path, sim)
    config.write_text(config.read_text() + f'\n[log]\npath = "{log}"\nlevel = "info"\n')
    assert main(["--config", str(config), "status"]) == 0
    assert main(["--config", str(config), "run", "999999", "--yes"]) == 3
    text = log.read_text()
    assert " status INFO kondado_tui.cli: status ended with exit status 0" in text
    assert "run ended with exit status 3" in text
    assert "HTTP Request" not in text  # library request lines only with --debug
    assert TOKEN not in text


def test_an_unwritable_log_asked_for_is_a_warning_not_a_failure(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sim)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    code = main(["--config", str(config), "--log-file", str(blocker / "x.log"), "status"])
    assert code == 0
    err = capsys.readouterr().err
    assert f"kondado-tui: warning: cannot write the log file {blocker / 'x.log'}" in err
