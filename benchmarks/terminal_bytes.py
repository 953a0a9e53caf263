"""Bytes the dashboard writes to its terminal: at idle, and for one pipeline's change.

    python benchmarks/terminal_bytes.py           # 60 s idle window
    python benchmarks/terminal_bytes.py --quick   # 15 s idle window

The real `kondado-tui` runs on a 120x36 pseudo-terminal against a world this script
controls: every pipeline answers `active`, until one is switched. Bytes are counted as
read from the pty's master side (what would cross an SSH connection).

1. Idle: bytes per minute with no status changing (what remains: each answer repaints
   its row, ages under a minute step every 10 s, the status line).
2. One status change: the pipeline under the cursor (the dashboard asks it every 10 s)
   switches to `running`, which keeps its place (busy and ok rows share one group of the
   default sort, by name). The burst that follows the answer is counted, and the screen
   rows it moved the cursor to. For scale: the burst after an answer that changed
   nothing, and a full repaint of the screen.
3. The same pipeline switching to `not_active`: it sorts to the bottom of the table, so
   every row below its old place moves up one line (a legitimate repaint of the table).
4. A run starting and ending in the middle of the table: the cursor goes down to the
   11th row (so the dashboard asks it every 10 s), which switches to `running`, then
   back to `active`. Busy and ok rows share a group of the default sort, so neither
   moves the row (before that grouping, each jumped it to the top and back).
5. Then that row fails: trouble sorts to the top, so the 11 rows from the top to its old
   place each show another row (the rows below it do not change).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _pty

from kondado_tui.core.sim import SimServer, SimWorld

PIPELINES = 30
FAILING = "too_many_consecutive_failed_builds"  # trouble: sorts to the top
BURST = 0.4  # seconds after the answer that count as its repaint
SIZE = (120, 36)


class ControlledWorld(SimWorld):
    """Every pipeline answers `active`, except those switched by `set_status`.

    Records when each status was served (monotonic time), to find the repaint it caused.
    """

    def __init__(self, pipelines: int) -> None:
        super().__init__(pipelines=pipelines, seed=3)
        self._fixed: dict[int, str] = {}
        self._served: list[tuple[float, int, str]] = []
        self._served_lock = threading.Lock()

    def set_status(self, pid: int, status: str) -> None:
        self._fixed[pid] = status

    def status(self, pipeline_id: int) -> dict[str, Any]:
        status = self._fixed.get(pipeline_id, "active")
        with self._served_lock:
            self._served.append((time.monotonic(), pipeline_id, status))
        return {
            "status": status,
            "is_running": status == "running",
            "is_active": status != "not_active",
            "is_blocked": False,
            "raw_msg": None,
        }

    def served(self, pid: int, status: str | None = None) -> list[float]:
        with self._served_lock:
            return [t for t, p, s in self._served if p == pid and status in (None, s)]


def wait_served(
    world: ControlledWorld, pid: int, status: str, timeout: float, since: float = 0.0
) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        times = [t for t in world.served(pid, status) if t >= since]
        if times:
            return times[0]
        time.sleep(0.05)
    raise SystemExit(f"pipeline {pid} was not asked within {timeout:.0f} s")


def burst(child: _pty.PtyProcess, at: float) -> tuple[int, int]:
    time.sleep(max(0.0, at + BURST - time.monotonic()) + 0.1)
    data = child.output(at, at + BURST)
    return len(data), len(_pty.painted_rows(data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 s idle window instead of 60 s")
    args = parser.parse_args()
    window = 15.0 if args.quick else 60.0

    world = ControlledWorld(PIPELINES)
    ids = world.pipeline_ids
    focused = min(ids, key=_pty.pipeline_name)  # the top row: all OK, sorted by name
    with (
        SimServer(world, rate_limit=False) as server,
        tempfile.TemporaryDirectory(prefix="kondado-bytes-") as tmp,
    ):
        config = _pty.sim_config(Path(tmp), server.base_url, server.key, server.token, ids)
        _pty.prefill_history(Path(tmp) / "history.sqlite3", world, ids)
        child = _pty.spawn([*_pty.KONDADO, "--config", str(config)], size=SIZE)
        try:
            painted = child.wait_for(_pty.pipeline_name(focused).encode(), 60)
            if painted is None:
                raise SystemExit(f"nothing painted:\n{child.output()[-500:]!r}")
            first_screen = child.output(0, painted + 0.3)
            time.sleep(5)
            t0 = time.monotonic()
            time.sleep(window)
            idle = child.bytes_between(t0, time.monotonic()) / window * 60
            quiet_polls = [burst(child, t) for t in world.served(focused) if t >= t0][-5:]

            world.set_status(focused, "running")
            served = wait_served(world, focused, "running", 60)
            change = burst(child, served)

            time.sleep(3)
            world.set_status(focused, "not_active")
            served = wait_served(world, focused, "not_active", 60)
            move = burst(child, served)

            middle = sorted((i for i in ids if i != focused), key=_pty.pipeline_name)[10]
            time.sleep(1)
            child.write(b"j" * 10)
            time.sleep(1)
            world.set_status(middle, "running")
            served = wait_served(world, middle, "running", 60)
            run_starts = burst(child, served)
            time.sleep(1)
            switched = time.monotonic()
            world.set_status(middle, "active")
            run_ends = burst(child, wait_served(world, middle, "active", 60, since=switched))
            time.sleep(1)
            switched = time.monotonic()
            world.set_status(middle, FAILING)
            fails = burst(child, wait_served(world, middle, FAILING, 60, since=switched))
            alive = child.alive
        finally:
            child.stop()
    if not alive:
        raise SystemExit("the dashboard ended during the measurement")

    no_change = (
        (
            int(statistics.median(b for b, _ in quiet_polls)),
            int(statistics.median(r for _, r in quiet_polls)),
        )
        if quiet_polls
        else (0, 0)
    )
    full = (len(first_screen), SIZE[1])
    rows = [
        ["idle (nothing changes), per minute", f"{idle / 1024:.1f} KiB", "-"],
        [
            "an answer that changed nothing (median of the last 5)",
            f"{no_change[0]} B",
            str(no_change[1]),
        ],
        ["one status change, row stays in place", f"{change[0]} B", str(change[1])],
        ["one status change, row moves to the bottom", f"{move[0]} B", str(move[1])],
        [
            "a run starts on the 11th row (active -> running)",
            f"{run_starts[0]} B",
            str(run_starts[1]),
        ],
        ["the run ends (running -> active)", f"{run_ends[0]} B", str(run_ends[1])],
        ["then it fails: the 11th row moves to the top", f"{fails[0]} B", str(fails[1])],
        ["first full screen, for scale", f"{full[0]} B", str(full[1])],
    ]
    table = _pty.markdown_table(["what", "bytes to the terminal", "screen rows painted"], rows)
    text = (
        "# Terminal bytes\n\n"
        f"`python benchmarks/terminal_bytes.py{' --quick' if args.quick else ''}`: the real "
        f"app on a {SIZE[0]}x{SIZE[1]} pty, {PIPELINES} pipelines (history pre-filled), "
        f"idle window {window:.0f} s, a burst is what is written within {BURST} s of the "
        "answer.\n\n"
        f"{table}\n\n{_pty.machine_note()}\n"
    )
    print(text)
    _pty.write_result("terminal_bytes", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
