"""What the scheduler knows about one pipeline, and what it picks."""

from __future__ import annotations

from dataclasses import dataclass, field

from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.scheduling.backoff import Backoff
from kondado_tui.core.scheduling.rhythm import Rhythm
from kondado_tui.core.scheduling.tuning import PIPELINE_BACKOFF_BASE, PIPELINE_BACKOFF_CAP


@dataclass
class Tracked:
    """What the scheduler knows about one pipeline."""

    pipeline_id: int
    status: PipelineStatus | None = None
    observed_at: float | None = None  # last successful answer
    since: float | None = None  # first seen in its current status
    asked_at: float | None = None  # last attempt, successful or not
    rhythm: Rhythm = field(default_factory=Rhythm)
    backoff: Backoff = field(
        default_factory=lambda: Backoff(PIPELINE_BACKOFF_BASE, PIPELINE_BACKOFF_CAP)
    )
    requested_at: float | None = None  # request_now
    request_priority: Priority = Priority.INTERACTIVE  # of that request
    follow_from: float | None = None
    follow_saw_busy: bool = False
    last_failure: str = ""
    changed_at: float | None = None  # last change of status seen by asking (not history)


@dataclass(frozen=True)
class Pick:
    pipeline_id: int
    priority: Priority
    reason: str  # for the debug log and the tests: "requested", "follow", "stale", ...
