"""How commands name pipelines: a name from the config, or the id alone.

An unnamed pipeline has no name: JSON says null and messages say 'pipeline 2040', never
'pipeline 2040 (2040)' or a made-up name (found trying the CLI by hand).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import DUPLICATE, demo_sim, write_config

from kondado_tui.cli.main import main
from kondado_tui.core.sim import SimServer

ENTRIES = ((2040, None), (2051, "Sessions"))


@pytest.fixture
def config(
    tmp_path: Path, sim_factory: Callable[..., SimServer], monkeypatch: pytest.MonkeyPatch
) -> Path:
    sim = demo_sim(sim_factory, tmp_path, monkeypatch)
    return write_config(tmp_path, sim, ENTRIES)


def _main(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def test_status_and_history_json_name_only_named_pipelines(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _main(config, "status", "--json", "2040", "2051", "2052")
    names = {row["id"]: row["name"] for row in json.loads(capsys.readouterr().out)}
    assert names == {2040: None, 2051: "Sessions", 2052: None}
    assert _main(config, "history", "--json") == 0
    names = {row["id"]: row["name"] for row in json.loads(capsys.readouterr().out)}
    assert names == {2040: None, 2051: "Sessions", 2052: None}


def test_tables_leave_the_name_of_an_unnamed_pipeline_empty(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _main(config, "status")
    _main(config, "history")
    out = capsys.readouterr().out
    assert "Sessions" in out and "pipeline 2040" not in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["run", "2040", "--yes"], "pipeline 2040: "),
        (["run", "2051", "--yes"], "Sessions (2051): "),
        (["duplicate", *DUPLICATE], "from pipeline 2040: https://"),
    ],
)
def test_messages_name_a_pipeline_once(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert _main(config, *argv) == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert said in text
    assert "(2040)" not in text


def test_adding_a_listed_unnamed_pipeline_does_not_invent_a_name(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main(config, "add", "2040") == 2
    err = capsys.readouterr().err
    assert f"pipeline 2040 is already in {config}; nothing to add" in err
