"""Pipeline statuses as the API documents them, and what they mean to a person."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from kondado_tui.core.guards.limits import cut_count
from kondado_tui.core.guards.sanitize import clean

APP_URL = "https://app.kondado.com.br/pipelines/{id}"
MAX_PIPELINE_ID = 2**63 - 1  # what the history (SQLite INTEGER) can hold


class Severity(Enum):
    """How much a status should worry the user. `rank` orders trouble first."""

    BLOCKED = ("blocked", 0)
    ERROR = ("error", 1)
    UNKNOWN = ("unknown", 2)  # a status value the docs do not list: trouble (see below)
    WARNING = ("warning", 3)  # an ok status that carries a raw_msg
    BUSY = ("busy", 4)  # running, scheduled, building tables
    OK = ("ok", 5)
    DISABLED = ("disabled", 6)
    PENDING = ("pending", 7)  # never observed yet

    def __init__(self, label: str, rank: int) -> None:
        self.label = label
        self.rank = rank

    @property
    def is_trouble(self) -> bool:
        """A documented error or blocked status: how history tells a failed run."""
        return self in (Severity.BLOCKED, Severity.ERROR)

    @property
    def alarms(self) -> bool:
        """Worth a person's attention: the dashboard's alert, bell and trouble count, and
        `status`'s exit 1. The one rule both front ends apply (through
        `PipelineStatus.is_trouble`). A status the docs do not list counts: nothing says
        it is healthy, and a false alarm is better than a stopped pipeline called fine."""
        return self.is_trouble or self is Severity.UNKNOWN


@dataclass(frozen=True)
class StatusKind:
    value: str
    glyph: str
    severity: Severity
    short: str  # for narrow terminals
    meaning: str

    @property
    def label(self) -> str:
        """The API's value with underscores as spaces, as Kondado's docs write it."""
        return " ".join(self.value.replace("_", " ").split())


KNOWN_STATUSES: dict[str, StatusKind] = {
    s.value: s
    for s in (
        StatusKind("running", "▶", Severity.BUSY, "running", "executing now"),
        StatusKind("scheduled", "◷", Severity.BUSY, "scheduled", "queued for execution"),
        StatusKind("active", "●", Severity.OK, "active", "idle, enabled"),
        StatusKind("not_active", "○", Severity.DISABLED, "not active", "idle, disabled"),
        StatusKind(
            "building_tables", "◍", Severity.BUSY, "building", "(re)creating destination tables"
        ),
        StatusKind(
            "error_building_tables",
            "✖",
            Severity.ERROR,
            "build error",
            "table (re)creation failed",
        ),
        StatusKind(
            "too_many_consecutive_failed_builds",
            "✖",
            Severity.ERROR,
            "failing",
            "high error rate in recent runs",
        ),
        StatusKind(
            "too_many_consecutive_failed_builds__blocked",
            "⛔",
            Severity.BLOCKED,
            "blocked",
            "automatically disabled after failures",
        ),
    )
}

PENDING_KIND = StatusKind("not yet observed", "…", Severity.PENDING, "pending", "not asked yet")


def status_kind(value: str) -> StatusKind:
    """The kind of a status value; values outside the documented set are kept, not dropped.

    An undocumented value is shown as it came, cleaned: the parser cleans what the API
    sends, but a value may come from a history written by an older version.
    """
    known = KNOWN_STATUSES.get(value)
    if known is not None:
        return known
    shown = clean(value, keep_newlines=False)
    return StatusKind(shown, "?", Severity.UNKNOWN, shown[:12], "not in Kondado's documentation")


def app_url(pipeline_id: int) -> str:
    return APP_URL.format(id=pipeline_id)


@dataclass(frozen=True)
class PipelineStatus:
    """One answer of `GET /pipelines/<id>/status`."""

    pipeline_id: int
    status: str
    is_running: bool = False
    is_active: bool = True
    is_blocked: bool = False
    raw_msg: str | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def kind(self) -> StatusKind:
        return status_kind(self.status)

    @property
    def raw_msg_cut(self) -> int:
        """Characters of the API's raw_msg left out (its text then ends with a marker
        saying so: `guards.limits.cut`)."""
        return cut_count(self.raw_msg)

    @property
    def severity(self) -> Severity:
        sev = self.kind.severity
        if self.raw_msg and sev in (Severity.OK, Severity.BUSY, Severity.DISABLED):
            return Severity.WARNING
        return sev

    @property
    def is_trouble(self) -> bool:
        """Worth an alert (dashboard) or a failing check (`status` exits 1): an error or
        blocked status, or one the docs do not list (`Severity.alarms`). The dashboard
        and the CLI both ask this, so they never disagree."""
        return self.severity.alarms

    def same_state(self, other: PipelineStatus | None) -> bool:
        """True when nothing a user would care about changed."""
        return other is not None and (self.status, self.raw_msg) == (other.status, other.raw_msg)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.pipeline_id,
            "status": self.status,
            "is_running": self.is_running,
            "is_active": self.is_active,
            "is_blocked": self.is_blocked,
            "raw_msg": self.raw_msg,
        }


@dataclass(frozen=True)
class Observation:
    """A status and the wall-clock time we saw it."""

    status: PipelineStatus
    observed_at: float


class Priority(Enum):
    """Who is asking: a person's key press jumps the queue of background polls."""

    INTERACTIVE = 0
    FOLLOW = 1  # a pipeline the user just ran, duplicated or asked for
    BACKGROUND = 2
