"""What one `Scheduler.plan` call costs as the list grows: the incremental plan against
the reference walk over every pipeline (`Scheduler.plan_walk`), in the same run.

    python benchmarks/plan_cost.py                         # 30, 200, 1000, 5000 pipelines
    python benchmarks/plan_cost.py --sizes 30,1000 --steps 1000 --no-write

Everything runs in virtual time, in process, without the poller's I/O: the simulator's
lifecycle model (`SimWorld`) for a mixed account, six hours of its recorded transitions
taught to the scheduler (rhythms, as the store's history does at start-up), every row
seeded as last seen somewhere within one sweep cycle (steady state), a few never seen.
Then a loop that takes the poller's turns: plan, ask the pick (an answer from the world,
now and then a failure of that pipeline), advance the clock at the budget's pace; now and
then the user moves the selection, presses run (follow + request now), or the list
changes. Both plans are driven through the very same turns, from the same state, and
must choose the same thing at every turn (checked here too, beside the tests; exit
status 1 if they ever differ).

Reported per size: microseconds per `plan` call for each implementation, the new against
the reference (lower is better), and each against its own cost at the smallest size (how
it grows with the list). "Notes" is the rest of the scheduler's work in a turn (`asking`,
`observed`, `failed`, `focus`, ...): the incremental plan moves some work there. Results
go to stdout and benchmarks/results/plan_cost.md (its notes, from the first "## "
heading on, are kept).
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.scheduling import Pick, Scheduler, background_rate
from kondado_tui.core.sim import SimWorld

RESULTS = Path(__file__).resolve().parent / "results" / "plan_cost.md"
PER_MINUTE = 18
T0 = 1_790_000_000.0
HISTORY = 6 * 3600.0  # of recorded transitions the scheduler learns rhythms from
NEVER_SEEN = 0.02  # of the rows: new pipelines, asked first
FAILURE_RATE = 0.03  # of the asks: the pipeline's own failure (its backoff)

Plan = Callable[[float], tuple[Pick | None, float | None]]


@dataclass
class Run:
    plan_seconds: float = 0.0
    note_seconds: float = 0.0
    plans: int = 0
    decisions: list[tuple[Pick | None, float | None]] | None = None


def build(pipelines: int, seed: int) -> tuple[SimWorld, ManualClock, Scheduler]:
    """A world six hours old and a scheduler in steady state over it (same seed, same
    state: each implementation gets its own fresh copy)."""
    clock = ManualClock(T0 - HISTORY)
    world = SimWorld(pipelines=pipelines, seed=seed, clock=clock, speed=1.0)
    clock.set(T0)
    ids = world.pipeline_ids
    scheduler = Scheduler(PER_MINUTE, ids, T0)
    by_pid: dict[int, list[Transition]] = defaultdict(list)
    rng = random.Random(seed)
    for tr in world.transitions():
        by_pid[tr.pipeline_id].append(
            Transition(
                tr.pipeline_id,
                tr.time,
                tr.old or None,
                tr.new,
                tr.raw_msg,
                previous_seen_at=tr.time - rng.uniform(5.0, 120.0),
            )
        )
    for pid in ids:
        if rng.random() < NEVER_SEEN:
            continue
        history = by_pid.get(pid, [])
        scheduler.learn(pid, history)
        seen = T0 - rng.uniform(0.0, scheduler.sweep_cycle)
        before = [tr for tr in history if tr.at <= seen]
        if before:
            status, raw, since = before[-1].to_status, before[-1].raw_msg, before[-1].at
        else:
            now = world.status(pid)  # unchanged all along
            status, raw, since = now["status"], now["raw_msg"], T0 - HISTORY
        scheduler.seed(
            PipelineStatus(pid, status, is_running=status == "running", raw_msg=raw), seen, since
        )
    return world, clock, scheduler


def drive(
    world: SimWorld, clock: ManualClock, scheduler: Scheduler, plan: Plan, steps: int, seed: int
) -> Run:
    """The poller's turns (see the module docstring); times `plan` and the notes apart."""
    rng = random.Random(seed + 1)
    pace = 1.0 / background_rate(PER_MINUTE)
    run = Run(decisions=[])
    assert run.decisions is not None
    ids = list(scheduler.pipeline_ids)
    removed: list[int] = []
    perf = time.perf_counter
    for _ in range(steps):
        now = clock.now()
        started = perf()
        pick, due = plan(now)
        run.plan_seconds += perf() - started
        run.plans += 1
        run.decisions.append((pick, due))
        answer = None
        if pick is not None:
            entry = world.status(pick.pipeline_id)
            answer = PipelineStatus(
                pick.pipeline_id,
                entry["status"],
                is_running=entry["is_running"],
                raw_msg=entry["raw_msg"],
            )
        roll, pid = rng.random(), rng.choice(ids)
        started = perf()
        if pick is not None and answer is not None:
            scheduler.asking(pick.pipeline_id, pick.priority, now)
            if rng.random() < FAILURE_RATE:
                scheduler.failed(pick.pipeline_id, now, "unreadable answer")
            else:
                scheduler.observed(answer, now)
        if roll < 0.05:
            scheduler.focus(rng.choice([None, pid]))
        elif roll < 0.06:  # the user pressed run: followed, asked at once
            scheduler.follow(pid, now)
            scheduler.request_now(pid, now, Priority.INTERACTIVE)
        elif roll < 0.062:  # the list was reloaded: one gone, or one back
            if removed and rng.random() < 0.5:
                ids.append(removed.pop())
            else:
                ids.remove(pid)
                removed.append(pid)
            scheduler.set_pipelines(ids, now)
        run.note_seconds += perf() - started
        if pick is not None:
            clock.set(now + pace)
        else:
            clock.set(max(now + pace / 4.0, min(due if due is not None else now, now + 60.0)))
    return run


def measure(pipelines: int, steps: int, seed: int, which: str) -> Run:
    world, clock, scheduler = build(pipelines, seed)
    plan: Plan = scheduler.plan if which == "new" else scheduler.plan_walk
    return drive(world, clock, scheduler, plan, steps, seed)


@dataclass
class Row:
    pipelines: int
    steps: int
    new: Run
    ref: Run

    @property
    def new_us(self) -> float:
        return self.new.plan_seconds / self.new.plans * 1e6

    @property
    def ref_us(self) -> float:
        return self.ref.plan_seconds / self.ref.plans * 1e6

    @property
    def new_note_us(self) -> float:
        return self.new.note_seconds / self.new.plans * 1e6

    @property
    def ref_note_us(self) -> float:
        return self.ref.note_seconds / self.ref.plans * 1e6

    @property
    def identical(self) -> bool:
        return self.new.decisions == self.ref.decisions


def table(rows: list[Row], seed: int) -> str:
    base = rows[0]
    lines = [
        f"Seed {seed}, {PER_MINUTE} requests/min budget; per `plan` call, mean over the "
        "turns; ratios against the same run's figures.",
        "",
        "| pipelines | turns | reference µs/plan | new µs/plan | new / reference "
        f"| reference / at {base.pipelines} | new / at {base.pipelines} "
        "| notes µs/turn (ref → new) | same decisions |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.pipelines} | {r.steps} | {r.ref_us:.0f} | {r.new_us:.0f} "
            f"| {r.new_us / r.ref_us:.3f} | {r.ref_us / base.ref_us:.1f}x "
            f"| {r.new_us / base.new_us:.1f}x | {r.ref_note_us:.1f} → {r.new_note_us:.1f} "
            f"| {'yes' if r.identical else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[30, 200, 1000, 5000],
        help="pipeline counts (default %(default)s)",
    )
    parser.add_argument("--steps", type=int, default=3000, help="turns per size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    started = time.perf_counter()
    for n in args.sizes:
        ref = measure(n, args.steps, args.seed, "ref")
        new = measure(n, args.steps, args.seed, "new")
        row = Row(n, args.steps, new, ref)
        rows.append(row)
        print(
            f"{n} pipelines: reference {row.ref_us:.0f} µs/plan, new {row.new_us:.0f} µs/plan,"
            f" same decisions: {row.identical}",
            file=sys.stderr,
        )
    text = table(rows, args.seed)
    took = time.perf_counter() - started
    footer = (
        f"\n\nPython {platform.python_version()}, {platform.machine()}; produced by "
        f"`python benchmarks/plan_cost.py` in {took:.0f} s."
    )
    print(text + footer)
    if not args.no_write:  # the notes below the figures (from "## " on) are kept
        kept = RESULTS.read_text() if RESULTS.exists() else ""
        notes = kept[kept.index("\n## ") :] if "\n## " in kept else ""
        RESULTS.write_text("# Plan cost\n\n" + text + footer + "\n" + notes)
    return 0 if all(r.identical for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
