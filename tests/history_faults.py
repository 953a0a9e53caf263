"""A history store whose disk fills up and empties again, for tests of what is shown.

`FullDisk` sits in front of a `HistoryStore`'s one connection: while `full`, every write
transaction fails as SQLite fails on a full disk in WAL mode ("database or disk is full"
at BEGIN/COMMIT); reads go on working, as they do on a full disk. The real thing, a
filled tmpfs, is in tests/core/test_store_honesty.py where the machine allows a mount.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from kondado_tui.core.history.store import HistoryStore

FULL_MESSAGE = "database or disk is full"


class FullDisk:
    def __init__(self, store: HistoryStore) -> None:
        self._conn: Any = store._conn  # the injection point
        store._conn = self  # type: ignore[assignment]
        self.full = True
        self.refused = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if self.full and sql.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            self.refused += 1
            raise sqlite3.OperationalError(FULL_MESSAGE)
        return self._conn.execute(sql, *args)

    def close(self) -> None:
        self._conn.close()
