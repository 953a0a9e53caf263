"""The history store: what the poller observed, kept across restarts and processes.

One SQLite file in the user's state dir. Per pipeline it keeps the last observation (so
a monitor opens on the last known state instead of a blank table) and every transition
(a change of status or raw_msg) within the retention limits.

Writes are short `BEGIN IMMEDIATE` transactions in WAL mode, so several processes (two
TUIs, a cron `status`) share the file, and a process killed mid-write loses at most the
observation in flight. Nothing here raises for a database problem: a damaged or newer
file is set aside and a fresh one started, a failed write is reported in `note`, and the
monitor keeps going.

Every method blocks; async code calls them through `asyncio.to_thread`. One connection
serves all threads, behind a lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.events import Refusal
from kondado_tui.core.guards.limits import MAX_MESSAGE, cut
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.history.timeline import (
    HistorySummary,
    RunSummary,
    Transition,
    is_busy,
    is_idle,
    is_trouble,
    newest_runs,
    runs_window,
    summarize,
)
from kondado_tui.core.models import KNOWN_STATUSES, Observation, PipelineStatus

__all__ = [
    "SCHEMA_VERSION",
    "HistoryState",
    "HistoryStore",
    "RunSummary",
    "StoredRefusal",
    "Transition",
]

log = logging.getLogger(__name__)

# 1: transitions and last observations. 2: refusals (a pipeline the API refused to
# describe: not found, no access), as transitions with `refusal` set and the current
# refusal per pipeline. A format-1 file is upgraded in place when opened.
SCHEMA_VERSION = 2
BUSY_TIMEOUT = 5.0  # seconds a write waits for another process's write
PRUNE_EVERY = 500  # writes between two retention passes
RAW_MSG_LIMIT = MAX_MESSAGE  # characters kept of a raw_msg (they can be whole stack traces)
# Two processes polling the same pipeline can write out of order; an observation older
# than the stored one by less than this is such a race and is dropped. Older than that,
# the wall clock was set back, and refusing every write until it catches up would be worse.
STALE_RACE_WINDOW = 600.0
_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY,
    pipeline_id INTEGER NOT NULL,
    at REAL NOT NULL,
    previous_seen_at REAL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    raw_msg TEXT,
    is_running INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    is_blocked INTEGER NOT NULL,
    refusal TEXT
);
CREATE INDEX IF NOT EXISTS transitions_by_pipeline ON transitions (pipeline_id, at);
CREATE INDEX IF NOT EXISTS transitions_by_time ON transitions (at);
CREATE INDEX IF NOT EXISTS transitions_by_status ON transitions (pipeline_id, to_status, at);
CREATE INDEX IF NOT EXISTS transitions_with_msg ON transitions (pipeline_id, at)
    WHERE raw_msg IS NOT NULL;
CREATE TABLE IF NOT EXISTS last_observations (
    pipeline_id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    raw_msg TEXT,
    is_running INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    is_blocked INTEGER NOT NULL,
    observed_at REAL NOT NULL,
    since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    pipeline_id INTEGER PRIMARY KEY,
    refusal TEXT NOT NULL,
    message TEXT,
    since REAL NOT NULL,
    last_at REAL NOT NULL
);
"""

_TRANSITION_COLUMNS = (
    "pipeline_id, at, from_status, to_status, raw_msg, previous_seen_at, "
    "is_running, is_active, is_blocked, refusal"
)


@dataclass(frozen=True)
class StoredRefusal:
    """The API refuses to describe a pipeline: how, since when, and when last asked."""

    refusal: Refusal
    message: str
    since: float
    last_at: float


@dataclass(frozen=True)
class HistoryState:
    """What the history can promise now: for the dashboard's status line and `info`."""

    path: Path | None  # None: in memory by choice (demo, tests)
    persistent: bool  # False: kept in memory only (by choice, or the file cannot be used)
    write_failure: str  # "" or why writes fail now (cleared by the next one that works)
    failing_since: float | None  # when writes began to fail (clock time)
    read_failure: str  # "" or why reads fail now
    notes: tuple[str, ...]  # about the file, for the life of the store (set aside, ...)

    @property
    def saving(self) -> bool:
        """History is being kept as configured (on disk, or in memory by choice)."""
        return not self.write_failure and (self.persistent or self.path is None)

    @property
    def short(self) -> str:
        """A few words for a status line ("" while history is kept)."""
        if self.write_failure:
            return "history not saved"
        if self.path is not None and not self.persistent:
            return "history in memory only"
        return ""

    @property
    def problem(self) -> str:
        """One or two sentences for a person ("" while history is kept)."""
        if self.write_failure:
            return (
                f"{self.write_failure} It is saved again as soon as a write works (freeing "
                "disk space is enough)."
            )
        if self.path is not None and not self.persistent:
            return " ".join(self.notes) or (
                f"The history file {self.path} cannot be used; history is kept in memory only."
            )
        return ""


class _SetAside(Exception):
    """The file must be moved aside; the message says why, for a person."""


class HistoryStore:
    """Transitions and last observations of pipelines, in one SQLite file.

    `path` None keeps history in memory only (tests, `--demo`).
    """

    def __init__(
        self,
        path: Path | str | None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        retention_days: float = 30.0,
        max_rows_per_pipeline: int = 2000,
        busy_timeout: float = BUSY_TIMEOUT,
        quick_check: bool = True,
    ) -> None:
        """`quick_check=False` skips reading the whole file at open (~0.45 s at a million
        rows): for one-shot commands; damage they meet is still handled as it shows up."""
        self.path = Path(path) if path is not None else None
        self._quick_check = quick_check
        self._clock = clock
        self.retention_days = retention_days
        self.max_rows_per_pipeline = max(1, max_rows_per_pipeline)
        self._busy_ms = max(0, int(busy_timeout * 1000))
        self._lock = threading.RLock()
        self._notes: list[str] = []  # about the file: kept for the life of the store
        # What fails now, by "read", "write" or "prune": cleared when one works again.
        self._trouble: dict[str, str] = {}
        self._writes = 0
        self._failing_since: float | None = None  # first failed write of the current run
        # Last (status, raw_msg) per pipeline in this process: answers `record` when the
        # database cannot be written, so transitions are still told apart.
        self._seen: dict[int, tuple[str, str | None]] = {}
        self.persistent = False
        self._conn = self._open()
        self._prune()

    # ----------------------------------------------------------------- public interface

    @property
    def note(self) -> str:
        """What a user should know about the history ("" when all is well).

        Set when a file was set aside or cannot be opened (for the life of the store),
        and while reads or writes fail (cleared by the next one that works).
        """
        with self._lock:
            return " ".join([*self._notes, *self._trouble.values()])

    @property
    def state(self) -> HistoryState:
        """What the history can promise now (`note` in parts)."""
        with self._lock:
            return HistoryState(
                path=self.path,
                persistent=self.persistent,
                write_failure=self._trouble.get("write", ""),
                failing_since=self._failing_since,
                read_failure=self._trouble.get("read", ""),
                notes=tuple(self._notes),
            )

    def record(self, obs: Observation) -> bool:
        """Remember an observation; True when it is a transition (or the first one seen).

        An observation older than the stored one (another process saw the pipeline
        later) is dropped and returns False.
        """
        status = obs.status
        raw_msg = _stored_msg(status.raw_msg)
        pid = status.pipeline_id
        with self._lock:
            try:
                changed = self._write_observation(obs, raw_msg)
            except sqlite3.Error as exc:
                self._write_failed(exc)
                previous = self._seen.get(pid)
                changed = previous != (status.status, raw_msg)
            self._seen[pid] = (status.status, raw_msg)
            self._writes += 1
            if self._writes % PRUNE_EVERY == 0:
                self._prune()
            return changed

    def record_refusal(self, pipeline_id: int, refusal: Refusal, message: str, at: float) -> bool:
        """Remember that the API refused this pipeline at `at`; True when the refusal
        begins (a transition into it is recorded), False when it goes on (or is older
        than an answer another process stored). The next `record` of an answer ends it."""
        text = _stored_msg(message)
        with self._lock:
            try:
                with self._write() as conn:
                    changed = self._refuse(conn, pipeline_id, refusal, text, at)
            except sqlite3.Error as exc:
                self._write_failed(exc)
                return False
            self._write_worked()
            self._seen.pop(pipeline_id, None)  # the next answer is a transition
            return changed

    def refusals(self, ids: Iterable[int] | None = None) -> dict[int, StoredRefusal]:
        """Pipelines the API refuses to describe now (as last asked), and since when."""
        sql = "SELECT pipeline_id, refusal, message, since, last_at FROM refusals"
        found: dict[int, StoredRefusal] = {}
        for pid, refusal, message, since, last_at in self._select_ids(sql, ids):
            kind = _refusal(refusal)
            if kind is not None:
                found[_int(pid)] = StoredRefusal(
                    kind,
                    "" if message is None else str(message),
                    _float(since),
                    _float(last_at),
                )
        return found

    def last_observations(
        self, ids: Iterable[int] | None = None
    ) -> dict[int, tuple[Observation, float]]:
        """Per pipeline its last observation and since when it has been in that state."""
        sql = (
            "SELECT pipeline_id, status, raw_msg, is_running, is_active, is_blocked, "
            "observed_at, since FROM last_observations"
        )
        result: dict[int, tuple[Observation, float]] = {}
        for row in self._select_ids(sql, ids):
            pid, status, raw_msg, running, active, blocked, observed_at, since = row
            pipeline_status = PipelineStatus(
                pipeline_id=_int(pid),
                status=str(status),
                is_running=bool(running),
                is_active=bool(active),
                is_blocked=bool(blocked),
                raw_msg=None if raw_msg is None else str(raw_msg),
            )
            result[_int(pid)] = (Observation(pipeline_status, _float(observed_at)), _float(since))
        return result

    def first_sightings(self, ids: Iterable[int] | None = None) -> set[int]:
        """Pipelines still in the state this history first saw them in: their `since` is
        only when they were first seen (they entered that state earlier, unseen)."""
        sql = (
            "SELECT pipeline_id FROM (SELECT o.pipeline_id AS pipeline_id "
            "FROM last_observations AS o JOIN transitions AS t ON t.pipeline_id = "
            "o.pipeline_id AND t.at = o.since AND t.from_status IS NULL)"
        )
        return {_int(row[0]) for row in self._select_ids(sql, ids)}

    def fresh_observations(
        self, max_age: float, ids: Iterable[int] | None = None
    ) -> dict[int, Observation]:
        """Last observations not older than `max_age` seconds (for `status --max-age`)."""
        oldest = self._clock.now() - max_age
        return {
            pid: obs
            for pid, (obs, _since) in self.last_observations(ids).items()
            if obs.observed_at >= oldest
        }

    def transitions(
        self,
        pipeline_id: int | None = None,
        since: float | None = None,
        *,
        limit: int | None = None,
    ) -> list[Transition]:
        """Transitions oldest first; `limit` keeps the newest ones."""
        where: list[str] = []
        params: list[object] = []
        if pipeline_id is not None:
            where.append("pipeline_id = ?")
            params.append(pipeline_id)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        sql = f"SELECT {_TRANSITION_COLUMNS} FROM transitions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(0, limit))
        rows = self._query(sql, params)
        return [_transition(row) for row in reversed(rows)]

    def runs(self, pipeline_id: int, limit: int = 50) -> list[RunSummary]:
        """The newest `limit` runs of a pipeline, newest first (the first may be RUNNING)."""
        if limit <= 0:
            return []
        window = runs_window(limit)
        return newest_runs(self.transitions(pipeline_id, limit=window), limit, window)

    def summary(self, pipeline_id: int, durations: int = 20) -> HistorySummary:
        """Last run, last success, last failure and recent durations of one pipeline."""
        window = max(durations, 1) * 8 + 8
        recent = self.transitions(pipeline_id, limit=window)
        found = summarize(recent, durations)
        if len(recent) < window:
            return found
        # Older rows exist: look there for what the newest ones do not hold.
        before = recent[0].at
        return dataclasses.replace(
            found,
            last_failure=found.last_failure or self._last_failure_before(pipeline_id, before),
            last_message=found.last_message or self._last_message_before(pipeline_id, before),
            last_success_at=found.last_success_at or self._last_success_before(pipeline_id, before),
        )

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------- writing

    def _write_observation(self, obs: Observation, raw_msg: str | None) -> bool:
        """Record in one transaction; a file damaged under us is set aside, then retried."""
        try:
            with self._write() as conn:
                changed = self._record(conn, obs, raw_msg)
        except sqlite3.DatabaseError as exc:
            if not (self.persistent and _is_corrupt(exc)):
                raise
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = self._open()  # finds the damage, moves the file aside
            with self._write() as conn:
                changed = self._record(conn, obs, raw_msg)
        self._write_worked()
        return changed

    def _write_failed(self, exc: sqlite3.Error) -> None:
        if self._failing_since is None:
            self._failing_since = self._clock.now()
            log.warning("history: writes fail: %s", _reason(exc))
        self._trouble["write"] = (
            f"History could not be saved ({_reason(exc)}); the monitor goes on without it."
        )

    def _write_worked(self) -> None:
        if self._failing_since is not None:
            log.info("history: writes work again")
        self._failing_since = None
        self._trouble.pop("write", None)

    def _record(self, conn: sqlite3.Connection, obs: Observation, raw_msg: str | None) -> bool:
        status = obs.status
        pid = status.pipeline_id
        row = conn.execute(
            "SELECT status, raw_msg, observed_at FROM last_observations WHERE pipeline_id = ?",
            (pid,),
        ).fetchone()
        flags = (int(status.is_running), int(status.is_active), int(status.is_blocked))
        refused = conn.execute(
            "SELECT refusal, last_at FROM refusals WHERE pipeline_id = ?", (pid,)
        ).fetchone()
        if refused is not None and obs.observed_at >= refused[1]:
            # It answers again: the refusal is over, whatever it answers.
            conn.execute("DELETE FROM refusals WHERE pipeline_id = ?", (pid,))
            row = (refused[0], None, refused[1])
        if row is not None:
            old_status, old_msg, observed_at = row
            if observed_at - STALE_RACE_WINDOW < obs.observed_at < observed_at:
                return False
            if refused is None and (old_status, old_msg) == (status.status, raw_msg):
                conn.execute(
                    "UPDATE last_observations SET observed_at = ?, is_running = ?, "
                    "is_active = ?, is_blocked = ? WHERE pipeline_id = ?",
                    (obs.observed_at, *flags, pid),
                )
                return False
            from_status: str | None = old_status
            previous_seen: float | None = observed_at
        else:
            from_status = previous_seen = None
        conn.execute(
            "INSERT INTO transitions (pipeline_id, at, previous_seen_at, from_status, "
            "to_status, raw_msg, is_running, is_active, is_blocked) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, obs.observed_at, previous_seen, from_status, status.status, raw_msg, *flags),
        )
        conn.execute(
            "INSERT OR REPLACE INTO last_observations (pipeline_id, status, raw_msg, "
            "is_running, is_active, is_blocked, observed_at, since) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, status.status, raw_msg, *flags, obs.observed_at, obs.observed_at),
        )
        return True

    def _refuse(
        self,
        conn: sqlite3.Connection,
        pid: int,
        refusal: Refusal,
        message: str | None,
        at: float,
    ) -> bool:
        current = conn.execute(
            "SELECT refusal, last_at FROM refusals WHERE pipeline_id = ?", (pid,)
        ).fetchone()
        last = conn.execute(
            "SELECT status, observed_at FROM last_observations WHERE pipeline_id = ?", (pid,)
        ).fetchone()
        if last is not None and at < last[1]:
            return False  # another process saw an answer later
        if current is not None and current[0] == refusal.value:
            conn.execute(
                "UPDATE refusals SET last_at = MAX(last_at, ?), message = ? WHERE pipeline_id = ?",
                (at, message, pid),
            )
            return False
        if current is not None:
            from_status, previous = str(current[0]), float(current[1])
        elif last is not None:
            from_status, previous = str(last[0]), float(last[1])
        else:
            from_status, previous = None, None
        conn.execute(
            "INSERT INTO transitions (pipeline_id, at, previous_seen_at, from_status, "
            "to_status, raw_msg, is_running, is_active, is_blocked, refusal) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, 1, 0, ?)",
            (pid, at, previous, from_status, refusal.value, message, refusal.value),
        )
        conn.execute(
            "INSERT OR REPLACE INTO refusals (pipeline_id, refusal, message, since, last_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (pid, refusal.value, message, at, at),
        )
        return True

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front (no deadlock)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _prune(self) -> None:
        """Drop transitions past the retention age or beyond the per-pipeline row limit.

        A pipeline's newest transition is always kept (it says since when it has been in
        its current state), and so is its last observation.
        """
        cutoff = self._clock.now() - self.retention_days * 86400.0
        limit = self.max_rows_per_pipeline
        with self._lock:
            try:
                with self._write() as conn:
                    conn.execute(
                        "DELETE FROM transitions WHERE at < ? AND id NOT IN "
                        "(SELECT MAX(id) FROM transitions GROUP BY pipeline_id)",
                        (cutoff,),
                    )
                    crowded = conn.execute(
                        "SELECT pipeline_id FROM transitions GROUP BY pipeline_id "
                        "HAVING COUNT(*) > ?",
                        (limit,),
                    ).fetchall()
                    for (pid,) in crowded:
                        conn.execute(
                            "DELETE FROM transitions WHERE pipeline_id = ? AND id NOT IN "
                            "(SELECT id FROM transitions WHERE pipeline_id = ? "
                            "ORDER BY at DESC, id DESC LIMIT ?)",
                            (pid, pid, limit),
                        )
            except sqlite3.Error as exc:
                self._trouble["prune"] = f"Old history could not be pruned ({_reason(exc)})."
                return
            self._trouble.pop("prune", None)

    # ------------------------------------------------------------------------- reading

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                rows: list[tuple[object, ...]] = self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                self._trouble["read"] = f"History could not be read ({_reason(exc)})."
                return []
            self._trouble.pop("read", None)
            return rows

    def _select_ids(self, sql: str, ids: Iterable[int] | None) -> list[tuple[object, ...]]:
        if ids is None:
            return self._query(sql)
        wanted = sorted(set(ids))
        rows: list[tuple[object, ...]] = []
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows += self._query(f"{sql} WHERE pipeline_id IN ({marks})", chunk)
        return rows

    def _last_failure_before(self, pipeline_id: int, before: float) -> Transition | None:
        # One seek per status on transitions_by_status; an IN list would walk every row.
        found = [
            self._newest_before(pipeline_id, before, "to_status = ?", [status])
            for status in KNOWN_STATUSES
            if is_trouble(status)
        ]
        return max((t for t in found if t is not None), key=lambda t: t.at, default=None)

    def _last_message_before(self, pipeline_id: int, before: float) -> Transition | None:
        return self._newest_before(pipeline_id, before, "raw_msg IS NOT NULL", [])

    def _newest_before(
        self, pipeline_id: int, before: float, condition: str, params: list[str]
    ) -> Transition | None:
        rows = self._query(
            f"SELECT {_TRANSITION_COLUMNS} FROM transitions WHERE pipeline_id = ? AND at < ? "
            f"AND {condition} ORDER BY at DESC, id DESC LIMIT 1",
            [pipeline_id, before, *params],
        )
        return _transition(rows[0]) if rows else None

    def _last_success_before(self, pipeline_id: int, before: float) -> float | None:
        """When the newest successful run older than the rows a summary read ended."""
        busy = [v for v in KNOWN_STATUSES if is_busy(v)]
        idle = [v for v in KNOWN_STATUSES if is_idle(v)]
        rows = self._query(
            "SELECT at FROM transitions WHERE pipeline_id = ? AND at < ? "
            f"AND from_status IN ({_marks(busy)}) AND to_status IN ({_marks(idle)}) "
            "AND raw_msg IS NULL ORDER BY at DESC, id DESC LIMIT 1",
            [pipeline_id, before, *busy, *idle],
        )
        return _float(rows[0][0]) if rows else None

    # ------------------------------------------------------------------ opening the file

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return self._open_memory()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            return self._open_memory(f"its folder cannot be created: {exc.strerror}")
        # Switching a fresh file to WAL, or reading one another process is recovering,
        # can answer "locked" without waiting on busy_timeout: wait here instead.
        busy_until = time.monotonic() + max(1.0, self._busy_ms / 1000)
        set_asides = 0
        while set_asides < 3:
            opened = _inode(self.path)
            conn: sqlite3.Connection | None = None
            try:
                conn = self._connect(self.path)
                self._prepare(conn)
            except (_SetAside, sqlite3.DatabaseError) as exc:
                if conn is not None:
                    conn.close()
                if isinstance(exc, sqlite3.DatabaseError) and _is_busy(exc):
                    if time.monotonic() < busy_until:
                        time.sleep(0.02 + 0.08 * random.random())
                        continue
                    return self._open_memory(_reason(exc))
                if isinstance(exc, sqlite3.DatabaseError) and not _is_corrupt(exc):
                    return self._open_memory(_reason(exc))
                set_asides += 1
                why = str(exc) if isinstance(exc, _SetAside) else "it is damaged"
                if not self._set_aside(why, opened):
                    return self._open_memory("it is damaged and could not be moved aside")
                continue
            self.persistent = True
            return conn
        return self._open_memory("a fresh file could not be started")

    def _connect(self, path: Path) -> sqlite3.Connection:
        _create_private(path)
        conn = sqlite3.connect(
            path,
            timeout=self._busy_ms / 1000,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # guarded by self._lock
        )
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        _match_side_files(path)
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Check the file is ours and whole, then make sure the schema is there."""
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise _SetAside(
                f"it was written by a newer kondado-tui (history format {version}; "
                f"this version reads format {SCHEMA_VERSION})"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is safe from corruption in WAL mode; only a power cut can lose the last
        # commits, and a killed process loses nothing committed.
        conn.execute("PRAGMA synchronous = NORMAL")
        if self._quick_check:
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise _SetAside("it is damaged")
        if version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have created it since we looked.
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version < SCHEMA_VERSION:
                    _upgrade(conn)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def _set_aside(self, why: str, opened: int | None) -> bool:
        """Move the file (and its WAL) to `<name>.corrupt-<time>`; say so in `note`.

        `opened` is the inode we found wrong: if another process already replaced the
        file with a fresh one, that one is left alone. False: it cannot be moved.
        """
        assert self.path is not None
        if _inode(self.path) != opened:
            return True  # set aside (or replaced) by someone else: look again
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock.now()))
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        suffix = 1
        while target.exists():
            suffix += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{suffix}")
        try:
            os.replace(self.path, target)
        except FileNotFoundError:
            return True
        except OSError as exc:
            log.warning("history file %s cannot be moved aside: %s", self.path, exc)
            return False
        # A stale WAL next to a fresh database would be replayed into it: move it along.
        for extra in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + extra)
            with contextlib.suppress(OSError):
                os.replace(side, target.with_name(target.name + extra))
        self._add_note(
            f"The history file {self.path} could not be used: {why}. It was moved to "
            f"{target.name} and a fresh history started."
        )
        log.warning("history set aside: %s -> %s (%s)", self.path, target, why)
        return True

    def _open_memory(self, why: str = "") -> sqlite3.Connection:
        if why:
            self._add_note(
                f"The history file {self.path} cannot be opened ({why}); this session "
                "keeps its history in memory only."
            )
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _upgrade(conn)
        self.persistent = False
        return conn

    def _add_note(self, text: str) -> None:
        text = redact(text)
        if text not in self._notes:
            self._notes.append(text)
            del self._notes[:-3]  # the first problem and the latest ones are enough


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring an empty or older file to `SCHEMA_VERSION` (inside the caller's transaction).
    Format 1 lacks `transitions.refusal` and the `refusals` table; its rows stay as they
    are (NULL: an answer)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "transitions" in tables:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(transitions)")}
        if "refusal" not in columns:
            conn.execute("ALTER TABLE transitions ADD COLUMN refusal TEXT")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _refusal(value: object) -> Refusal | None:
    try:
        return Refusal(value)
    except ValueError:
        return None  # written by a newer version: shown as its status text


def _stored_msg(raw_msg: str | None) -> str | None:
    """The raw_msg as stored and compared: empty is none, long is cut (the marker says
    how much), secrets masked. The parser has done all this already for an answer."""
    if not raw_msg:
        return None
    return cut(redact(raw_msg), RAW_MSG_LIMIT)


def _transition(row: tuple[object, ...]) -> Transition:
    pid, at, from_status, to_status, raw_msg, previous, running, active, blocked, refused = row
    return Transition(
        pipeline_id=_int(pid),
        at=_float(at),
        from_status=None if from_status is None else str(from_status),
        to_status=str(to_status),
        raw_msg=None if raw_msg is None else str(raw_msg),
        previous_seen_at=None if previous is None else _float(previous),
        is_running=bool(running),
        is_active=bool(active),
        is_blocked=bool(blocked),
        refusal=None if refused is None else _refusal(refused),
    )


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _float(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)


def _create_private(path: Path) -> None:
    """Create a missing history file with mode 0600 before SQLite opens it: raw_msg may
    name hosts and users, and SQLite gives the -wal and -shm files it creates later the
    database file's mode (made by SQLite itself, all three were 0644 under umask 022,
    which matters outside the private state dir). An existing file keeps its mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _match_side_files(path: Path) -> None:
    """-wal/-shm left by an older version (0644 beside a 0600 file): the file's mode."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return
    for extra in ("-wal", "-shm"):
        side = path.with_name(path.name + extra)
        with contextlib.suppress(OSError):
            if os.stat(side).st_mode & 0o777 & ~mode:
                os.chmod(side, os.stat(side).st_mode & 0o777 & mode)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _marks(values: list[str]) -> str:
    return ", ".join("?" * len(values))


def _is_corrupt(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _reason(exc: BaseException) -> str:
    return redact(str(exc)) or type(exc).__name__
