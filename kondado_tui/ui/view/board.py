"""What the dashboard knows about each pipeline, independent of how it is drawn.

Pure state (no Textual): poller events go in, rows come out. The table and the status
line read from here, so they can never disagree. What is new trouble (an alert) is
decided in the core (`core.alerts.watch`), once for the dashboard and the alert command.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import Connection, Health, PipelineFailed, StatusObserved
from kondado_tui.core.history.timeline import HistorySummary
from kondado_tui.core.models import PENDING_KIND, Observation, Severity, StatusKind

# How much later than promised an observation may be before the row is called stale.
STALE_MARGIN_FACTOR = 0.5
STALE_MARGIN_MIN = 30.0

WARNING_GLYPH = "⚠"


@dataclass
class Row:
    entry: PipelineEntry
    observation: Observation | None = None
    since: float | None = None  # when it entered this status, as far as we know
    since_first_seen: bool = False  # `since` is only when it was first seen, already in it
    failure: PipelineFailed | None = None  # the last ask failed (cleared by an answer)
    marked: bool = False  # space: selected for a batch run
    unseen_change: bool = False  # changed since the user last looked at it
    live: bool = False  # observed by this session (not only remembered from history)
    history: HistorySummary | None = None

    @property
    def id(self) -> int:
        return self.entry.id

    @property
    def refusal(self) -> StatusKind | None:
        """Set when the API refuses this pipeline (not found, no access): it overrides
        any status seen before, which can no longer be confirmed."""
        failure = self.failure
        return None if failure is None or failure.refusal is None else failure.refusal.kind

    @property
    def entered(self) -> tuple[float | None, bool]:
        """Since when the row has shown what it shows (its refusal, or its status), and
        whether that is only a lower bound (first seen already in it)."""
        if self.refusal is not None and self.failure is not None:
            return self.failure.since, False
        return self.since, self.since_first_seen

    @property
    def kind(self) -> StatusKind:
        refusal = self.refusal
        if refusal is not None:
            return refusal
        return self.observation.status.kind if self.observation else PENDING_KIND

    @property
    def severity(self) -> Severity:
        if self.refusal is not None:
            return Severity.ERROR
        return self.observation.status.severity if self.observation else Severity.PENDING

    @property
    def glyph(self) -> str:
        """The status glyph; ⚠ for an ok or busy status that carries a message, so a
        warning counted in the status line can be found in the table."""
        return WARNING_GLYPH if self.severity is Severity.WARNING else self.kind.glyph

    @property
    def raw_msg(self) -> str | None:
        return self.observation.status.raw_msg if self.observation else None

    def age(self, now: float) -> float | None:
        return None if self.observation is None else max(0.0, now - self.observation.observed_at)

    def matches(self, needle: str) -> bool:
        """The `/` filter: name, id, status (value or words), severity or group."""
        if not needle:
            return True
        needle = needle.casefold()
        haystack = (
            self.entry.display_name,
            str(self.entry.id),
            self.kind.value,
            self.kind.label,
            self.severity.label,
            self.entry.group or "",
        )
        return any(needle in text.casefold() for text in haystack)


class SortMode(Enum):
    SEVERITY = "severity"  # trouble on top, calm rows by name, disabled/pending last (default)
    NAME = "name"
    ID = "id"
    AGE = "age"  # the oldest observation first

    def next(self) -> SortMode:
        modes = list(SortMode)
        return modes[(modes.index(self) + 1) % len(modes)]


def stale_after(health: Health) -> float | None:
    """Seconds after which an observation is older than the poller promised."""
    if health.max_age <= 0:
        return None
    return health.max_age + max(STALE_MARGIN_MIN, health.max_age * STALE_MARGIN_FACTOR)


@dataclass
class Board:
    """Rows in config order and the API's health."""

    rows: dict[int, Row] = field(default_factory=dict)
    started_at: float = 0.0  # observations older than this come from history
    health: Health = field(default_factory=lambda: Health(Connection.STARTING))
    alerts_failing: bool = False  # the alert command's last run failed

    @classmethod
    def of(cls, entries: Iterable[PipelineEntry], started_at: float = 0.0) -> Board:
        board = cls(started_at=started_at)
        board.set_entries(entries)
        return board

    def set_entries(self, entries: Iterable[PipelineEntry]) -> None:
        """Keep what we know about pipelines still configured; add the new ones."""
        rows: dict[int, Row] = {}
        for entry in entries:
            row = self.rows.get(entry.id)
            if row is None:
                row = Row(entry)
            else:
                row.entry = entry
            rows[entry.id] = row
        self.rows = rows

    def remember(
        self, pipeline_id: int, observation: Observation, since: float, first_seen: bool = False
    ) -> None:
        """A status from history or the poller's cache: the baseline, never an alert."""
        row = self.rows.get(pipeline_id)
        if row is None or row.observation is not None:
            return
        row.observation = observation
        row.since, row.since_first_seen = since, first_seen

    def observe(self, event: StatusObserved, selected: int | None = None) -> None:
        row = self.rows.get(event.pipeline_id)
        if row is None:
            return
        if event.observation.observed_at < self.started_at:
            # Seeded from history by the poller: what we knew before this session.
            if row.observation is None or (
                row.observation.observed_at <= event.observation.observed_at
            ):
                row.observation, row.since = event.observation, event.since
                row.since_first_seen = event.since_first_seen
            return
        before = row.observation
        row.observation = event.observation
        row.since, row.since_first_seen = event.since, event.since_first_seen
        row.failure = None
        row.live = True
        new = event.observation.status
        changed = before is not None and not new.same_state(before.status)
        if changed and row.id != selected:
            row.unseen_change = True

    def failed(self, event: PipelineFailed) -> None:
        """A failed ask: the row says why (a refusal overrides its status)."""
        row = self.rows.get(event.pipeline_id)
        if row is not None:
            row.failure = event

    def seen(self, pipeline_id: int | None) -> bool:
        """The user looked at this row: clear its change mark. True if it had one."""
        row = self.rows.get(pipeline_id) if pipeline_id is not None else None
        if row is None or not row.unseen_change:
            return False
        row.unseen_change = False
        return True

    def all_seen(self) -> None:
        for row in self.rows.values():
            row.unseen_change = False

    def is_stale(self, row: Row, now: float) -> bool:
        limit = stale_after(self.health)
        age = row.age(now)
        return limit is not None and age is not None and age > limit

    def first_pass(self) -> tuple[int, int] | None:
        """(asked, total) while some rows have had no answer nor failure this session."""
        total = len(self.rows)
        asked = sum(1 for row in self.rows.values() if row.live or row.failure is not None)
        return (asked, total) if asked < total else None

    def marked(self) -> list[Row]:
        return [row for row in self.rows.values() if row.marked]

    def counts(self) -> dict[Severity, int]:
        counts: dict[Severity, int] = {}
        for row in self.rows.values():
            counts[row.severity] = counts.get(row.severity, 0) + 1
        return counts

    def ordered(self, mode: SortMode, needle: str, now: float) -> list[Row]:
        """The rows to show, filtered and sorted; ties fall back to name then id."""
        rows = [row for row in self.rows.values() if row.matches(needle)]
        if mode is not SortMode.AGE:
            rows.sort(key=lambda r: _place_key(r, mode))
        else:

            def oldest_first(row: Row) -> tuple[float, str, int]:
                age = row.age(now)
                return (-(float("inf") if age is None else age), *_by_name(row))

            rows.sort(key=oldest_first)
        return rows


# The severity sort's groups. Busy (running, scheduled, building) and ok share one group,
# ordered by name: every run starting or ending would otherwise move its row (and redraw
# the screen) although nothing needs the user's eye. Trouble keeps its own order on top.
SORT_GROUP: dict[Severity, int] = {
    Severity.BLOCKED: 0,
    Severity.ERROR: 1,
    Severity.UNKNOWN: 2,
    Severity.WARNING: 3,
    Severity.BUSY: 4,
    Severity.OK: 4,
    Severity.DISABLED: 5,
    Severity.PENDING: 6,
}


def _by_name(row: Row) -> tuple[str, int]:
    return (row.entry.display_name.casefold(), row.id)


def _place_key(row: Row, mode: SortMode) -> tuple[int, str, int]:
    if mode is SortMode.SEVERITY:
        return (SORT_GROUP[row.severity], *_by_name(row))
    if mode is SortMode.NAME:
        return (0, *_by_name(row))
    return (row.id, "", 0)


def sort_key(row: Row, mode: SortMode) -> tuple[int, str, int] | None:
    """A row's place in `Board.ordered`, or None for the age sort, whose keys move with
    the clock: an answer that leaves this key alone leaves the order alone."""
    return None if mode is SortMode.AGE else _place_key(row, mode)
