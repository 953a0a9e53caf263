"""How soon does the monitor notice what happens? Our scheduler against plain round robin.

    python benchmarks/freshness.py            # one simulated day, 10, 50 and 200 pipelines
    python benchmarks/freshness.py --quick    # a few simulated hours, in seconds
    python benchmarks/freshness.py --seeds 7,11,23   # several accounts: the spread too
    python benchmarks/freshness.py --why      # also: where our requests went, and why
    python benchmarks/freshness.py --focus    # only: what the selected row gets (below)

Everything runs in virtual time, in process: the simulator's lifecycle model (`SimWorld`)
behind a tiny client that answers `get_status` from `world.status`, the real `RateBudget`
on a `ManualClock` (no ledger file), and the real `Poller`, driven through `step()`: the
very code `run()` repeats. The round robin asks the pipelines in order, one request per
slot of the same budget. Both sides get the same world (same seed) and the same user run
requests at the same times.

For every true change in the world's ground-truth transition log, the delay until the
monitor first saw the new state is measured; a change overwritten before any request saw
it is a miss. "Oldest row" is the longest any pipeline went unasked (after the first
ten minutes).

"Where someone is looking" runs our poller on 20 pipelines with the cursor resting on
the top row, as an idle dashboard leaves it: the share of the requests that row got with
no cursor at all (its share on its merits), under the rule before issue 17 (the cursor
always counts; emulated exactly by pinning it), with nobody there, with a user pressing
a key about once a minute, and with a user who leaves after ten minutes.

Results go to stdout and to benchmarks/results/freshness.md.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import math
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kondado_tui.core.api import parse_new_pipeline_id, parse_status
from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import ApiError, Rejected
from kondado_tui.core.events import PollerEvent, StatusObserved
from kondado_tui.core.models import PipelineStatus, Priority, status_kind
from kondado_tui.core.poller import Poller
from kondado_tui.core.scheduling import FOCUS_ATTENTION, Pick
from kondado_tui.core.sim import SimWorld, Transition
from kondado_tui.core.sim import catalogue as cat
from kondado_tui.core.sim.world import Plan

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
    # (the scheduler's reason, the status last seen) -> status requests: where they went
    why: Counter[tuple[str, str]] = field(default_factory=Counter)

    def note(self, status: PipelineStatus, at: float) -> None:
        self.seen[status.pipeline_id].append((at, status.status, status.raw_msg))


def user_runs(world: SimWorld, start: float, end: float, seed: int) -> list[tuple[float, int]]:
    """When a person asks to run which pipeline: the same list for both strategies."""
    rng = random.Random(f"{seed}:user")
    candidates = [
        pid
        for pid in world.pipeline_ids
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
    count_reasons(poller, trace)
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


def count_reasons(poller: Poller, trace: Trace) -> None:
    """Instrument the scheduler: each request is counted under the reason of the pick
    that sent it and the status the pipeline had when last seen."""
    scheduler = poller.scheduler
    plan, asking = scheduler.plan, scheduler.asking
    last: dict[int, str] = {}

    def counting_plan(now: float, only: Priority | None = None) -> tuple[Pick | None, float | None]:
        chosen, next_due = plan(now, only)  # the poller chooses through plan()
        if chosen is not None:
            last[chosen.pipeline_id] = chosen.reason
        return chosen, next_due

    def counting_asking(
        pipeline_id: int, priority: Priority = Priority.BACKGROUND, now: float | None = None
    ) -> None:
        tracked = scheduler.tracked(pipeline_id)
        status = tracked.status.status if tracked and tracked.status else "(never seen)"
        trace.why[(last.get(pipeline_id, "?"), status)] += 1
        asking(pipeline_id, priority, now)

    scheduler.plan = counting_plan  # type: ignore[method-assign]
    scheduler.asking = counting_asking  # type: ignore[method-assign]


async def drive_round_robin(world: SimWorld, clock: ManualClock, end: float, seed: int) -> Trace:
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


class CountingClient(WorldClient):
    """`WorldClient` that also counts the status requests per pipeline."""

    def __init__(self, world: SimWorld, budget: RateBudget, clock: ManualClock) -> None:
        super().__init__(world, budget)
        self.clock = clock
        self.asked: list[tuple[float, int]] = []

    async def get_status(
        self, pipeline_id: int, priority: Priority = Priority.BACKGROUND
    ) -> PipelineStatus:
        status = await super().get_status(pipeline_id, priority)
        self.asked.append((self.clock.now(), pipeline_id))
        return status


FOCUS_PIPELINES = 20  # the dashboard
FOCUS_WINDOWS = (4 * 60.0, HOUR)  # the 4-minute look, and an hour
KEY_EVERY = 60.0  # an active user presses a key about this often (exponential gaps)
LEAVES_AFTER = 10 * 60.0


@dataclass(frozen=True)
class Looking:
    """One way of using the dashboard: where the cursor is and when keys are pressed."""

    label: str
    focus: bool  # the cursor on the top row (False: no row selected)
    pinned: bool = False  # counted whatever the activity (the rule before issue 17)
    keys_until: float = 0.0  # seconds from the start during which keys are pressed


LOOKINGS = (
    Looking("no row selected (its share on its merits)", focus=False),
    Looking("before: the cursor always counts", focus=True, pinned=True),
    Looking("idle dashboard: nobody pressed a key", focus=True),
    Looking("active user: a key about once a minute", focus=True, keys_until=math.inf),
    Looking("user leaves after 10 minutes", focus=True, keys_until=LEAVES_AFTER),
)


async def selected_share(looking: Looking, seconds: float, seed: int) -> list[tuple[int, int]]:
    """(requests to the top row, all requests) within each of `FOCUS_WINDOWS`."""
    clock = ManualClock(1_790_000_000.0)
    world = SimWorld(pipelines=FOCUS_PIPELINES, seed=seed, clock=clock, speed=1.0)
    budget = RateBudget(per_minute=PER_MINUTE, clock=clock, ledger_path=None)
    client = CountingClient(world, budget, clock)
    poller = Poller(
        client, budget, clock, world.pipeline_ids, on_event=lambda e: None, rng=random.Random(seed)
    )
    selected = world.pipeline_ids[0]
    if looking.focus:
        poller.focus(selected, pinned=looking.pinned)
    start = clock.now()
    end = start + seconds
    rng = random.Random(f"{seed}:keys")
    keys: list[float] = []
    at = start + rng.expovariate(1.0 / KEY_EVERY)
    while at < min(end, start + looking.keys_until):
        keys.append(at)
        at += rng.expovariate(1.0 / KEY_EVERY)
    while clock.now() < end:
        wake_at = min(await poller.step(), end)
        if keys and keys[0] <= wake_at:
            clock.set(max(clock.now(), keys.pop(0)))
            poller.user_active()
            continue
        if wake_at > clock.now():
            clock.set(wake_at)
    shares = []
    for window in FOCUS_WINDOWS:
        asked = [pid for when, pid in client.asked if when < start + window]
        shares.append((asked.count(selected), len(asked)))
    return shares


async def where_someone_looks(seed: int) -> str:
    seconds = max(FOCUS_WINDOWS)
    heads = " | ".join(f"first {fmt_window(w)}" for w in FOCUS_WINDOWS)
    lines = [
        f"Where someone is looking: {FOCUS_PIPELINES} pipelines, the cursor on the top row, "
        f"seed {seed}. Requests to that row, of all status requests (its share).",
        "",
        f"| how the dashboard is used | {heads} |",
        "|---|" + "---:|" * len(FOCUS_WINDOWS),
    ]
    for looking in LOOKINGS:
        cells = [
            f"{mine} of {total} ({mine / total:.0%})" if total else "–"
            for mine, total in await selected_share(looking, seconds, seed)
        ]
        lines.append(f"| {looking.label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Fair share: 1 / {FOCUS_PIPELINES} = {1 / FOCUS_PIPELINES:.0%}. "
        f"A key counts for {FOCUS_ATTENTION / 60:g} minutes; an open detail screen counts "
        "as long as it is open (as the cursor did before).",
    ]
    return "\n".join(lines)


def fmt_window(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < HOUR else f"{seconds / HOUR:g} h"


@dataclass
class Score:
    failure_delays: list[float]
    completion_delays: list[float]
    changes: int
    missed: int
    run_follow_delays: list[float]
    runs_unseen: int  # user's runs that were over before any request saw them busy
    requests: int
    oldest_row: float  # the longest any pipeline went unasked (after the first 10 min)

    @property
    def miss_rate(self) -> float:
        return self.missed / self.changes if self.changes else 0.0


def is_failure(t: Transition) -> bool:
    """A run that failed, or a move into an error or blocked status."""
    if status_kind(t.new).severity.is_trouble:
        return True
    return t.old == "running" and t.raw_msg in FAILURE_MESSAGES


def score(truth: list[Transition], trace: Trace, start: float, end: float) -> Score:
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
            (
                t.time
                for t in by_pipeline.get(pid, [])
                if t.time > asked_at and t.new not in ("scheduled", "running")
            ),
            end,
        )
        first = next(
            (
                at
                for at, status, _ in trace.seen.get(pid, [])
                if asked_at <= at < over and status in ("scheduled", "running")
            ),
            None,
        )
        if first is None:
            follow_missed += 1
        else:
            follow.append(first - asked_at)
    return Score(
        failures,
        completions,
        changes,
        missed,
        follow,
        follow_missed,
        trace.requests,
        oldest_row(trace, start, end),
    )


def oldest_row(trace: Trace, start: float, end: float) -> float:
    settled = start + 600.0  # the first look at every row is over by then
    worst = 0.0
    for seen in trace.seen.values():
        times = [settled, *(at for at, _, _ in seen if at > settled), end]
        worst = max(worst, max(b - a for a, b in itertools.pairwise(times)))
    return worst


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


@dataclass
class Compared:
    pipelines: int
    seed: int
    ours: Score
    rr: Score
    max_age: float  # what ours promises
    why: Counter[tuple[str, str]]


async def compare(pipelines: int, seconds: float, seed: int) -> Compared:
    results: list[Score] = []
    max_age = 0.0
    why: Counter[tuple[str, str]] = Counter()
    for driver in (drive_ours, drive_round_robin):
        clock = ManualClock(1_790_000_000.0)
        world = SimWorld(pipelines=pipelines, seed=seed, clock=clock, speed=1.0)
        start = clock.now()
        end = start + seconds
        trace = await driver(world, clock, end, seed)
        truth = [t for t in world.transitions() if t.time <= end]
        results.append(score(truth, trace, start, end))
        if driver is drive_ours:
            why = trace.why
            budget = RateBudget(per_minute=PER_MINUTE, clock=clock, ledger_path=None)
            probe = Poller(
                WorldClient(world, budget),
                budget,
                clock,
                world.pipeline_ids,
                on_event=lambda e: None,
            )
            max_age = probe.max_age
    return Compared(pipelines, seed, results[0], results[1], max_age, why)


METRICS: tuple[tuple[str, Callable[[Score], float | None]], ...] = (
    ("failure detected, p50", lambda s: pct(s.failure_delays, 50)),
    ("failure detected, p95", lambda s: pct(s.failure_delays, 95)),
    ("run end detected, p50", lambda s: pct(s.completion_delays, 50)),
    ("run end detected, p95", lambda s: pct(s.completion_delays, 95)),
    ("user's run seen busy, p50", lambda s: pct(s.run_follow_delays, 50)),
    ("user's run seen busy, p95", lambda s: pct(s.run_follow_delays, 95)),
    ("changes missed", lambda s: s.miss_rate),
    ("oldest row", lambda s: s.oldest_row),
)


def spread(rows: list[Compared], seconds: float) -> str:
    """Per size and metric, the ratio ours / round robin on each seed."""
    seeds = sorted({r.seed for r in rows})
    lines = [
        f"Ratio ours / round robin per seed (simulated {seconds / HOUR:g} h each); "
        "lower is better.",
        "",
        "| pipelines | metric | " + " | ".join(f"seed {s}" for s in seeds) + " | worst |",
        "|---:|---|" + "---:|" * (len(seeds) + 1),
    ]
    for n in sorted({r.pipelines for r in rows}):
        for label, get in METRICS:
            ratios: list[float] = []
            cells: list[str] = []
            for seed in seeds:
                found = [r for r in rows if (r.pipelines, r.seed) == (n, seed)]
                a, b = (get(found[0].ours), get(found[0].rr)) if found else (None, None)
                if a is None or not b:
                    cells.append("–")
                    continue
                ratios.append(a / b)
                cells.append(f"{a / b:.2f}")
            worst = f"{max(ratios):.2f}" if ratios else "–"
            lines.append(f"| {n} | {label} | " + " | ".join(cells) + f" | {worst} |")
    return "\n".join(lines)


def where_requests_went(rows: list[Compared]) -> str:
    lines = ["Where our requests went (reason of the pick, status last seen), first seed:", ""]
    first = min(r.seed for r in rows)
    for r in rows:
        if r.seed != first:
            continue
        total = sum(r.why.values()) or 1
        lines.append(
            f"- {r.pipelines} pipelines: "
            + "; ".join(
                f"{reason} {status} {count / total:.0%}"
                for (reason, status), count in r.why.most_common(8)
            )
        )
    return "\n".join(lines)


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
        for label, get in METRICS[:6]:
            a, b = get(ours), get(rr)
            metrics.append((label, fmt_s(a), fmt_s(b), ratio(a, b)))
        metrics.append(
            (
                "changes missed",
                f"{ours.miss_rate:.1%} of {ours.changes}",
                f"{rr.miss_rate:.1%} of {rr.changes}",
                ratio(ours.miss_rate, rr.miss_rate),
            )
        )
        metrics.append(
            (
                "user's runs never seen busy",
                f"{ours.runs_unseen} of {ours.runs_unseen + len(ours.run_follow_delays)}",
                f"{rr.runs_unseen} of {rr.runs_unseen + len(rr.run_follow_delays)}",
                "–",
            )
        )
        metrics.append(
            (
                "requests sent",
                str(ours.requests),
                str(rr.requests),
                ratio(ours.requests, rr.requests),
            )
        )
        metrics.append(
            (
                "oldest row (longest unasked)",
                fmt_s(ours.oldest_row),
                fmt_s(rr.oldest_row),
                ratio(ours.oldest_row, rr.oldest_row),
            )
        )
        metrics.append(
            ("max_age promised (every row asked at least this often)", fmt_s(max_age), "–", "–")
        )
        for label, a_s, b_s, r in metrics:
            lines.append(f"| {n} | {label} | {a_s} | {b_s} | {r} |")
    return "\n".join(lines)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="4 simulated hours, not a day")
    parser.add_argument("--seed", type=int, default=None, help="one seed (default 7)")
    parser.add_argument(
        "--seeds",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="several seeds, e.g. 7,11,23: adds the spread",
    )
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10, 50, 200]
    )
    parser.add_argument("--why", action="store_true", help="where our requests went")
    parser.add_argument(
        "--focus", action="store_true", help="only: the share the selected row gets"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    seeds = args.seeds or [args.seed if args.seed is not None else 7]
    seconds = 4 * HOUR if args.quick else 24 * HOUR
    compared: list[Compared] = []
    began = time.perf_counter()
    if args.focus:
        text = "\n\n".join([await where_someone_looks(seed) for seed in seeds])
        command = "python benchmarks/freshness.py --focus"
        if args.seeds:
            command += " --seeds " + ",".join(map(str, seeds))
        elif seeds != [7]:
            command += f" --seed {seeds[0]}"
        print(f"{text}\n\nProduced by `{command}` in {time.perf_counter() - began:.0f} s.\n")
        return 0  # a section of the results file: not written on its own
    for seed in seeds:
        for n in args.sizes:
            t0 = time.perf_counter()
            compared.append(await compare(n, seconds, seed))
            print(f"seed {seed}, {n} pipelines: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    command = "python benchmarks/freshness.py" + (" --quick" if args.quick else "")
    if args.seeds:
        command += " --seeds " + ",".join(map(str, seeds))
    elif seeds != [7]:
        command += f" --seed {seeds[0]}"
    first = [c for c in compared if c.seed == seeds[0]]
    text = table([(c.pipelines, c.ours, c.rr, c.max_age) for c in first], seconds, seeds[0])
    if len(seeds) > 1:
        text += "\n\n" + spread(compared, seconds)
    if args.why:
        text += "\n\n" + where_requests_went(compared)
    text += "\n\n" + await where_someone_looks(seeds[0])
    report = f"{text}\n\nProduced by `{command}` in {time.perf_counter() - began:.0f} s.\n"
    print(report)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(f"# Freshness benchmark\n\n{report}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
