"""The simulated account: pipelines that live on schedules, fail and recover.

Time is evaluated lazily: nothing ticks. Asking for a status at time t replays each
pipeline's own events up to t, so a benchmark can jump a simulated day in one call.
Every pipeline draws from its own seeded random stream and its schedule slots are a fixed
grid, so the same seed and the same calls at the same clock times give the same world.
Every change of (status, raw_msg) is appended to `transitions`: the ground truth a
poller's observations are compared with.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.sim import catalogue as cat
from kondado_tui.core.sim.accounts import DEMO_SPEED, demo_account, random_account
from kondado_tui.core.sim.spec import (
    ACTIVE,
    BLOCKED,
    BUILD_ERROR,
    BUILDING,
    FAILING,
    NOT_ACTIVE,
    RUNNING,
    SCHEDULED,
    PipelineSpec,
    Plan,
    Start,
)
from kondado_tui.core.sim.validate import validate_duplicate

FAILING_AFTER = 3  # consecutive failed runs before the status says so
NEVER = math.inf
MAX_SPEED = 10_000.0  # a week a minute; beyond, a few real seconds replay years of runs


class _Next(Enum):
    """What happens to a pipeline next."""

    QUEUE = "queue"  # its schedule comes due: scheduled
    START = "start"  # it leaves the queue: running
    FINISH = "finish"  # the run ends: active, failing or blocked
    BUILT = "built"  # its tables are built: active


__all__ = [
    "DEMO_SPEED",
    "MAX_SPEED",
    "DemoPipeline",
    "PipelineSpec",
    "Plan",
    "SimWorld",
    "Transition",
    "UnknownPipeline",
    "demo_pipelines",
]


class UnknownPipeline(KeyError):
    """No pipeline with that id in this account."""


@dataclass(frozen=True)
class Transition:
    """One change of a pipeline's (status, raw_msg), at clock time `time`."""

    time: float
    pipeline_id: int
    old: str
    new: str
    raw_msg: str | None


@dataclass(frozen=True)
class DemoPipeline:
    id: int
    name: str
    group: str


@dataclass
class _State:
    status: str
    raw_msg: str | None
    failures: int = 0
    next_at: float = NEVER
    next_kind: _Next = _Next.QUEUE
    run_after_build: bool = False
    streak_msg: str | None = None  # a failing streak keeps failing for the same reason
    rng: random.Random = field(default_factory=random.Random)


class SimWorld:
    """A deterministic account of pipelines. Thread-safe: HTTP threads share one world."""

    def __init__(
        self,
        pipelines: int = 15,
        seed: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        speed: float = 1.0,
        demo: bool = False,
    ) -> None:
        if not 0 < speed <= MAX_SPEED:  # also refuses NaN
            raise ValueError(f"speed must be above 0 and at most {MAX_SPEED:g}")
        self.seed = seed
        self.clock = clock
        self.speed = speed
        self.demo = demo
        self.started_at = clock.now()
        self.client_ids: frozenset[int] = frozenset({20417, 31552})
        self._lock = threading.RLock()
        self._specs: dict[int, PipelineSpec] = {}
        self._states: dict[int, _State] = {}
        self._transitions: list[Transition] = []
        self._initial: dict[int, tuple[str, str | None]] = {}
        self.duplicate_bodies: list[Any] = []
        specs, starts = demo_account() if demo else random_account(pipelines, seed)
        for spec in specs:
            self._add(spec, starts.get(spec.id, Start()), self.started_at)
        self._next_id = max(self._specs, default=100_000) + 1001

    # -- the account -----------------------------------------------------------------

    @property
    def pipeline_ids(self) -> list[int]:
        with self._lock:
            return list(self._specs)

    def spec(self, pipeline_id: int) -> PipelineSpec:
        with self._lock:
            try:
                return self._specs[pipeline_id]
            except KeyError:
                raise UnknownPipeline(pipeline_id) from None

    # -- the API, in process ---------------------------------------------------------

    def status(self, pipeline_id: int) -> dict[str, Any]:
        """The status entry the API answers for this pipeline now."""
        with self._lock:
            state = self._advance(pipeline_id, self.clock.now())
            return _entry(state.status, state.raw_msg)

    def run(self, pipeline_id: int) -> dict[str, Any]:
        """Queue a run, like RUN in the app. Answers the API's JSON body."""
        with self._lock:
            now = self.clock.now()
            try:
                state = self._advance(pipeline_id, now)
            except UnknownPipeline:
                return _failure("Pipeline not found", f"No pipeline {pipeline_id} in this account.")
            spec = self._specs[pipeline_id]
            refusal = _run_refusal(spec, state.status)
            if refusal:
                return _failure(refusal)
            self._queue(pipeline_id, state, now)
            return {"success": True}

    def duplicate(self, body: Any) -> dict[str, Any]:
        """Create a pipeline from another (POST /pipelines). Answers the API's JSON body."""
        with self._lock:
            self.duplicate_bodies.append(copy.deepcopy(body))
            problem = validate_duplicate(body, self._specs, self.client_ids)
            if problem:
                return _failure(problem)
            assert isinstance(body, dict)
            base = self._specs[body["pipeline_id"]]
            new_id = self._next_id
            self._next_id += 1
            parameters = dict(base.parameters)
            parameters.update({k: str(v) for k, v in body.get("overwrite_parameters", {}).items()})
            spec = dataclasses.replace(
                base,
                id=new_id,
                name=body.get("name") or base.name,
                src_collection_id=body["src_collection_id"],
                dest_collection_id=body["dest_collection_id"],
                client_id=body.get("client_id", base.client_id),
                parameters=parameters,
                static=False,
                sticky_raw_msg=None,
            )
            now = self.clock.now()
            self._add(spec, Start(BUILDING), now, announce=True)
            self._states[new_id].run_after_build = body["execute_immediately"] == "Y"
            return {"success": True, "data": {"success": True, "data": {"new_pipeline_id": new_id}}}

    def example_duplicate_body(self, pipeline_id: int) -> dict[str, Any]:
        """A body the API accepts for duplicating this pipeline (for tests and demos):
        other active collections of the same types, and every table path renamed."""
        spec = self.spec(pipeline_id)

        def other(current: int) -> int:
            kind = cat.COLLECTIONS_BY_ID[current]
            return next(
                (
                    c.id
                    for c in cat.COLLECTIONS
                    if (c.type, c.role) == (kind.type, kind.role) and c.active and c.id != current
                ),
                current,
            )

        return {
            "pipeline_id": pipeline_id,
            "src_collection_id": other(spec.src_collection_id),
            "dest_collection_id": other(spec.dest_collection_id),
            "full_tables": {path: f"copy_{path or 'main'}" for path in spec.paths},
            "execute_immediately": "N",
        }

    # -- ground truth ----------------------------------------------------------------

    def transitions(
        self, pipeline_id: int | None = None, since: float | None = None
    ) -> list[Transition]:
        """Every change up to now (after `since` if given), in time order.

        A pipeline created by `duplicate` starts with a transition from `""`.
        """
        with self._lock:
            now = self.clock.now()
            for pid in self._specs:
                self._advance(pid, now)
            found = [
                t
                for t in self._transitions
                if (pipeline_id is None or t.pipeline_id == pipeline_id)
                and (since is None or t.time > since)
            ]
        return sorted(found, key=lambda t: (t.time, t.pipeline_id))

    def status_at(self, pipeline_id: int, when: float) -> tuple[str, str | None]:
        """The (status, raw_msg) the pipeline had at a past or present time."""
        with self._lock:
            now = self.clock.now()
            if when > now:
                raise ValueError("status_at: the world cannot tell the future; advance the clock")
            self._advance(pipeline_id, now)
            status, raw = self._initial[pipeline_id]
            for t in self._transitions:
                if t.pipeline_id == pipeline_id and t.time <= when:
                    status, raw = t.new, t.raw_msg
            return status, raw

    # -- the lifecycle ---------------------------------------------------------------

    def _add(self, spec: PipelineSpec, start: Start, now: float, announce: bool = False) -> None:
        status, raw = start.status, start.raw_msg
        state = _State(
            status, raw, start.failures, rng=random.Random(f"{self.seed}:{spec.id}:runs")
        )
        state.streak_msg = raw if start.failures else None
        self._specs[spec.id] = spec
        self._states[spec.id] = state
        self._initial[spec.id] = (status, raw)
        if announce:  # created now: it did not exist before
            self._initial[spec.id] = ("", None)
            self._transitions.append(Transition(now, spec.id, "", status, raw))
        if spec.static:
            return
        # A pipeline caught part-way through a wait or a run has less than a whole one left.
        rng = state.rng
        if status == BUILDING:
            self._plan(state, now + self._real(spec.build_seconds * _spread(rng)), _Next.BUILT)
        elif status == SCHEDULED:
            wait = spec.queue_seconds * _spread(rng, 0.1, 0.6)
            self._plan(state, now + self._real(wait), _Next.START)
        elif status == RUNNING:
            wait = spec.run_seconds * _spread(rng, 0.1, 0.6)
            self._plan(state, now + self._real(wait), _Next.FINISH)
        elif status in (ACTIVE, FAILING):
            self._plan_next_slot(spec, state, now)

    def _real(self, sim_seconds: float) -> float:
        return sim_seconds / self.speed

    @staticmethod
    def _plan(state: _State, when: float, kind: _Next) -> None:
        state.next_at, state.next_kind = when, kind

    def _slot_start(self, spec: PipelineSpec, k: int) -> float:
        """Start of the k-th scheduled run: a fixed grid plus a per-slot jitter."""
        offset = _unit(self.seed, spec.id, -1) * spec.interval
        # Jitter below half the interval keeps the slots in order.
        jitter = _unit(self.seed, spec.id, k) * min(spec.jitter, spec.interval / 2)
        return self.started_at + self._real(offset + k * spec.interval + jitter)

    def _plan_next_slot(self, spec: PipelineSpec, state: _State, after: float) -> None:
        period = self._real(spec.interval)
        k = max(0, math.floor((after - self.started_at) / period) - 1)
        while self._slot_start(spec, k) <= after:
            k += 1
        self._plan(state, self._slot_start(spec, k), _Next.QUEUE)

    def _set(self, pid: int, state: _State, when: float, status: str, raw: str | None) -> None:
        if (status, raw) != (state.status, state.raw_msg):
            self._transitions.append(Transition(when, pid, state.status, status, raw))
        state.status, state.raw_msg = status, raw

    def _queue(self, pid: int, state: _State, when: float) -> None:
        spec = self._specs[pid]
        self._set(pid, state, when, SCHEDULED, None)
        self._plan(state, when + self._real(spec.queue_seconds * _spread(state.rng)), _Next.START)

    def _advance(self, pid: int, until: float) -> _State:
        try:
            state = self._states[pid]
        except KeyError:
            raise UnknownPipeline(pid) from None
        spec = self._specs[pid]
        while state.next_at <= until:
            when, kind = state.next_at, state.next_kind
            state.next_at = NEVER
            if kind is _Next.QUEUE:
                self._queue(pid, state, when)
            elif kind is _Next.START:
                self._set(pid, state, when, RUNNING, None)
                duration = spec.run_seconds * _spread(state.rng, 0.5, 1.8)
                self._plan(state, when + self._real(duration), _Next.FINISH)
            elif kind is _Next.FINISH:
                self._finish(spec, state, when)
            elif kind is _Next.BUILT:
                self._set(pid, state, when, ACTIVE, None)
                if state.run_after_build:
                    state.run_after_build = False
                    self._queue(pid, state, when)
                else:
                    self._plan_next_slot(spec, state, when)
        return state

    def _finish(self, spec: PipelineSpec, state: _State, when: float) -> None:
        streak = state.failures > 0
        fail_rate = max(spec.fail_rate, 0.55) if streak and spec.fail_rate > 0 else spec.fail_rate
        if state.rng.random() < fail_rate:
            state.failures += 1
            if not (streak and state.streak_msg):
                state.streak_msg = state.rng.choice(cat.FAILURES)
            message = state.streak_msg
            if spec.block_after is not None and state.failures >= spec.block_after:
                self._set(spec.id, state, when, BLOCKED, message)
                return
            status = FAILING if state.failures >= FAILING_AFTER else ACTIVE
            self._set(spec.id, state, when, status, message)
        else:
            state.failures = 0
            state.streak_msg = None
            warning = spec.sticky_raw_msg
            if warning is None and state.rng.random() < 0.05:
                warning = state.rng.choice(cat.WARNINGS)
            self._set(spec.id, state, when, ACTIVE, warning)
        self._plan_next_slot(spec, state, when)


def _entry(status: str, raw: str | None) -> dict[str, Any]:
    return {
        "status": status,
        "is_running": status == RUNNING,
        "is_active": status not in (NOT_ACTIVE, BLOCKED),
        "is_blocked": status in (BUILDING, BLOCKED),
        "raw_msg": raw,
    }


def _failure(error: str, message: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"success": False, "error": error}
    if message:
        answer["message"] = message
    return answer


def _run_refusal(spec: PipelineSpec, status: str) -> str | None:
    if spec.plan is Plan.ESSENTIALS:
        return (
            "Manual runs are not available on the Essentials plan (frequency-limited). "
            "Upgrade the plan to run pipelines on demand."
        )
    refusals = {
        NOT_ACTIVE: "Pipeline is not active. Activate it in the app before running it.",
        BLOCKED: "Pipeline was blocked after too many consecutive failed runs. "
        "Fix the error and reactivate it in the app.",
        BUILDING: "Pipeline is building its tables. Try again when it finishes.",
        BUILD_ERROR: "Pipeline tables could not be built. Edit the pipeline to rebuild them.",
        RUNNING: "Pipeline is already running.",
        SCHEDULED: "Pipeline is already scheduled to run.",
    }
    if status in refusals:
        return refusals[status]
    if status not in (ACTIVE, FAILING):
        return f"Pipeline cannot be run while its status is {status}."
    return None


_MASK64 = (1 << 64) - 1


def _unit(*parts: int) -> float:
    """A number in [0, 1) fixed by `parts` (splitmix64): cheap, stable across runs."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & _MASK64
        x ^= x >> 29
    return (x >> 11) / float(1 << 53)


def _spread(rng: random.Random, low: float = 0.4, high: float = 1.6) -> float:
    """A multiplier around 1 (durations vary from run to run)."""
    return rng.uniform(low, high)


def demo_pipelines(world: SimWorld | None = None) -> list[DemoPipeline]:
    """The demo account's pipelines (or a given world's), for `--demo`'s configuration."""
    if world is not None:
        return [
            DemoPipeline(pid, world.spec(pid).name, world.spec(pid).group)
            for pid in world.pipeline_ids
        ]
    return [DemoPipeline(s.id, s.name, s.group) for s in demo_account()[0]]
