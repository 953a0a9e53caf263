"""Every command that asks the API fails the same way: one clear message, exit 3, no
traceback, never the token; a refused key or token says where to fix it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import isolate_dirs, write_config

from kondado_tui.cli import main
from kondado_tui.exitcodes import EXIT_API
from kondado_tui.sim import SimServer, SimWorld

TOKEN = "SEEDED-failures-T0KEN-77"
DUPLICATE = ["--from", "2040", "--src", "5052", "--dest", "7002", "--table", "=outlet_orders",
             "--table", "line_items=outlet_line_items", "--table", "customers=outlet_customers",
             "--table", "fulfillments=outlet_fulfillments", "--yes", "--no-save"]
COMMANDS = {
    "status": ["status"],
    "status-json": ["status", "--json"],
    "run": ["run", "2040", "--yes"],
    "add": ["add", "2051"],
    "duplicate": ["duplicate", *DUPLICATE],
}


@pytest.fixture
def sim(sim_factory: Callable[..., SimServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> SimServer:
    isolate_dirs(tmp_path, monkeypatch)
    return sim_factory(world=SimWorld(demo=True), token=TOKEN, rate_limit=False)


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
