"""The history file survives other processes, kill -9 and damage, and never crashes us."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.history.store import SCHEMA_VERSION, HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus

T0 = 1_790_000_000.0


def obs(pid: int, status: str, at: float) -> Observation:
    return Observation(PipelineStatus(pid, status), at)


def _write_many(path: str, worker: int, count: int) -> None:
    """Runs in a child process: its own pipelines, plus one pipeline both workers share."""
    store = HistoryStore(Path(path), clock=ManualClock(T0))
    for i in range(count):
        status = "running" if i % 2 else "active"
        store.record(obs(100 + worker, status, T0 + i))
        store.record(obs(1, f"{status}", T0 + i + worker / 10))
        store.last_observations()
    note = store.note
    store.close()
    if note:
        raise RuntimeError(note)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"  # not there yet: both race to create it
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(path), n, 300)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        assert store.note == ""
        assert len(store.transitions(100)) == 300
        assert len(store.transitions(101)) == 300
        shared = store.transitions(1)
        assert 1 <= len(shared) <= 600
        assert [t.at for t in shared] == sorted(t.at for t in shared)  # never out of order
        assert set(store.last_observations()) == {1, 100, 101}


def test_a_file_locked_while_we_open_it_is_waited_for(tmp_path: Path) -> None:
    """Opening answers "locked" without sqlite's busy wait in some races (a fresh file
    switched to WAL by another process): the store waits, it does not give up."""
    path = tmp_path / "history.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    timer = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    timer.start()
    try:
        store = HistoryStore(path, clock=ManualClock(T0), busy_timeout=0.0)
        store.record(obs(7, "active", T0))
        assert store.note == ""
        assert store.persistent
        store.close()
    finally:
        timer.join()
        holder.close()


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from kondado_tui.core.clock import ManualClock
    from kondado_tui.core.models import Observation, PipelineStatus
    from kondado_tui.core.history.store import HistoryStore

    store = HistoryStore(Path(sys.argv[1]), clock=ManualClock({t0}))
    i = 0
    while True:
        status = "running" if i % 2 else "active"
        store.record(Observation(PipelineStatus(i % 5, status, raw_msg="x" * (i % 300)),
                                 {t0} + i))
        print(i, flush=True)
        i += 1
    """
)


def test_kill_9_in_the_middle_of_writes_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER.format(t0=T0), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    last = -1
    try:
        for line in child.stdout:
            last = int(line)
            if last >= 400:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert last >= 400

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        assert store.note == ""
        seen = {t.at for t in store.transitions()}
        # Every write the child reported done is there, and nothing has a gap: what it
        # did after the last line we read (pipe buffering, the write in flight) is whole too.
        assert {T0 + i for i in range(last + 1)} <= seen
        assert seen == {T0 + i for i in range(len(seen))}


def _set_aside_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


def test_a_file_that_is_not_a_database_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"definitely not sqlite " * 200)
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        assert "could not be used: it is damaged" in store.note
        assert "history.sqlite3.corrupt-20260921T" in store.note
        assert "fresh history started" in store.note
        assert store.persistent
        assert store.record(obs(1, "active", T0)) is True
    (aside,) = [p for p in _set_aside_files(path) if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes().startswith(b"definitely not sqlite")
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        assert store.note == ""
        assert set(store.last_observations()) == {1}


def test_damaged_pages_are_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        for i in range(3000):
            store.record(obs(i % 49, "running" if i % 2 else "active", T0 + i))
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * 4096
    data[3 * 4096 : 6 * 4096] = b"\xde\xad\xbe\xef" * 3072  # clobber pages in the middle
    path.write_bytes(bytes(data))
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        assert "damaged" in store.note
        assert store.transitions() == []
        assert store.record(obs(1, "active", T0)) is True
    assert len(_set_aside_files(path)) == 1


def test_a_file_from_a_newer_version_is_set_aside_with_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    wal = Path(str(path) + "-wal")
    keep_open = sqlite3.connect(path)  # keeps the WAL on disk while we look
    keep_open.execute("SELECT 1 FROM future").fetchall()
    conn.close()
    had_wal = wal.exists()
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        assert "newer kondado-tui" in store.note
        assert f"history format {SCHEMA_VERSION + 1}" in store.note
        assert store.record(obs(1, "active", T0)) is True
    keep_open.close()
    names = {p.name for p in _set_aside_files(path)}
    main = [n for n in names if not n.endswith(("-wal", "-shm"))]
    assert len(main) == 1
    if had_wal:
        assert main[0] + "-wal" in names
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()


def test_an_unopenable_path_falls_back_to_memory(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.mkdir()  # a directory where the file should be
    with HistoryStore(path, clock=ManualClock(T0)) as store:
        assert "cannot be opened" in store.note and "in memory only" in store.note
        assert not store.persistent
        assert store.record(obs(1, "active", T0)) is True
        assert set(store.last_observations()) == {1}
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with HistoryStore(blocker / "sub" / "history.sqlite3", clock=ManualClock(T0)) as store:
        assert "folder cannot be created" in store.note


def test_a_failing_write_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path, clock=ManualClock(T0), busy_timeout=0.05)
    store.record(obs(1, "active", T0))
    blocker = sqlite3.connect(path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock for long
    assert store.record(obs(1, "running", T0 + 1)) is True  # told apart from memory
    assert store.record(obs(1, "running", T0 + 2)) is False
    assert "History could not be saved (database is locked)" in store.note
    blocker.rollback()
    blocker.close()
    assert store.record(obs(1, "active", T0 + 3)) is False  # the file never saw "running"
    assert store.note == ""  # the trouble is over: nothing left to tell
    assert store.record(obs(1, "scheduled", T0 + 4)) is True
    assert [t.to_status for t in store.transitions(1)] == ["active", "scheduled"]
    store.close()


def test_a_file_damaged_while_open_is_set_aside_and_the_write_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path, clock=ManualClock(T0))
    store.record(obs(1, "active", T0))
    # The disk goes bad under the open connection: SQLite notices on the next write.
    for name in (path, Path(str(path) + "-wal")):
        if name.exists():
            name.write_bytes(b"\x00bad sector" * 500)
    real_record = HistoryStore._record
    calls: list[int] = []

    def failing_once(self: HistoryStore, *args: object) -> bool:
        calls.append(1)
        if len(calls) == 1:
            damaged = sqlite3.DatabaseError("database disk image is malformed")
            damaged.sqlite_errorcode = sqlite3.SQLITE_CORRUPT  # type: ignore[attr-defined]
            raise damaged
        return real_record(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(HistoryStore, "_record", failing_once)
    assert store.record(obs(2, "running", T0 + 1)) is True
    assert len(calls) == 2
    assert "damaged" in store.note and "fresh history started" in store.note
    assert store.persistent
    assert set(store.last_observations()) == {2}
    assert len(_set_aside_files(path)) >= 1
    store.close()
