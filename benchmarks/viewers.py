"""Many viewers, one poller: N dashboards of one API account, tried as a new team would.

    python benchmarks/viewers.py                  # 1, 2, 4 and 8 dashboards, 4.5 min each
    python benchmarks/viewers.py --uids           # as root: each login a user of its own
    python benchmarks/viewers.py --dashboards 1,4 --seconds 60   # a quick look
    python benchmarks/viewers.py --dashboards 1,2,4,8,1   # one alone again, at the end:
                                                          # how much runs differ anyway

The simulator at the documented limits (1 request/s, 20/min, a breach locks out 60 s)
holds 20 pipelines whose statuses change every few seconds (`--speed 30`: schedules run
30 times faster, one change every 3 s on average across the 20). For each N, a fresh
simulator (same seed: the same changes at the same offsets) and N dashboards with
default configs: the same key, the same 20 pipelines, a HOME each, except that from 4
on the first two are two panes of one login (the issue's "two panes of one login, two
other logins"). With `--uids` each login also runs as a user of its own, as
benchmarks/host_budget.py does (the same machinery: `_logins.py`).

Each dashboard is a real process (benchmarks/_headless_login.py --shared) that opens
the session exactly as cli/launch.py does (`SharedSession.open`: the first becomes the
account's collector, the others attach to it as viewers) and records every status
event with the wall-clock time the session told it: the moment the dashboard's screen
is told (`KondadoApp` subscribes to the same events; the table repaints on its next
frame). Not the Textual app in a terminal: eight Textual screens repainting on this
2-core machine would measure the machine's CPU contention, not the collector, and a
screen scraped once a second could not time a change to better than a second. What a
viewer costs on screen is in benchmarks/idle_cost.py (its viewer row).

Measured after the first `--settle` seconds (every dashboard attached by then) for
`--seconds`, against the simulator's ground truth (`SimWorld.transitions`):

* change → shown: from a status change in the simulator until each dashboard was told
  the new state; the median and p90 of each dashboard's delays, the worst dashboard's
  given (the collector's or a viewer's);
* changes missed: changes followed by another before this dashboard was told of them
  (per dashboard; the worst one's count), as in benchmarks/freshness.py. With 20
  pipelines and 18 requests a minute, one dashboard alone misses many of the short
  states (`scheduled` lasts a second here): the claim is that viewers miss none more;
* not passed on: observations the collector made of a viewer's pipelines that the viewer
  never received (must be 0), and the hop: how much later a viewer was told than the
  collector's own screen;
* requests: what the simulator saw from this host over the whole run, per minute over
  the measured window, and how many it refused (`RATE_LIMIT_EXCEEDED`).

Ratios are against N = 1 measured in the same run. Results go to stdout and
benchmarks/results/viewers.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from _logins import AS_ROOT, Pane, finish, make_logins, ready, start
from _pty import machine_note, markdown_table, write_result
from freshness import fmt_s, pct

from kondado_tui.core.api import parse_status
from kondado_tui.core.sim import SimServer, SimWorld, Transition

PIPELINES = 20
COLLECTOR_LINGERS = 3.0
"""The collector ends this long after its viewers: a viewer that outlived it would take
over and poll, which is the takeover test's business, not this benchmark's."""


@dataclass
class Run:
    """One N: what each dashboard was told, and what the simulator saw."""

    dashboards: int
    logins: int
    roles: list[str]
    results: list[dict[str, Any]]
    truth: list[Transition]
    window: tuple[float, float]
    requests: int
    requests_in_window: int
    refused: int
    delays: list[list[float]] = field(default_factory=list)  # per dashboard
    changes: int = 0
    missed: list[int] = field(default_factory=list)  # per dashboard
    not_passed_on: int = 0
    hops: list[float] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        start, end = self.window
        return self.requests_in_window / (end - start) * 60


def homes_for(dashboards: int) -> list[int]:
    """Which login each dashboard is: from 4 on, the first two share one."""
    if dashboards < 4:
        return list(range(dashboards))
    return [0, *range(dashboards - 1)]


def shown_state(pid: int, status: str, raw_msg: str | None) -> tuple[str, str | None]:
    """A state as the dashboard shows it: through the client's one guard."""
    parsed = parse_status(pid, {str(pid): {"status": status, "raw_msg": raw_msg}})
    return parsed.status, parsed.raw_msg


def score(run: Run) -> None:
    start, end = run.window
    by_pipeline: dict[int, list[Transition]] = defaultdict(list)
    for t in run.truth:
        by_pipeline[t.pipeline_id].append(t)
    for result in run.results:
        seen: dict[int, list[tuple[float, float, tuple[str, str | None]]]] = defaultdict(list)
        for pid, status, raw, observed_at, told_at in result["seen"]:
            seen[pid].append((observed_at, told_at, (status, raw)))
        missed = 0
        delays: list[float] = []
        for pid, transitions in by_pipeline.items():
            for n, t in enumerate(transitions):
                if not start <= t.time < end:
                    continue
                until = transitions[n + 1].time if n + 1 < len(transitions) else end
                want = shown_state(pid, t.new, t.raw_msg)
                told = [
                    told_at
                    for observed_at, told_at, state in seen[pid]
                    if t.time <= observed_at < until and state == want
                ]
                if told:
                    delays.append(min(told) - t.time)
                elif until < end:  # still the state at the end: not (yet) a miss
                    missed += 1
        run.missed.append(missed)
        run.delays.append(delays)
    run.changes = sum(1 for t in run.truth if start <= t.time < end)
    collector, *viewers = run.results
    told_collector = {
        (pid, observed_at): told_at
        for pid, _, _, observed_at, told_at in collector["seen"]
        if start <= observed_at < end
    }
    for viewer in viewers:
        told_viewer = {
            (pid, observed_at): told_at for pid, _, _, observed_at, told_at in viewer["seen"]
        }
        for key, told_at in told_collector.items():
            if key in told_viewer:
                run.hops.append(told_viewer[key] - told_at)
            else:
                run.not_passed_on += 1


def measure(dashboards: int, args: argparse.Namespace) -> Run:
    world = SimWorld(pipelines=PIPELINES, seed=args.seed, speed=args.speed)
    server = SimServer(world, rps=1, rpm=20, lockout=60.0).start()
    tag = f"bench-viewers/{time.time()}/{dashboards}"  # nothing of an earlier N is met
    env = {"KONDADO_TUI_HOST_BUDGET": tag, "KONDADO_TUI_COLLECTOR": tag}
    homes = homes_for(dashboards)
    team = make_logins(
        server.base_url,
        server.key,
        server.token,
        world.pipeline_ids,
        max(homes) + 1,
        real_uids=args.uids,
    )
    begin = world.started_at
    window = (begin + args.settle, begin + args.settle + args.seconds)
    panes: list[Pane] = []
    roles: list[str] = []
    try:
        for n, home in enumerate(homes):
            end_at = window[1] + (COLLECTOR_LINGERS if n == 0 else 0.0)
            pane = start(team[home], args.seconds, env, shared=True, end_at=end_at)
            panes.append(pane)
            roles.append(ready(pane).split("role=")[1].split()[0])
        attached = time.time() - begin
        print(
            f"{dashboards} dashboard(s) of {len(team)} login(s) ready in {attached:.1f} s: "
            f"{', '.join(roles)}; measuring until +{args.settle + args.seconds:.0f} s",
            file=sys.stderr,
        )
        if attached > args.settle:
            print("  (not all attached before the window opened: --settle longer)", file=sys.stderr)
        while time.time() < window[1]:
            time.sleep(min(30.0, max(0.0, window[1] - time.time())))
            print(f"  +{time.time() - begin:.0f} s, {len(server.log)} requests", file=sys.stderr)
        results = [finish(pane, COLLECTOR_LINGERS + 120) for pane in panes]
    finally:
        for login in team:
            login.remove()
        server.stop()
    log = [r for r in server.log if not r.outside]
    run = Run(
        dashboards=dashboards,
        logins=len(team),
        roles=roles,
        results=results,
        truth=world.transitions(),
        window=window,
        requests=len(log),
        requests_in_window=sum(1 for r in log if window[0] <= r.time < window[1]),
        refused=sum(1 for r in log if r.rate_limited),
    )
    score(run)
    return run


def worst(run: Run, q: float) -> float | None:
    """The `q` percentile of the change → shown delay of the dashboard it is worst for."""
    found = [p for p in (pct(delays, q) for delays in run.delays) if p is not None]
    return max(found, default=None)


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "–"
    return f"{a / b:.2f}x"


def ms(values: list[float], q: float) -> str:
    found = pct(values, q)
    return "–" if found is None else f"{found * 1000:.0f} ms"


def tables(runs: list[Run], args: argparse.Namespace) -> tuple[str, str]:
    """(the short table for the README, the full one with the hop and the roles)."""
    one = runs[0]
    base_p50, base_p90 = worst(one, 50), worst(one, 90)
    short, full = [], []
    for run in runs:
        p50, p90 = worst(run, 50), worst(run, 90)
        short.append(
            [
                run.dashboards,
                f"{fmt_s(p50)} ({ratio(p50, base_p50)})",
                f"{fmt_s(p90)} ({ratio(p90, base_p90)})",
                f"{max(run.missed)} of {run.changes} (alone: {max(one.missed)})",
                f"{run.requests} ({ratio(run.requests, one.requests)})",
                f"{run.per_minute:.1f}",
                run.refused,
            ]
        )
        full.append(
            [
                run.dashboards,
                run.logins,
                " ".join(sorted(set(run.roles), key=run.roles.index)),
                " ".join(str(len(d)) for d in run.delays),
                fmt_s(p50),
                fmt_s(p90),
                ratio(p50, base_p50),
                " ".join(str(m) for m in run.missed),
                run.not_passed_on,
                f"{ms(run.hops, 50)} / {ms(run.hops, 100)}" if run.hops else "–",
                run.requests,
                f"{run.per_minute:.1f}",
                run.refused,
            ]
        )
    readme = markdown_table(
        [
            "dashboards",
            "change → shown, median (worst dashboard)",
            "p90 (worst)",
            "changes missed (worst dashboard)",
            "API requests",
            "per min",
            "refused",
        ],
        short,
    )
    detail = markdown_table(
        [
            "dashboards",
            "logins",
            "roles",
            "changes shown, per dashboard",
            "p50 (worst)",
            "p90 (worst)",
            "p50 / alone",
            "missed, per dashboard",
            "not passed on",
            "hop median / max",
            "requests",
            "per min",
            "refused",
        ],
        full,
    )
    return readme, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dashboards", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8]
    )
    parser.add_argument("--seconds", type=float, default=240.0, help="measured, per N")
    parser.add_argument("--settle", type=float, default=30.0, help="before measuring, per N")
    parser.add_argument("--speed", type=float, default=30.0, help="the simulator's")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--uids", action="store_true", help="a user of its own per login (root)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.uids and not AS_ROOT:
        print("--uids needs root", file=sys.stderr)
        return 2
    if args.dashboards[0] != 1:
        args.dashboards.insert(0, 1)  # the baseline, in the same run
    began = time.perf_counter()
    runs = [measure(n, args) for n in args.dashboards]
    readme, detail = tables(runs, args)
    one = runs[0]
    command = "python benchmarks/viewers.py" + (" --uids" if args.uids else "")
    if args.dashboards != [1, 2, 4, 8]:
        command += " --dashboards " + ",".join(map(str, args.dashboards))
    for flag, default in (("seconds", 240.0), ("settle", 30.0), ("speed", 30.0), ("seed", 5)):
        if getattr(args, flag) != default:
            command += f" --{flag} {getattr(args, flag):g}"
    text = (
        "# Many viewers, one poller\n\n"
        f"`{command}`: {PIPELINES} pipelines changing every "
        f"{args.seconds / max(1, one.changes):.1f} s on average ({one.changes} changes in "
        f"{args.seconds:.0f} s measured after {args.settle:.0f} s), the simulator at the "
        "documented limits, N dashboards with default configs on one key"
        + (" (a uid per login)" if args.uids else "")
        + "; ratios against one dashboard alone, same run.\n\n"
        f"{readme}\n\n{detail}\n\n"
        "Missed, per dashboard: the collector first. Not passed on: observations of the "
        "collector a viewer never received. Hop: how much later a viewer was told than "
        "the collector's own screen.\n\n"
        f"{machine_note()}; {time.perf_counter() - began:.0f} s in all.\n"
    )
    print(text)
    if not args.no_write:
        write_result("viewers" + ("_uids" if args.uids else ""), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
