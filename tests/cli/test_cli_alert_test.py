"""`kondado-tui alert-test`: the configured command run once with a test alert; what it
says when there is none, when it fails; `--dry-run` shows what a command gets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kondado_tui.cli.exitcodes import EXIT_OK, EXIT_UNHEALTHY, EXIT_USAGE
from kondado_tui.cli.main import main

TOKEN = "SEEDED-alerttest-T0KEN-c3d1"
RECORDER = """\
import json, os, sys
with open(sys.argv[1], "w") as f:
    json.dump({"env": dict(os.environ), "stdin": sys.stdin.read()}, f)
"""


def config(tmp_path: Path, alerts: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[api]\nkey = "KEY-1"\ntoken = "{TOKEN}"\n{alerts}\n'
        '[[pipelines]]\nid = 2040\nname = "Orders"\ngroup = "shop"\n'
    )
    path.chmod(0o600)
    return path


def test_runs_the_command_with_a_test_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KONDADO_TOKEN", TOKEN)
    script, out = tmp_path / "record.py", tmp_path / "call.json"
    script.write_text(RECORDER)
    path = config(tmp_path, f'[alerts]\ncommand = ["{sys.executable}", "{script}", "{out}"]')
    assert main(["--config", str(path), "alert-test"]) == EXIT_OK
    call = json.loads(out.read_text())
    env = call["env"]
    assert env["KONDADO_ALERT_TEST"] == "1" and env["KONDADO_ALERT_KIND"] == "trouble"
    assert env["KONDADO_PIPELINE_NAME"] == "Orders" and env["KONDADO_PIPELINE_GROUP"] == "shop"
    assert "TEST from kondado-tui: Orders (2040)" in env["KONDADO_ALERT_TEXT"]
    assert json.loads(call["stdin"])["test"] is True
    assert TOKEN not in json.dumps(call)
    out_text, err = capsys.readouterr()
    assert "the alert command worked (exit 0 in" in out_text
    assert str(out) not in err  # only the program is named: arguments may be secret


def test_without_a_command_it_says_how_to_add_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config(tmp_path, "")), "alert-test"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no alert command: add one to" in err and "[alerts]\n    command = [" in err


def test_a_failing_command_is_exit_1_with_its_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(
        tmp_path,
        '[alerts]\ncommand = ["/bin/sh", "-c", "echo no route to hooks.slack.com >&2; exit 7"]',
    )
    assert main(["--config", str(path), "alert-test", "--recovered"]) == EXIT_UNHEALTHY
    err = capsys.readouterr().err
    assert "the alert command failed: /bin/sh failed (exit 7): no route to hooks.slack.com" in err


def test_dry_run_prints_what_the_command_would_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, "")
    assert main(["--config", str(path), "alert-test", "--dry-run", "--pipeline", "77"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "KONDADO_PIPELINE_ID=77\n" in out and "KONDADO_PIPELINE_NAME='pipeline 77'" in out
    assert '"kind": "trouble"' in out and TOKEN not in out and "KEY-1" not in out
