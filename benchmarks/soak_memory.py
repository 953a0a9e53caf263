"""Memory over a long session: RSS sampled through an accelerated soak.

    python benchmarks/soak_memory.py           # a simulated week in ~8.5 minutes
    python benchmarks/soak_memory.py --quick   # a simulated week in ~75 seconds
    python benchmarks/soak_memory.py --minutes 70   # 70 real minutes: ~8 simulated weeks
                                                    # and more requests than a real day

The real dashboard runs on a 120x36 pty against 30 simulated pipelines living 1200x
(quick: 10000x) faster than real time, so each answer tends to show a change: a run
started, finished, failed (alerts, toasts, history writes, summary reloads). The app's
own clock runs 20x faster too (benchmarks/_scaled.py), so its request budget sends 400
requests a real minute instead of 20 (quick: 40x, 800) and its history retention (set
low: a quarter of the run, 40 rows per pipeline) is reached and enforced during the run.
The simulator runs in this process, so its own growing ground-truth log is not counted.

RSS is read from /proc every few seconds; the history database's row count next to it.
The slope is fitted (least squares) over the samples taken after retention was first
reached. It should be flat: memory that grows with time is a leak in a days-long session.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import _pty

from kondado_tui.core.sim import SimServer, SimWorld

WEEK = 7 * 86400.0
PIPELINES = 30
MAX_ROWS = 40
PRUNE_EVERY = 500  # store.PRUNE_EVERY: the history enforces retention every 500 writes
SCALED_APP = (sys.executable, str(Path(__file__).resolve().parent / "_scaled.py"))


def history_rows(path: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return int(db.execute("SELECT count(*) FROM transitions").fetchone()[0])
    except sqlite3.Error:
        return -1


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10000x world, ~75 s")
    parser.add_argument(
        "--app-speed",
        type=float,
        default=None,
        metavar="X",
        help="the app's clock speed (default 20, quick 40): requests/min / 20",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        metavar="M",
        help="run for M real minutes instead of one simulated week",
    )
    args = parser.parse_args()
    world_speed = 10_000.0 if args.quick else 1200.0
    app_speed = args.app_speed or (40.0 if args.quick else 20.0)
    duration = args.minutes * 60 if args.minutes else WEEK / world_speed + 15
    every = 5.0 if args.quick else 15.0
    retention_days = duration * app_speed / 4 / 86400  # a quarter of the run, in app time

    world = SimWorld(pipelines=PIPELINES, seed=5, speed=world_speed)
    ids = world.pipeline_ids
    samples: list[tuple[float, float, int, float, int]] = []  # s, RSS MiB, rows, CPU, asked
    with (
        SimServer(world, rate_limit=False) as server,
        tempfile.TemporaryDirectory(prefix="kondado-soak-") as tmp,
    ):
        history = Path(tmp) / "history.sqlite3"
        config = _pty.sim_config(
            Path(tmp),
            server.base_url,
            server.key,
            server.token,
            ids,
            requests_per_minute=20,
            timeout=5.0,
            retention_days=retention_days,
            max_rows=MAX_ROWS,
        )
        child = _pty.spawn([*SCALED_APP, str(config), str(app_speed)])
        try:
            if child.wait_for(_pty.pipeline_name(ids[0]).encode(), 60) is None:
                raise SystemExit(f"nothing painted:\n{child.output()[-800:]!r}")
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < duration:
                samples.append(
                    (
                        elapsed,
                        child.rss_bytes() / 2**20,
                        history_rows(history),
                        child.cpu_seconds(),
                        len(server.log),
                    )
                )
                print(
                    f"{elapsed:6.0f} s  RSS {samples[-1][1]:6.1f} MiB  "
                    f"history rows {samples[-1][2]}",
                    file=sys.stderr,
                )
                if not child.alive:
                    raise SystemExit(f"the dashboard ended:\n{child.output()[-800:]!r}")
                time.sleep(every)
            requests = len(server.log)
        finally:
            child.stop()

    cap = PIPELINES * MAX_ROWS
    # retention is in force once its age has passed and a pruning pass has run
    retention_real = retention_days * 86400 / app_speed
    reached = next(
        (i for i, s in enumerate(samples) if s[0] >= retention_real and s[4] >= PRUNE_EVERY),
        len(samples) // 2,
    )
    reached = min(reached, len(samples) - 3) if len(samples) > 3 else 0
    steady = [(t, rss) for t, rss, *_ in samples[reached:]]
    late = steady[len(steady) // 2 :]  # the second half of the steady part
    per_hour = slope(steady) * 3600 * 1024  # KiB per real hour
    sim_day = 86400.0 / world_speed  # real seconds per simulated day
    per_sim_day = slope(steady) * sim_day * 1024
    asked = samples[-1][4] - samples[reached][4]
    per_request = (samples[-1][1] - samples[reached][1]) * 1024 / asked if asked else 0.0
    late_asked = samples[-1][4] - samples[len(samples) - len(late)][4]
    late_per_request = (
        slope(late) * (late[-1][0] - late[0][0]) * 1024 / late_asked if late_asked else 0.0
    )
    stride = max(1, len(samples) // 40)  # a long soak's table keeps ~40 rows; the fit uses all
    shown = samples[::stride]
    if shown[-1] is not samples[-1]:
        shown.append(samples[-1])
    rows = [
        [f"{t:.0f}", f"{t * world_speed / 86400:.2f}", f"{rss:.1f}", n, asked, f"{cpu:.1f}"]
        for t, rss, n, cpu, asked in shown
    ]
    table = _pty.markdown_table(
        ["real s", "simulated days", "RSS MiB", "history rows", "requests", "app CPU s"], rows
    )
    first, last = samples[reached], samples[-1]
    command = (
        "python benchmarks/soak_memory.py"
        + (" --quick" if args.quick else "")
        + (f" --minutes {args.minutes:g}" if args.minutes else "")
    )
    text = (
        f"# Memory over {duration * world_speed / 86400:.0f} simulated days "
        f"({duration / 60:.0f} real minutes)\n\n"
        f"`{command}`: "
        f"{PIPELINES} pipelines at {world_speed:g}x, the app's clock at {app_speed:g}x "
        f"({requests} requests answered), retention {retention_days * 1440:.0f} min of app "
        f"time ({retention_real:.0f} real s) and {MAX_ROWS} rows per pipeline (cap {cap} "
        f"rows), enforced every {PRUNE_EVERY} writes.\n\n"
        f"{table}\n\n"
        f"Retention reached at sample {reached} ({samples[reached][0]:.0f} s). From there: "
        f"RSS {first[1]:.1f} -> {last[1]:.1f} MiB, slope {per_hour:+.0f} KiB per real hour "
        f"({per_sim_day:+.1f} KiB per simulated day), {per_request:+.2f} KiB per request "
        f"answered; over the second half of that: {late_per_request:+.2f} KiB per request "
        f"(the app sends at most 18-20 requests a minute in real use, ~26,000 a day).\n\n"
        f"{_pty.machine_note()}\n"
    )
    print(text)
    _pty.write_result("soak_memory_long" if args.minutes else "soak_memory", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
