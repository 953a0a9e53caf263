"""`kondado-tui info`: everything a bug report needs and nothing secret (the seeded token
and key never appear, in text or JSON, with or without the API check); an unreachable
API or a broken config is a line of the output, not a failure."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import demo_sim, write_config

from kondado_tui.cli.exitcodes import EXIT_OK
from kondado_tui.cli.main import main
from kondado_tui.core.sim import SimServer

TOKEN = "SEEDED-info-T0KEN-5d8f3a"
KEY = "SEEDED-info-KEY-77b1"


@pytest.fixture
def sim(
    sim_factory: Callable[..., SimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SimServer:
    return demo_sim(sim_factory, tmp_path, monkeypatch, token=TOKEN, key=KEY)


def info(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv]) == EXIT_OK
    out, err = capsys.readouterr()
    assert TOKEN not in out + err and KEY not in out + err
    return out


@pytest.mark.parametrize("offline", [False, True], ids=["api-check", "offline"])
def test_nothing_secret_in_text_or_json(
    tmp_path: Path,
    sim: SimServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    offline: bool,
) -> None:
    monkeypatch.setenv("KONDADO_TOKEN", TOKEN)  # from the environment too
    config = write_config(tmp_path, sim, [(2040, "Orders")])
    extra = ["--offline"] if offline else []
    text = info(capsys, "--config", str(config), "info", *extra)
    data = json.loads(info(capsys, "--config", str(config), "info", "--json", *extra))
    assert "token      set (from $KONDADO_TOKEN)" in text or "set (from $KONDADO_TOKEN)" in text
    assert data["config"]["key"] == "set (in the config file)"
    assert data["config"]["file"] == str(config)
    assert data["versions"]["kondado_tui"] and data["versions"]["textual"].startswith("8.")
    if offline:
        assert data["api"] == {"check": "skipped (--offline)"}
    else:
        assert data["api"]["reachable"] is True and data["api"]["credentials_accepted"] is True
        assert data["api"]["check"].startswith("pipeline 2040 answered (")
        assert "pipeline 2040 answered" in text
    assert data["alerts"]["command"].startswith("none")
    assert data["log"]["file"].endswith("kondado-tui/log/kondado-tui.log")


def test_who_shares_the_budget_and_the_files(
    tmp_path: Path,
    sim: SimServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, sim, [(2040, None)])
    monkeypatch.setenv("KONDADO_TUI_HOST_BUDGET", "off")  # the ledger is then the budget
    assert main(["--config", str(config), "status"]) == 0  # a request in the ledger
    capsys.readouterr()
    data = json.loads(info(capsys, "--config", str(config), "info", "--json", "--offline"))
    budget = data["budget"]
    assert budget["ledger"] == str(tmp_path / "ledger.sqlite3")
    assert budget["requests_last_minute"] >= 1
    (me,) = [p for p in budget["processes"] if p["pid"] == os.getpid()]
    assert me["alive"] and me["this_process"] and me["requests_last_minute"] >= 1
    assert "whose [api] ledger names this file" in budget["shared_with"]
    assert data["files"]["history"].startswith(str(tmp_path / "history.sqlite3") + " (")


def test_an_unreachable_api_is_a_line_not_a_failure(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sim, [(2040, None)], extra="timeout = 1")
    text = info(capsys, "--config", str(config), "--base-url", "http://127.0.0.1:9", "info")
    assert "check      unreachable: " in text or "unreachable: " in text
    assert "cannot connect to http://127.0.0.1:9" in text


def test_a_broken_config_and_a_readable_token_are_warnings(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sim)
    config.chmod(0o644)
    text = info(capsys, "--config", str(config), "info", "--offline")
    assert f"{config} holds the API token and is readable by group and others" in text
    config.write_text(config.read_text() + "\n[alerts]\ncommand = 'not an array'\n")
    data = json.loads(info(capsys, "--config", str(config), "info", "--json"))
    assert "alerts.command: must be an array of strings" in data["config"]["error"]
    assert data["api"]["check"].startswith("skipped")
    assert data["versions"]["python"]  # the rest is still there


def test_the_alert_command_shows_its_program_only(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, sim)
    config.write_text(
        config.read_text()
        + '\n[alerts]\ncommand = ["/bin/sh", "-c", "curl https://hooks.example/T0/B1/SECRETXYZ"]\n'
    )
    data = json.loads(info(capsys, "--config", str(config), "info", "--json", "--offline"))
    assert data["alerts"]["program"] == "/bin/sh" and data["alerts"]["runnable"] == "yes"
    assert "SECRETXYZ" not in json.dumps(data)


def test_tmux_and_its_clipboard_setting(
    tmp_path: Path,
    sim: SimServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tmux"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  "-V") echo "tmux 3.3a";;\n'
        '  "show -sv set-clipboard") echo external;;\n'
        '  "show -gv allow-passthrough") echo off;;\n'
        '  "show -sv escape-time") echo 500;;\n'
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("TMUX", "/tmp/tmux-1000/default,123,0")
    monkeypatch.setenv("TERM", "tmux-256color")
    config = write_config(tmp_path, sim)
    data = json.loads(info(capsys, "--config", str(config), "info", "--json", "--offline"))
    tmux = data["terminal"]["tmux"]
    assert tmux == {
        "inside": True,
        "version": "tmux 3.3a",
        "set_clipboard": "external",
        "allow_passthrough": "off",
        "escape_time": "500",
    }
    assert data["terminal"]["TERM"] == "tmux-256color"
    warnings = " ".join(data["warnings"])
    assert "set -s set-clipboard on" not in warnings  # "external" works for OSC 52
    assert "'set -sg escape-time 10'" in warnings


async def test_who_serves_the_hosts_broker(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str], host_budget_name: str
) -> None:
    from kondado_tui.core.budget import HostBudget, RateBudget
    from kondado_tui.core.budget.scope import scope_for

    config = write_config(tmp_path, sim, [(2040, None)])
    budget = HostBudget(
        18, scope_for(sim.base_url, sim.key, sim.token), host_budget_name, RateBudget(6)
    )
    try:
        await budget.acquire()
        out = await asyncio.to_thread(
            info, capsys, "--config", str(config), "info", "--json", "--offline"
        )
    finally:
        budget.close()
    broker = json.loads(out)["budget"]["broker"]
    assert broker["state"] == "serving"
    assert broker["served_by"]["pid"] == os.getpid() and broker["served_by"]["alive"]
    assert broker["processes"] == 1 and broker["requests_last_minute"] == 1
    assert broker["per_minute"] == 18 and "lockout" not in broker
    assert sim.token not in out and sim.key not in out
