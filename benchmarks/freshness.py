"""How soon does the monitor notice what happens? Our scheduler against plain round robin.

    python benchmarks/freshness.py            # one simulated day, 10, 50 and 200 pipelines
    python benchmarks/freshness.py --quick    # a few simulated hours, in seconds

Everything runs in virtual time, in process: the simulator's lifecycle model (`SimWorld`)
behind a tiny client that answers `get_status` from `world.status`, the real `RateBudget`
on a `ManualClock` (no ledger file), and the real `Poller`, driven through `step()`: the
very code `run()` repeats. The round robin asks the pipelines in order, one request per
slot of the same budget. Both sides get the same world (same seed) and the same user run
requests at the same times.

For every true change in the world's ground-truth transition log, the delay until the
monitor first saw the new state is measured; a change overwritten before any request saw
it is a miss. Results go to stdout and to benchmarks/results/freshness.md.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import random
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kondado_tui.api import parse_new_pipeline_id, parse_status
from kondado_tui.budget import RateBudget
from kondado_tui.clock import ManualClock
from kondado_tui.errors import ApiError, Rejected
from kondado_tui.events import PollerEvent, StatusObserved
from kondado_tui.models import PipelineStatus, Priority, status_kind
from kondado_tui.poller import Poller
from kondado_tui.sim import SimWorld, Transition
from kondado_tui.sim import catalogue as cat
from kondado_tui.sim.world import Plan

RESULTS = Path(__file__).resolve().parent / "results" / "freshness.md"
PER_MINUTE = 18
HOUR = 3600.0
USER_RUN_EVERY = 20 * 60.0  # a person presses "run" this often, on a random pipeline
FAILURE_MESSAGES = frozenset(cat.FAILURES)


class WorldClient:
    """`KondadoClient`'s three calls, answered in process by the world (same budget)."""

    def __init__(self, world: SimWorld, budget: RateBudget) -> None:
        self.world = world
        self.budget = budget
        self.requests = 0

    async def _gate(self, priority: Priority) -> None:
        await self.budget.acquire(priority)
        self.requests += 1

    async def get_status(
        self, pipeline_id: int, priority: Priority = Priority.BACKGROUND
    ) -> PipelineStatus:
        await self._gate(priority)
        return parse_status(pipeline_id, {str(pipeline_id): self.world.status(pipeline_id)})

    async def run(self, pipeline_id: int, priority: Priority = Priority.INTERACTIVE) -> str:
        await self._gate(priority)
        answer = self.world.run(pipeline_id)
        if not answer.get("success"):
            raise Rejected(f"run {pipeline_id}: {answer.get('error')}")
        return "run queued"

    async def duplicate(
        self, body: dict[str, Any], priority: Priority = Priority.INTERACTIVE
    ) -> int:
        await self._gate(priority)
        return parse_new_pipeline_id(self.world.duplicate(body))


@dataclass
class Trace:
    """What one strategy saw: observations per pipeline and the user's run requests."""

    seen: dict[int, list[tuple[float, str, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    run_requests: list[tuple[float, int]] = field(default_factory=list)  # accepted runs
    requests: int = 0

    def note(self, status: PipelineStatus, at: float) -> None:
        self.seen[status.pipeline_id].append((at, status.status, status.raw_msg))


def user_runs(world: SimWorld, start: float, end: float, seed: int) -> list[tuple[float, int]]:
    """When a person asks to run which pipeline: the same list for both strategies."""
    rng = random.Random(f"{seed}:user")
    candidates = [
        pid for pid in world.pipeline_ids
        if not world.spec(pid).static and world.spec(pid).plan is Plan.BUSINESS
    ]
    plan: list[tuple[float, int]] = []
    at = start + rng.uniform(0, USER_RUN_EVERY)
    while at < end and candidates:
        plan.append((at, rng.choice(candidates)))
        at += rng.expovariate(1.0 / USER_RUN_EVERY)
    return plan


async def press_run(
    run: Callable[[int], Awaitable[str]], clock: ManualClock, pid: int, trace: Trace
) -> None:
    try:
        await run(pid)
    except ApiError:
        return  # refused (already running, ...): nothing to follow
    trace.run_requests.append((clock.now(), pid))


async def drive_ours(world: SimWorld, clock: ManualClock, end: float, seed: int) -> Trace:
    trace = Trace()
    budget = RateBudget(per_minute=PER_MINUTE, clock=clock, ledger_path=None)
    client = WorldClient(world, budget)

    def on_event(event: PollerEvent) -> None:
        if isinstance(event, StatusObserved):
            trace.note(event.observation.status, event.observation.observed_at)

    poller = Poller(
        client, budget, clock, world.pipeline_ids, on_event=on_event, rng=random.Random(seed)
    )
    pending = user_runs(world, clock.now(), end, seed)
    while clock.now() < end:
        wake_at = min(await poller.step(), end)
        if pending and pending[0][0] <= wake_at:
            when, pid = pending.pop(0)
            clock.set(max(clock.now(), when))
            await press_run(poller.run_pipeline, clock, pid, trace)
            continue
        if wake_at > clock.now():
            clock.set(wake_at)
    trace.requests = client.requests
    return trace


async def drive_round_robin(
    world: SimWorld, clock: ManualClock, end: float, seed: int
) -> Trace:
    trace = Trace()
    budget = RateBudget(per_minute=PER_MINUTE, clock=clock, ledger_path=None)
    client = WorldClient(world, budget)
    ids = world.pipeline_ids
    pending = user_runs(world, clock.now(), end, seed)
    turn = 0
    while clock.now() < end:
        while pending and pending[0][0] <= clock.now():
            _, pid = pending.pop(0)
            await press_run(client.run, clock, pid, trace)
        pid = ids[turn % len(ids)]
        turn += 1
        status = await client.get_status(pid)  # waits for the budget (virtual time)
        trace.note(status, clock.now())
    trace.requests = client.requests
    return trace


@dataclass
class Score:
    failure_delays: list[float]
    completion_delays: list[float]
    changes: int
    missed: int
    run_follow_delays: list[float]
    runs_unseen: int  # user's runs that were over before any request saw them busy
    requests: int

    @property
    def miss_rate(self) -> float:
        return self.missed / self.changes if self.changes else 0.0


def is_failure(t: Transition) -> bool:
    """A run that failed, or a move into an error or blocked status."""
    if status_kind(t.new).severity.is_trouble:
        return True
    return t.old == "running" and t.raw_msg in FAILURE_MESSAGES


def score(truth: list[Transition], trace: Trace, end: float) -> Score:
    by_pipeline: dict[int, list[Transition]] = defaultdict(list)
    for t in truth:
        by_pipeline[t.pipeline_id].append(t)
    failures: list[float] = []
    completions: list[float] = []
    missed = changes = 0
    for pid, transitions in by_pipeline.items():
        seen = trace.seen.get(pid, [])
        times = [s[0] for s in seen]
        for n, t in enumerate(transitions):
            until = transitions[n + 1].time if n + 1 < len(transitions) else end
            changes += 1
            delay = None
            for i in range(bisect.bisect_left(times, t.time), len(seen)):
                at, status, raw = seen[i]
                if at >= until:
                    break
                if (status, raw) == (t.new, t.raw_msg):
                    delay = at - t.time
                    break
            if delay is None:
                if until < end:  # still pending at the end of the run is not a miss
                    missed += 1
                continue
            if is_failure(t):
                failures.append(delay)
            if t.old == "running":
                completions.append(delay)
    follow: list[float] = []
    follow_missed = 0
    for asked_at, pid in trace.run_requests:
        # The run is over at the first change after the request into an idle state.
        over = next(
            (t.time for t in by_pipeline.get(pid, [])
             if t.time > asked_at and t.new not in ("scheduled", "running")),
            end,
        )
        first = next(
            (at for at, status, _ in trace.seen.get(pid, [])
             if asked_at <= at < over and status in ("scheduled", "running")),
            None,
        )
        if first is None:
            follow_missed += 1
        else:
            follow.append(first - asked_at)
    return Score(
        failures, completions, changes, missed, follow, follow_missed, trace.requests
    )


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def fmt_s(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or not theirs:
        return "–"
    return f"{ours / theirs:.2f}"


async def compare(pipelines: int, seconds: float, seed: int) -> tuple[Score, Score, float]:
    results: list[Score] = []
    max_age = 0.0
    for driver in (drive_ours, drive_round_robin):
        clock = ManualClock(1_790_000_000.0)
        world = SimWorld(pipelines=pipelines, seed=seed, clock=clock, speed=1.0)
        end = clock.now() + seconds
        trace = await driver(world, clock, end, seed)
        truth = [t for t in world.transitions() if t.time <= end]
        results.append(score(truth, trace, end))
        if driver is drive_ours:
            budget = RateBudget(per_minute=PER_MINUTE, clock=clock, ledger_path=None)
            probe = Poller(WorldClient(world, budget), budget, clock, world.pipeline_ids,
                           on_event=lambda e: None)
            max_age = probe.max_age
    return results[0], results[1], max_age


def table(rows: list[tuple[int, Score, Score, float]], seconds: float, seed: int) -> str:
    lines = [
        f"Simulated {seconds / HOUR:g} h, {PER_MINUTE} requests/min budget, seed {seed}; "
        "ours / round robin (ratio: lower is better).",
        "",
        "| pipelines | metric | ours | round robin | ratio |",
        "|---:|---|---:|---:|---:|",
    ]
    for n, ours, rr, max_age in rows:
        metrics: list[tuple[str, str, str, str]] = []
        for label, get in (
            ("failure detected, p50", lambda s: pct(s.failure_delays, 50)),
            ("failure detected, p95", lambda s: pct(s.failure_delays, 95)),
            ("run end detected, p50", lambda s: pct(s.completion_delays, 50)),
            ("run end detected, p95", lambda s: pct(s.completion_delays, 95)),
            ("user's run seen busy, p50", lambda s: pct(s.run_follow_delays, 50)),
            ("user's run seen busy, p95", lambda s: pct(s.run_follow_delays, 95)),
        ):
            a, b = get(ours), get(rr)
            metrics.append((label, fmt_s(a), fmt_s(b), ratio(a, b)))
        metrics.append((
            "changes missed",
            f"{ours.miss_rate:.1%} of {ours.changes}",
            f"{rr.miss_rate:.1%} of {rr.changes}",
            ratio(ours.miss_rate, rr.miss_rate),
        ))
        metrics.append((
            "user's runs never seen busy",
            f"{ours.runs_unseen} of {ours.runs_unseen + len(ours.run_follow_delays)}",
            f"{rr.runs_unseen} of {rr.runs_unseen + len(rr.run_follow_delays)}",
            "–",
        ))
        metrics.append((
            "requests sent", str(ours.requests), str(rr.requests),
            ratio(ours.requests, rr.requests),
        ))
        metrics.append(("max_age (every row asked at least this often)", fmt_s(max_age),
                        "–", "–"))
        for label, a_s, b_s, r in metrics:
            lines.append(f"| {n} | {label} | {a_s} | {b_s} | {r} |")
    return "\n".join(lines)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="4 simulated hours, not a day")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        default=[10, 50, 200])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    seconds = 4 * HOUR if args.quick else 24 * HOUR
    rows = []
    began = time.perf_counter()
    for n in args.sizes:
        t0 = time.perf_counter()
        ours, rr, max_age = await compare(n, seconds, args.seed)
        rows.append((n, ours, rr, max_age))
        print(f"{n} pipelines: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    command = "python benchmarks/freshness.py" + (" --quick" if args.quick else "")
    if args.seed != 7:
        command += f" --seed {args.seed}"
    text = table(rows, seconds, args.seed)
    report = f"{text}\n\nProduced by `{command}` in {time.perf_counter() - began:.0f} s.\n"
    print(report)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(f"# Freshness benchmark\n\n{report}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
