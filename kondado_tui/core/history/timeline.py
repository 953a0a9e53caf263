"""What the recorded transitions mean: timelines, runs, last success and last failure.

Pure functions over `Transition`s (no database, no clock), so they are tested on hand-made
sequences and reused by the store, the CLI and the TUI alike.

A run ends in one of three ways. In an error or blocked state it FAILED. Idle with a
raw_msg it ended WITH_MESSAGE: Kondado reports an occasional failed run and a harmless
warning the same way (an `active` status with text), so we say what we saw, as the
status column does (`Severity.WARNING`). Idle without text it was OK.

A poller only sees a pipeline every few minutes, so every change happened somewhere
between the last time the old state was seen (`previous_seen_at`) and the first time the
new one was (`at`). Run durations are measured between the `at`s and carry the width of
that doubt (`RunSummary.uncertainty`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from kondado_tui.core.events import Refusal
from kondado_tui.core.models import PipelineStatus, Severity, StatusKind, status_kind


@dataclass(frozen=True)
class Transition:
    """A pipeline's status or raw_msg changed (or it was seen for the first time)."""

    pipeline_id: int
    at: float  # first observation of the new state
    from_status: str | None  # None: the first time this history saw the pipeline
    to_status: str
    raw_msg: str | None = None
    previous_seen_at: float | None = None  # last observation of the old state
    is_running: bool = False
    is_active: bool = True
    is_blocked: bool = False
    # Set when the API refused to describe the pipeline from `at` on (not found, no
    # access): `to_status` then holds `refusal.value` and `raw_msg` the API's text.
    refusal: Refusal | None = None

    @property
    def status(self) -> PipelineStatus:
        """The new state as a `PipelineStatus` (for glyphs, severities, labels)."""
        return PipelineStatus(
            pipeline_id=self.pipeline_id,
            status=self.to_status,
            is_running=self.is_running,
            is_active=self.is_active,
            is_blocked=self.is_blocked,
            raw_msg=self.raw_msg,
        )

    @property
    def window(self) -> float | None:
        """How long the change may have happened before `at` (None: unknown)."""
        if self.previous_seen_at is None:
            return None
        return max(0.0, self.at - self.previous_seen_at)


@dataclass(frozen=True)
class TimelineEntry:
    """One state of a pipeline and how long it lasted (`until` None: still current)."""

    transition: Transition
    until: float | None

    def duration(self, now: float) -> float:
        end = self.until if self.until is not None else now
        return max(0.0, end - self.transition.at)


class RunOutcome(Enum):
    OK = "ok"
    WITH_MESSAGE = "message"  # idle again, but with a raw_msg (a failure or a warning)
    FAILED = "failed"  # error or blocked
    RUNNING = "running"  # not finished when last observed


@dataclass(frozen=True)
class RunSummary:
    """One run: from entering scheduled/running/building to the next idle or error state."""

    pipeline_id: int
    started_at: float
    ended_at: float | None  # None while running
    outcome: RunOutcome
    end_status: str | None = None
    raw_msg: str | None = None  # what the pipeline said when it ended (the failure)
    start_seen: bool = True  # False: already busy when first seen, so it started earlier
    uncertainty: float = 0.0  # width of the interval the true duration lies in (seconds)

    @property
    def finished(self) -> bool:
        return self.ended_at is not None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end as observed; None while the run goes on."""
        if self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)

    def elapsed(self, now: float) -> float:
        """Seconds so far (a running run) or in total (a finished one)."""
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.started_at)


@dataclass(frozen=True)
class HistorySummary:
    """What a table row or a detail pane shows about a pipeline's past."""

    last_run: RunSummary | None = None  # newest finished run
    current_run: RunSummary | None = None  # a run in progress
    last_success_at: float | None = None  # end of the newest OK run
    last_failure: Transition | None = None  # newest entry into an error or blocked state
    last_message: Transition | None = None  # newest state that carried a raw_msg
    recent_durations: tuple[float, ...] = ()  # finished runs seen whole, oldest first


def refusal_named(status: str | None) -> Refusal | None:
    """The refusal a transition's `from_status`/`to_status` names, if it is one (a
    transition out of a refusal has the refusal's value as its `from_status`)."""
    try:
        return Refusal(status)
    except ValueError:
        return None


def stored_kind(status: str) -> StatusKind:
    """How a status as the history stores it reads: an API status, or a refusal's value."""
    refusal = refusal_named(status)
    return refusal.kind if refusal is not None else status_kind(status)


def is_busy(status: str) -> bool:
    """A status that belongs to a run (scheduled, running, building tables)."""
    return status_kind(status).severity is Severity.BUSY


def is_idle(status: str) -> bool:
    """Enabled or disabled and doing nothing: where a run ends when it went well."""
    return status_kind(status).severity in (Severity.OK, Severity.DISABLED)


def is_trouble(status: str) -> bool:
    """An error or blocked status."""
    return status_kind(status).severity.is_trouble


def ends_run(status: str) -> bool:
    return is_idle(status) or is_trouble(status)


def outcome_of(transition: Transition) -> RunOutcome:
    """How a run that ended with this transition went."""
    if is_trouble(transition.to_status):
        return RunOutcome.FAILED
    if transition.raw_msg:
        return RunOutcome.WITH_MESSAGE
    return RunOutcome.OK


def timeline(transitions: Iterable[Transition]) -> list[TimelineEntry]:
    """Each state with the time the next one began, oldest first (one pipeline)."""
    ordered = sorted(transitions, key=lambda t: t.at)
    entries: list[TimelineEntry] = []
    for index, transition in enumerate(ordered):
        until = ordered[index + 1].at if index + 1 < len(ordered) else None
        entries.append(TimelineEntry(transition, until))
    return entries


def derive_runs(transitions: Iterable[Transition]) -> list[RunSummary]:
    """The runs in one pipeline's transitions, oldest first; the last may be RUNNING.

    A run starts with the first busy state and ends with the first idle, error or
    blocked state (see `outcome_of`). States we do not know neither start nor end a run.
    """
    runs: list[RunSummary] = []
    start: Transition | None = None
    for transition in sorted(transitions, key=lambda t: t.at):
        status = transition.to_status
        if start is None:
            if is_busy(status):
                start = transition
            continue
        if not ends_run(status):
            continue
        runs.append(
            RunSummary(
                pipeline_id=start.pipeline_id,
                started_at=start.at,
                ended_at=transition.at,
                outcome=outcome_of(transition),
                end_status=status,
                raw_msg=transition.raw_msg,
                start_seen=_start_seen(start),
                uncertainty=(start.window or 0.0) + (transition.window or 0.0),
            )
        )
        start = None
    if start is not None:
        runs.append(
            RunSummary(
                pipeline_id=start.pipeline_id,
                started_at=start.at,
                ended_at=None,
                outcome=RunOutcome.RUNNING,
                end_status=None,
                raw_msg=None,
                start_seen=_start_seen(start),
                uncertainty=start.window or 0.0,
            )
        )
    return runs


def _start_seen(start: Transition) -> bool:
    """False when the run had begun before we first saw the pipeline (or the window)."""
    return start.from_status is not None and not is_busy(start.from_status)


def last_run(runs: Sequence[RunSummary]) -> RunSummary | None:
    """The newest finished run."""
    for run in reversed(runs):
        if run.finished:
            return run
    return None


def current_run(runs: Sequence[RunSummary]) -> RunSummary | None:
    """The run in progress, if the newest one has not finished."""
    if runs and not runs[-1].finished:
        return runs[-1]
    return None


def last_success(runs: Sequence[RunSummary]) -> RunSummary | None:
    for run in reversed(runs):
        if run.outcome is RunOutcome.OK:
            return run
    return None


def last_failure(transitions: Iterable[Transition]) -> Transition | None:
    """The newest entry into an error or blocked state (its raw_msg says why)."""
    return _newest(t for t in transitions if is_trouble(t.to_status))


def last_message(transitions: Iterable[Transition]) -> Transition | None:
    """The newest state that carried a raw_msg, whatever its status."""
    return _newest(t for t in transitions if t.raw_msg)


def _newest(transitions: Iterable[Transition]) -> Transition | None:
    found: Transition | None = None
    for transition in transitions:
        if found is None or transition.at >= found.at:
            found = transition
    return found


def recent_durations(runs: Sequence[RunSummary], count: int = 20) -> list[float]:
    """Durations of the newest `count` finished runs seen from their start, oldest first."""
    durations = [run.duration for run in runs if run.duration is not None and run.start_seen]
    return durations[-count:] if count > 0 else []


def summarize(transitions: Iterable[Transition], durations: int = 20) -> HistorySummary:
    """Everything a row needs, from one pipeline's transitions."""
    ordered = sorted(transitions, key=lambda t: t.at)
    runs = derive_runs(ordered)
    success = last_success(runs)
    return HistorySummary(
        last_run=last_run(runs),
        current_run=current_run(runs),
        last_success_at=success.ended_at if success else None,
        last_failure=last_failure(ordered),
        last_message=last_message(ordered),
        recent_durations=tuple(recent_durations(runs, durations)),
    )


def runs_window(limit: int) -> int:
    """Transitions to read for the newest `limit` runs (a run spans a few)."""
    return limit * 8 + 8


def newest_runs(transitions: Sequence[Transition], limit: int, window: int) -> list[RunSummary]:
    """The newest `limit` runs in `transitions` (the newest `window` of a pipeline's),
    newest first; a run that may have begun before the first of them is left out."""
    runs = derive_runs(transitions)
    if len(transitions) == window and runs and runs[0].started_at == transitions[0].at:
        runs = runs[1:]  # may have begun before the rows we read: not a whole run
    return list(reversed(runs[-limit:]))
