"""What the dashboard costs while nobody touches it: CPU, memory and terminal output.

    python benchmarks/idle_cost.py           # 30, 200, 1000 pipelines; 60 s windows
    python benchmarks/idle_cost.py --quick   # 15 s windows

The real `kondado-tui` program runs on a pseudo-terminal (120x36), pointed at a simulated
account served by this process over loopback HTTP (real time, rate limits off; the app
keeps its own 18 requests a minute). Its history is pre-filled with every pipeline's
state, as after a restart: no row waits for a first answer to be drawn, but the session's
first sweep (every pipeline asked once, "asking 12/30…") is still going during the window
(it takes about 100 s at 30 pipelines, an hour at 1000). After it settles, CPU time
(utime + stime from /proc), thread wake-ups and bytes written to the terminal are
counted over the window; RSS is read at the end.

The viewer row: the same program as a viewer of the account's collector (issue 15): a
headless dashboard (benchmarks/_headless_login.py --shared, the same config) polls and
serves, the one on the pty attaches to it (it says "viewer of pid" on its status line)
and asks the API nothing; its cost is set against the dashboard's, measured in the same
run. The collector's own cost is not in it: that is the polling alone, below.

The baseline, measured in the same run on the same terminal: a bare Textual app showing a
DataTable of the same size with a header and a footer (benchmarks/_bare_table.py). A
second baseline: the same session's poller alone, no UI (benchmarks/_core_only.py), so
the app can also be compared with what it does beyond a bare table (bare + polling).
Results go to stdout and benchmarks/results/idle_cost.md.

Each measured program gets a host budget broker and a collector name of its own
(`KONDADO_TUI_HOST_BUDGET`, `KONDADO_TUI_COLLECTOR`): on the default names it would
join, or serve, the broker of every other kondado-tui on this machine (other people's
dashboards, tests), and the window would count their requests' wake-ups as its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _pty
from _logins import Login, ready, start

from kondado_tui.core.sim import SimServer, SimWorld

SIZES = (30, 200, 1000)
BARE = (sys.executable, str(Path(__file__).resolve().parent / "_bare_table.py"))
CORE = (sys.executable, str(Path(__file__).resolve().parent / "_core_only.py"))


@dataclass(frozen=True)
class Idle:
    cpu_seconds: float  # over the window
    window: float
    rss: int
    written: int  # bytes to the terminal over the window
    wakeups: int  # times any thread woke from a wait over the window

    @property
    def wakeups_per_second(self) -> float:
        return self.wakeups / self.window

    @property
    def cpu_per_minute(self) -> float:
        return self.cpu_seconds / self.window * 60

    @property
    def core_percent(self) -> float:
        return self.cpu_seconds / self.window * 100

    @property
    def bytes_per_minute(self) -> float:
        return self.written / self.window * 60


def own_names() -> dict[str, str]:
    """A broker and a collector name nobody else on the machine uses."""
    tag = f"bench/idle/{os.getpid()}/{time.monotonic_ns()}"
    return {"KONDADO_TUI_HOST_BUDGET": tag, "KONDADO_TUI_COLLECTOR": tag}


def measure(
    argv: list[str], ready: bytes, settle: float, window: float, names: dict[str, str]
) -> Idle:
    child = _pty.spawn(argv, env=_pty.terminal_env(names))
    try:
        if child.wait_for(ready, 120) is None:
            raise SystemExit(f"{argv[-1]}: nothing painted in 120 s:\n{child.output()[-500:]!r}")
        time.sleep(settle)
        cpu0, woke0, t0 = child.cpu_seconds(), child.wakeups(), time.monotonic()
        time.sleep(window)
        cpu1, woke1, t1 = child.cpu_seconds(), child.wakeups(), time.monotonic()
        rss = child.rss_bytes()
        if not child.alive:
            raise SystemExit(f"{argv[-1]} ended during the measurement")
        woke = sum(n - woke0.get(tid, 0) for tid, n in woke1.items())
        return Idle(cpu1 - cpu0, t1 - t0, rss, child.bytes_between(t0, t1), woke)
    finally:
        child.stop()


def measure_app(
    pipelines: int, settle: float, window: float, *, core: bool = False, viewer: bool = False
) -> Idle:
    """The dashboard, or (`core`) the same session's poller alone, with no UI, or
    (`viewer`) the dashboard as a viewer of a headless collector of the same config."""
    world = SimWorld(pipelines=pipelines, seed=7)
    with (
        SimServer(world, rate_limit=False) as server,
        tempfile.TemporaryDirectory(prefix="kondado-idle-") as tmp,
    ):
        ids = world.pipeline_ids
        login = Login(Path(tmp), None)
        directory = login.config.parent
        config = _pty.sim_config(directory, server.base_url, server.key, server.token, ids)
        _pty.prefill_history(directory / "history.sqlite3", world, ids)
        # any row: which pipelines are on the first screen depends on the sort
        argv = [*CORE, str(config)] if core else [*_pty.KONDADO, "--config", str(config)]
        names = own_names()  # the viewer's are its collector's
        if not viewer:
            return measure(argv, b"bench-", settle, window, names)
        try:
            start(login, settle + window + 600, names, shared=True)
            if "role=serving" not in ready(login):
                raise SystemExit("the headless collector found another collector")
            return measure(argv, b"viewer of pid", settle, window, names)
        finally:
            login.remove()


def measure_bare(rows: int, settle: float, window: float) -> Idle:
    return measure([*BARE, str(rows)], b"bench-", settle, window, own_names())


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else ("1.0x" if a == 0 else "inf (baseline 0)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 s windows instead of 60 s")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args()
    window, settle = (15.0, 8.0) if args.quick else (60.0, 20.0)
    rows, viewers = [], []
    for n in args.sizes:
        app = measure_app(n, settle, window)
        bare = measure_bare(n, settle, window)
        core = measure_app(n, settle, window, core=True)
        viewer = measure_app(n, settle, window, viewer=True)
        print(
            f"{n}: app {app.core_percent:.2f}% core, {app.rss / 2**20:.0f} MiB, "
            f"{app.bytes_per_minute / 1024:.1f} KiB/min; bare {bare.core_percent:.2f}%, "
            f"{bare.rss / 2**20:.0f} MiB; polling alone {core.core_percent:.2f}%; "
            f"viewer {viewer.core_percent:.2f}%, {viewer.rss / 2**20:.0f} MiB",
            file=sys.stderr,
        )
        rows.append(
            [
                n,
                f"{app.cpu_per_minute:.2f}",
                f"{app.core_percent:.2f}%",
                f"{bare.cpu_per_minute:.2f}",
                ratio(app.cpu_seconds, bare.cpu_seconds),
                f"{app.rss / 2**20:.0f}",
                f"{bare.rss / 2**20:.0f}",
                ratio(app.rss, bare.rss),
                f"{app.bytes_per_minute / 1024:.1f}",
                f"{bare.bytes_per_minute / 1024:.1f}",
                f"{core.cpu_per_minute:.2f}",
                ratio(app.cpu_seconds, bare.cpu_seconds + core.cpu_seconds),
                f"{app.wakeups_per_second:.1f}",
                f"{bare.wakeups_per_second:.1f}",
                f"{core.wakeups_per_second:.1f}",
            ]
        )
        viewers.append(
            [
                n,
                f"{viewer.cpu_per_minute:.2f}",
                f"{app.cpu_per_minute:.2f}",
                ratio(viewer.cpu_seconds, app.cpu_seconds),
                f"{viewer.wakeups_per_second:.1f}",
                f"{app.wakeups_per_second:.1f}",
                ratio(viewer.wakeups, app.wakeups),
                f"{viewer.rss / 2**20:.0f}",
                f"{app.rss / 2**20:.0f}",
                f"{viewer.bytes_per_minute / 1024:.1f}",
            ]
        )
    table = _pty.markdown_table(
        [
            "pipelines",
            "app CPU s/min",
            "app % of a core",
            "bare CPU s/min",
            "CPU ratio",
            "app RSS MiB",
            "bare RSS MiB",
            "RSS ratio",
            "app KiB/min to tty",
            "bare KiB/min to tty",
            "polling alone CPU s/min",
            "app / (bare + polling)",
            "app wake-ups/s",
            "bare wake-ups/s",
            "polling alone wake-ups/s",
        ],
        rows,
    )
    viewer_table = _pty.markdown_table(
        [
            "pipelines",
            "viewer CPU s/min",
            "dashboard CPU s/min",
            "CPU ratio",
            "viewer wake-ups/s",
            "dashboard wake-ups/s",
            "wake-ups ratio",
            "viewer RSS MiB",
            "dashboard RSS MiB",
            "viewer KiB/min to tty",
        ],
        viewers,
    )
    text = (
        "# Idle cost\n\n"
        f"`python benchmarks/idle_cost.py{' --quick' if args.quick else ''}`: "
        f"{window:.0f} s window after {settle:.0f} s settling, 120x36 pty, history "
        "pre-filled (the first sweep under way), the app polling at 18 requests/min. "
        "Baseline: a bare Textual DataTable of the same size with header and footer, "
        "same run. Second baseline: the same session's poller alone, no UI "
        "(benchmarks/_core_only.py); the app / (bare + polling) column compares the "
        "app with the two together, what it does that a bare table does not. "
        "Wake-ups: how often any of the process's threads woke from a wait "
        "(voluntary context switches, /proc).\n\n"
        f"{table}\n\n"
        "A viewer (issue 15): the same program attached to a headless collector of the "
        "same config, against the dashboard above (it polls and serves), same run:\n\n"
        f"{viewer_table}\n\n{_pty.machine_note()}\n"
    )
    print(text)
    _pty.write_result("idle_cost", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
