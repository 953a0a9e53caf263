"""`kondado-tui` without a command: errors before the screen opens are one line, exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kondado_tui.cli.launch import launch


def args(**options: object) -> argparse.Namespace:
    base: dict[str, object] = {"config": None, "read_only": False, "base_url": None, "demo": False}
    base.update(options)
    return argparse.Namespace(**base)


def test_missing_config_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = launch(args(config=str(tmp_path / "nope.toml")))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("kondado-tui: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_broken_config_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[api]\nkey = "k"\ntoken = "secret-token"\nrequests_per_minute = "many"\n')
    path.chmod(0o600)
    code = launch(args(config=str(path)))
    err = capsys.readouterr().err
    assert code == 2
    assert "requests_per_minute" in err and "secret-token" not in err
    assert "Traceback" not in err
