"""`kondado-tui history`: the recorded transitions as a table and as JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kondado_tui.cli.main import main
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.events import Refusal
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus

NOW = time.time()
HOUR = 3600.0


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """A config without credentials naming one pipeline, and a history of two."""
    history = tmp_path / "state" / "history.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[history]\npath = "{history}"\nretention_days = 30\n\n'
        '[[pipelines]]\nid = 2040\nname = "Orders to warehouse"\n'
    )
    with HistoryStore(history, clock=SYSTEM_CLOCK) as store:
        for at, pid, status, msg in [
            (NOW - 30 * HOUR, 2040, "active", None),
            (NOW - 2 * HOUR, 2040, "running", None),
            (NOW - 2 * HOUR + 600, 2040, "active", None),
            (NOW - 1 * HOUR, 2041, "active", None),
            (
                NOW - 1 * HOUR + 60,
                2041,
                "too_many_consecutive_failed_builds",
                "\x1b]0;pwned\x07Could not connect\x1b[2J to the source\nsecond line",
            ),
        ]:
            store.record(Observation(PipelineStatus(pid, status, raw_msg=msg), at))
    return config, history


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def test_json_lists_the_last_day_by_default(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = setup
    assert main(["--config", str(config), "history", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    entries = json.loads(out)
    assert entries == [
        {
            "time": _iso(NOW - 2 * HOUR),
            "id": 2040,
            "name": "Orders to warehouse",
            "from_status": "active",
            "to_status": "running",
            "raw_msg": None,
            "refusal": None,
            "previous_seen_at": _iso(NOW - 30 * HOUR),
            "source": "local",  # this login's file (no credentials: no collector asked)
            "collector_pid": None,
        },
        {
            "time": _iso(NOW - 2 * HOUR + 600),
            "id": 2040,
            "name": "Orders to warehouse",
            "from_status": "running",
            "to_status": "active",
            "raw_msg": None,
            "refusal": None,
            "previous_seen_at": _iso(NOW - 2 * HOUR),
            "source": "local",
            "collector_pid": None,
        },
        {
            "time": _iso(NOW - HOUR),
            "id": 2041,
            "name": None,
            "from_status": None,
            "to_status": "active",
            "raw_msg": None,
            "refusal": None,
            "previous_seen_at": None,
            "source": "local",
            "collector_pid": None,
        },
        {
            "time": _iso(NOW - HOUR + 60),
            "id": 2041,
            "name": None,
            "from_status": "active",
            "to_status": "too_many_consecutive_failed_builds",
            "raw_msg": "\x1b]0;pwned\x07Could not connect\x1b[2J to the source\nsecond line",
            "refusal": None,
            "previous_seen_at": _iso(NOW - HOUR),
            "source": "local",
            "collector_pid": None,
        },
    ]
    assert "\x1b" not in out  # JSON escapes it: nothing reaches the terminal raw


def test_json_for_one_pipeline_over_a_longer_window(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = setup
    assert main(["--config", str(config), "history", "2040", "--since", "2d", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["from_status"], e["to_status"]) for e in entries] == [
        (None, "active"),
        ("active", "running"),
        ("running", "active"),
    ]
    assert main(["--config", str(config), "history", "2040", "--since", "90m", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    url = "https://app.kondado.com.br/pipelines/2041"
    assert main(["--config", str(config), "history", url, "--since", "all", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_table_is_readable_and_clean(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = setup
    assert main(["--config", str(config), "history"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "ID", "NAME", "FROM", "TO", "MESSAGE"]
    assert len(lines) == 5
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(NOW - 2 * HOUR))
    assert lines[1].startswith(local)
    assert "2040  Orders to warehouse  active" in lines[1] and "▶ running" in lines[1]
    assert "(first seen)" in lines[3] and "● active" in lines[3]
    assert "✖ too many consecutive failed builds" in lines[4]
    assert lines[4].endswith("Could not connect to the source")  # first line only
    assert "\x1b" not in out and "\x07" not in out and "pwned" not in out


def test_nothing_to_show_says_so(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = setup
    assert main(["--config", str(config), "history", "2040", "--since", "30m"]) == 0
    out = capsys.readouterr().out
    assert out == f"No status changes recorded for pipeline 2040 in the last 30m ({history}).\n"


def test_no_history_file_yet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "none" / "history.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(f'[history]\npath = "{history}"\n')
    assert main(["--config", str(config), "history", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == []
    assert f"no history yet: {history} does not exist" in err
    assert not history.exists()  # a read does not create it


def test_a_damaged_history_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "history.sqlite3"
    history.write_bytes(b"garbage" * 100)
    config = tmp_path / "config.toml"
    config.write_text(f'[history]\npath = "{history}"\n')
    assert main(["--config", str(config), "history"]) == 0
    out, err = capsys.readouterr()
    assert "could not be used: it is damaged" in err and "fresh history started" in err
    assert out.startswith("No status changes recorded in the last 24h")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "--since", "yesterday"], "cannot read duration 'yesterday'"),
        (["history", "--since", "30"], "add a unit, e.g. 30s, 30m or 30h"),
        (["history", "--since", "0s"], "must be longer than zero"),
        (["history", "nope"], "'nope' is not a pipeline id"),
        (["history", "0"], "a pipeline id is a positive integer"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    config, _ = setup
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_missing_config_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "history"]) == 2
    assert "no config file there" in capsys.readouterr().err


def test_a_refusal_reads_as_one_in_the_table_and_in_json(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, history = setup
    with HistoryStore(history, clock=SYSTEM_CLOCK) as store:
        store.record_refusal(2040, Refusal.NOT_FOUND, "Pipeline not found", NOW - 600)
        store.record(Observation(PipelineStatus(2040, "active"), NOW - 60))
    assert main(["--config", str(config), "history", "2040", "--since", "1h"]) == 0
    lines = capsys.readouterr().out.splitlines()
    began = next(line for line in lines if "Pipeline not found" in line)
    assert "✖ not found" in began and "? not_found" not in began
    ended = lines[-1]
    assert "not found" in ended and "● active" in ended  # from the refusal, back to active
    assert main(["--config", str(config), "history", "2040", "--since", "1h", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["from_status"], e["to_status"], e["refusal"]) for e in entries] == [
        ("active", "not_found", "not_found"),
        ("not_found", "active", None),
    ]
