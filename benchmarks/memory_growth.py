"""Where memory that grows during a long session goes: tracemalloc on the real dashboard.

    python benchmarks/memory_growth.py                 # 6 real minutes, app clock at 40x
    python benchmarks/memory_growth.py --minutes 15

The soak (soak_memory.py) says whether RSS grows; this says what grows. The real
dashboard runs on a 120x36 pty against 30 simulated pipelines (the app's clock
accelerated as in the soak, so it sends ~800 requests a real minute) with tracemalloc
on. Tracing starts once the warm-up is over (a third of the run: history retention
reached, render caches filled); a snapshot at the end shows what was allocated since and
is still alive, by file and line, biggest first. A flat session keeps little: bounded
caches replacing their entries, not a list that only grows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import _pty

from kondado_tui.core.sim import SimServer, SimWorld

PIPELINES = 30
TOP = 25


def child(config: Path, speed: float, warmup: float, window: float, out: Path) -> int:
    """Runs in the dashboard's process: two snapshots, the difference written to `out`."""
    import _scaled

    def watch() -> None:
        # Tracing starts after the warm-up (tracing from the start slows the app several
        # times over): what it holds at the end was allocated in the window and kept.
        time.sleep(warmup)
        tracemalloc.start(1)
        time.sleep(window)
        kept = tracemalloc.take_snapshot()
        traced = tracemalloc.get_traced_memory()[0]
        skip = [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        ]
        stats = kept.filter_traces(skip).statistics("lineno")
        lines = [
            f"allocated in the last {window:.0f} s and still alive: {traced / 2**20:.2f} MiB",
            "",
        ]
        for stat in stats[:TOP]:
            frame = stat.traceback[0]
            where = f"{_short(frame.filename)}:{frame.lineno}"
            lines.append(f"{stat.size / 1024:9.1f} KiB {stat.count:7d} blocks  {where}")
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    threading.Thread(target=watch, daemon=True).start()
    return _scaled.run_app(config, speed)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "kondado_tui/", "lib/python3"):
        if marker in filename:
            return filename[filename.index(marker) :]
    return filename


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--app-speed", type=float, default=40.0, metavar="X")
    parser.add_argument(
        "--child",
        nargs=5,
        metavar=("CONFIG", "SPEED", "WARMUP", "WINDOW", "OUT"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.child:
        config, speed, warmup, window, out = args.child
        return child(Path(config), float(speed), float(warmup), float(window), Path(out))

    duration = args.minutes * 60
    warmup, window = duration / 3, duration * 2 / 3 - 15
    world = SimWorld(pipelines=PIPELINES, seed=5, speed=1200.0)
    ids = world.pipeline_ids
    with (
        SimServer(world, rate_limit=False) as server,
        tempfile.TemporaryDirectory(prefix="kondado-memgrowth-") as tmp,
    ):
        config = _pty.sim_config(
            Path(tmp),
            server.base_url,
            server.key,
            server.token,
            ids,
            requests_per_minute=20,
            timeout=5.0,
            retention_days=warmup * args.app_speed / 2 / 86400,
            max_rows=40,
        )
        out = Path(tmp) / "growth.txt"
        argv = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            str(config),
            str(args.app_speed),
            str(warmup),
            str(window),
            str(out),
        ]
        child_process = _pty.spawn(argv)
        try:
            if child_process.wait_for(_pty.pipeline_name(ids[0]).encode(), 60) is None:
                raise SystemExit(f"nothing painted:\n{child_process.output()[-800:]!r}")
            deadline = time.monotonic() + duration
            while time.monotonic() < deadline and not out.exists():
                if not child_process.alive:
                    raise SystemExit(f"the dashboard ended:\n{child_process.output()[-800:]!r}")
                time.sleep(2)
            time.sleep(1)  # let the file be written out
            report = out.read_text(encoding="utf-8") if out.exists() else "no snapshot taken"
            rss = child_process.rss_bytes() / 2**20
            requests = len(server.log)
        finally:
            child_process.stop()
    text = (
        f"# What grows: tracemalloc on the dashboard\n\n"
        f"`python benchmarks/memory_growth.py --minutes {args.minutes:g}`: {PIPELINES} "
        f"pipelines, the app's clock at {args.app_speed:g}x ({requests} requests "
        f"answered), snapshots at {warmup:.0f} s and {warmup + window:.0f} s; RSS at the "
        f"end {rss:.1f} MiB.\n\n```\n{report}```\n\n{_pty.machine_note()}\n"
    )
    print(text)
    _pty.write_result("memory_growth", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
