"""The demo's temporary directory: made at start, removed at the end, swept if left.

`--demo` writes its config, history and ledger to a directory of its own in the system's
temporary folder, so it never touches the user's files. The session removes it when it
closes, which every ordinary end goes through (`q`, SIGTERM, SIGHUP, a lost terminal).
A demo that could not close (SIGKILL, a power cut) leaves it behind: the next demo of
the same user removes such leftovers, recognised by the process id written inside
(that process is gone).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

PREFIX = "kondado-tui-demo-"
OWNER_FILE = "owner.pid"
UNMARKED_GRACE = 3600.0  # seconds: a directory without its pid file may be starting up


def make_demo_dir(parent: Path | None = None) -> Path:
    """A fresh private directory (mode 0700) marked with this process's id; leftovers of
    this user's earlier demos are removed first."""
    sweep_leftovers(parent)
    path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (path / OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="ascii")
    return path


def remove_demo_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def sweep_leftovers(parent: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove this user's demo directories whose process is gone; the ones removed."""
    if os.name != "posix":  # no owner ids to compare, and os.kill(pid, 0) would kill
        return []
    folder = Path(parent or tempfile.gettempdir())
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(PREFIX)]
    except OSError:
        return removed
    for path in candidates:
        try:
            info = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue  # a symlink, a file, or another user's: never ours to remove
        owner = _owner(path)
        if owner is None and now - info.st_mtime < UNMARKED_GRACE:
            continue
        if owner is not None and _alive(owner):
            continue
        remove_demo_dir(path)
        removed.append(path)
    return removed


def _owner(path: Path) -> int | None:
    try:
        return int((path / OWNER_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists (another user's process now holds the id)
    return True


__all__ = ["PREFIX", "make_demo_dir", "remove_demo_dir", "sweep_leftovers"]
