"""One-shot commands leave no database open: the rate ledger and the history store are
closed before the command returns (scripts may call `cli.main` in a long-lived process).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import DUPLICATE, demo_sim, write_config

from kondado_tui.cli.main import main
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.sim import SimServer


@pytest.fixture
def demo(
    sim_factory: Callable[..., SimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SimServer:
    return demo_sim(sim_factory, tmp_path, monkeypatch)


@pytest.fixture
def config(tmp_path: Path, demo: SimServer) -> Path:
    return write_config(tmp_path, demo)


@pytest.fixture
def statements() -> list[str]:
    """Every SQL statement run on the connections the `connections` fixture saw."""
    return []


@pytest.fixture
def connections(
    monkeypatch: pytest.MonkeyPatch, statements: list[str]
) -> Iterator[list[tuple[str, sqlite3.Connection]]]:
    """Every sqlite connection opened while the test runs, with the file it opened."""
    opened: list[tuple[str, sqlite3.Connection]] = []
    real = sqlite3.connect

    def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(database, *args, **kwargs)
        conn.set_trace_callback(statements.append)
        opened.append((str(database), conn))
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    yield opened


def _is_open(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return False
    return True


@pytest.mark.parametrize(
    ("argv", "opens"),
    [
        (["status"], {"ledger.sqlite3", "history.sqlite3"}),
        (["status", "--json", "2040", "2041"], {"ledger.sqlite3", "history.sqlite3"}),
        (["run", "2040", "--yes"], {"ledger.sqlite3"}),
        (["add", "2041"], {"ledger.sqlite3"}),
        (["duplicate", *DUPLICATE], {"ledger.sqlite3"}),
        (["history"], {"history.sqlite3"}),
    ],
    ids=["status", "status-json", "run", "add", "duplicate", "history"],
)
def test_a_command_closes_every_database_it_opened(
    config: Path,
    connections: list[tuple[str, sqlite3.Connection]],
    argv: list[str],
    opens: set[str],
) -> None:
    if argv == ["history"]:
        assert main(["--config", str(config), "status"]) == 0  # something to read
        connections.clear()
    assert main(["--config", str(config), *argv]) in (0, 1)
    assert {Path(name).name for name, _ in connections} >= opens
    assert [name for name, conn in connections if _is_open(conn)] == []


def test_status_with_every_answer_fresh_opens_no_ledger(
    config: Path, demo: SimServer, connections: list[tuple[str, sqlite3.Connection]]
) -> None:
    assert main(["--config", str(config), "status"]) == 0
    asked = len(demo.log)
    connections.clear()
    assert main(["--config", str(config), "status", "--max-age", "1h"]) == 0
    assert len(demo.log) == asked
    assert {Path(name).name for name, _ in connections} == {"history.sqlite3"}
    assert not any(_is_open(conn) for _, conn in connections)


def test_one_shot_commands_skip_the_whole_file_check(
    config: Path,
    tmp_path: Path,
    connections: list[tuple[str, sqlite3.Connection]],
    statements: list[str],
) -> None:
    """quick_check reads the whole history (0.08 s at 200,000 rows, 0.4 s at a million):
    the dashboard runs it at start; `status` and `history` read and write without it."""
    for argv in (["status"], ["history"]):
        assert main(["--config", str(config), *argv]) == 0
    assert any("FROM transitions" in s for s in statements)  # the history was used
    assert not [s for s in statements if "quick_check" in s]
    HistoryStore(tmp_path / "history.sqlite3").close()  # what the dashboard opens
    assert [s for s in statements if "quick_check" in s] == ["PRAGMA quick_check"]
