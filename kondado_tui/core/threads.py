"""Threads as the system sees them."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path


def name_thread(name: str) -> None:
    """Name the calling thread for the system (`top -H`, `ps -L`, /proc; Linux, 15
    characters; elsewhere nothing happens)."""
    with contextlib.suppress(OSError):
        Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text(name[:15])


__all__ = ["name_thread"]
