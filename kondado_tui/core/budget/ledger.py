"""Where the rate budget keeps its records: in memory, or in a small sqlite file.

The sqlite ledger lets every kondado-tui process on a host (two TUIs in tmux panes, a
`status` run from cron) count the same requests, since the API limits per source IP as
well as per key. It holds no secret: request times, the pid and priority that sent them,
and the end of a lock-out. Check-and-record happens in one `BEGIN IMMEDIATE`
transaction, so two processes never both take the last slot.

Every operation is a few sub-millisecond statements (WAL, `synchronous=NORMAL`: commits
do not fsync), run on the caller's thread with a short busy timeout: a competing writer
holds the lock for well under a millisecond, so waiting never stalls the event loop for
long. A busy ledger raises `LedgerBusy` (try again soon); an unusable one raises
`LedgerUnavailable` (the budget then falls back to counting in memory).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

SCHEMA_VERSION = 1
KEEP_SECONDS = 120.0
"""Request times older than this are pruned: longer than any window the budget uses."""
MAX_LOCKOUT_SECONDS = 600.0
"""A lock-out further ahead than this is not believed (clock jump, tampered file)."""
MAX_ROWS = 500
"""Hard cap on stored request rows, whatever the clocks say."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS requests ("
    " at REAL NOT NULL, pid INTEGER NOT NULL, priority INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS requests_at ON requests (at)",
    "CREATE TABLE IF NOT EXISTS lockout ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), until REAL NOT NULL, reported_at REAL NOT NULL)",
)
T = TypeVar("T")


class LedgerBusy(Exception):
    """Another process holds the ledger's write lock right now."""


class LedgerUnavailable(Exception):
    """The ledger cannot be opened, read or written; the message says why."""


@dataclass(frozen=True)
class LedgerState:
    """What every process has recorded: request times (ascending) and the end of the
    latest lock-out (kept after it passed: the budget recovers gently after one)."""

    stamps: tuple[float, ...] = ()
    lockout_end: float | None = None


Decide = Callable[[LedgerState], float]
"""Given the current records, the earliest time the next request may leave."""


class Ledger(Protocol):
    @property
    def shared(self) -> bool: ...

    def read(self, now: float) -> LedgerState: ...

    def take(self, now: float, priority: int, decide: Decide) -> tuple[bool, LedgerState]:
        """Record a request at `now` if `decide(state) <= now`; the state seen before it."""
        ...

    def lock(self, now: float, until: float) -> None: ...

    def move(self, at: float, to: float) -> None:
        """Move this process's request recorded at `at` to `to` (when its answer came)."""
        ...

    def close(self) -> None: ...


def _clean(stamps: list[float], lockout_end: float | None, now: float) -> LedgerState:
    """Drop records that cannot matter any more, or cannot be true."""
    kept = tuple(sorted(t for t in stamps if now - KEEP_SECONDS < t <= now + KEEP_SECONDS))
    # A lock-out ending beyond MAX_LOCKOUT_SECONDS is not believable: ignored, not obeyed.
    if lockout_end is not None and not (
        now - KEEP_SECONDS < lockout_end <= now + MAX_LOCKOUT_SECONDS
    ):
        lockout_end = None
    return LedgerState(kept[-MAX_ROWS:], lockout_end)


class MemoryLedger:
    """This process only: no other process sees these records."""

    shared = False

    def __init__(self, seed: LedgerState | None = None) -> None:
        seed = seed or LedgerState()
        self._stamps = list(seed.stamps)
        self._lockout_end = seed.lockout_end

    def read(self, now: float) -> LedgerState:
        state = _clean(self._stamps, self._lockout_end, now)
        self._stamps = list(state.stamps)
        return state

    def take(self, now: float, priority: int, decide: Decide) -> tuple[bool, LedgerState]:
        state = self.read(now)
        if decide(state) > now:
            return False, state
        self._stamps.append(now)
        return True, state

    def move(self, at: float, to: float) -> None:
        if at in self._stamps:
            self._stamps.remove(at)
            self._stamps.append(to)
            self._stamps.sort()

    def lock(self, now: float, until: float) -> None:
        current = self.read(now).lockout_end
        self._lockout_end = max(until, current or until)

    def close(self) -> None:
        return None


class SqliteLedger:
    """The ledger shared by every process that opens the same file."""

    shared = True

    def __init__(self, path: Path, *, busy_timeout: float = 0.1, open_timeout: float = 1.0) -> None:
        self.path = path
        self._lock = threading.Lock()  # one connection; callers may sit on other threads
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=open_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise LedgerUnavailable(_why(exc)) from None
        try:
            self._run(self._setup)
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        except (LedgerBusy, LedgerUnavailable, sqlite3.Error) as exc:
            self._db.close()
            if isinstance(exc, LedgerBusy):
                raise LedgerUnavailable(
                    f"another process kept it locked for over {open_timeout:g} s"
                ) from None
            if isinstance(exc, sqlite3.Error):
                raise LedgerUnavailable(_why(exc)) from None
            raise

    def _setup(self) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerUnavailable(f"it was written by a newer kondado-tui (format {version})")
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory
            db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            # Writes once now, so an unwritable file is found at start, not at a request.
            db.execute(
                "INSERT INTO lockout (id, until, reported_at) VALUES (1, 0, 0) "
                "ON CONFLICT (id) DO NOTHING"
            )
            db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    # -- operations --------------------------------------------------------------------

    def read(self, now: float) -> LedgerState:
        with self._lock:
            return self._run(lambda: self._state(now))

    def take(self, now: float, priority: int, decide: Decide) -> tuple[bool, LedgerState]:
        def step() -> tuple[bool, LedgerState]:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._prune(now)
                state = self._state(now)
                granted = decide(state) <= now
                if granted:
                    self._db.execute(
                        "INSERT INTO requests (at, pid, priority) VALUES (?, ?, ?)",
                        (now, os.getpid(), priority),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            return granted, state

        with self._lock:
            return self._run(step)

    def lock(self, now: float, until: float) -> None:
        def step() -> None:
            self._db.execute(
                "INSERT INTO lockout (id, until, reported_at) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET until = CASE WHEN until > ? "
                "THEN excluded.until ELSE max(until, excluded.until) END, "
                "reported_at = excluded.reported_at",
                (until, now, now + MAX_LOCKOUT_SECONDS),
            )

        with self._lock:
            self._run(step)

    def move(self, at: float, to: float) -> None:
        def step() -> None:
            self._db.execute(
                "UPDATE requests SET at = ? WHERE rowid = "
                "(SELECT rowid FROM requests WHERE at = ? AND pid = ? LIMIT 1)",
                (to, at, os.getpid()),
            )

        with self._lock:
            self._run(step)

    def stamps_with_pids(self) -> list[tuple[float, int, int]]:
        """Every stored request as (time, pid, priority): for tests and diagnostics."""
        with self._lock:
            rows = self._run(
                lambda: self._db.execute(
                    "SELECT at, pid, priority FROM requests ORDER BY at"
                ).fetchall()
            )
        return [(float(a), int(p), int(q)) for a, p, q in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- internals ---------------------------------------------------------------------

    def _state(self, now: float) -> LedgerState:
        rows = self._db.execute(
            "SELECT at FROM requests WHERE at > ? ORDER BY at", (now - KEEP_SECONDS,)
        ).fetchall()
        lock_row = self._db.execute("SELECT until FROM lockout WHERE id = 1").fetchone()
        lockout_end = float(lock_row[0]) if lock_row and lock_row[0] > 0 else None
        return _clean([float(r[0]) for r in rows], lockout_end, now)

    def _prune(self, now: float) -> None:
        db = self._db
        db.execute(
            "DELETE FROM requests WHERE at <= ? OR at > ?",
            (now - KEEP_SECONDS, now + KEEP_SECONDS),
        )
        db.execute(
            "DELETE FROM requests WHERE rowid NOT IN "
            "(SELECT rowid FROM requests ORDER BY at DESC LIMIT ?)",
            (MAX_ROWS,),
        )

    def _rollback(self) -> None:
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _run(self, step: Callable[[], T]) -> T:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise LedgerBusy(str(exc)) from None
            raise LedgerUnavailable(_why(exc)) from None
        except sqlite3.Error as exc:
            raise LedgerUnavailable(_why(exc)) from None


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__
