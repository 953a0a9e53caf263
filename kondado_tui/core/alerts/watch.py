"""The one decision of what is new trouble: every sink (the dashboard's bell, the alert
command, a headless collector) gets its alerts from here, so they never disagree.

New trouble is a pipeline turning into an error or blocked status, or being refused (not
found, no access), after it answered normally this session. What was already wrong
when watching began is the baseline, not news: the first answer of the session, and
anything read back from history (observed before the watch started).
"""

from __future__ import annotations

from collections.abc import Iterable

from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import (
    Alert,
    AlertKind,
    PipelineFailed,
    SessionEvent,
    StatusObserved,
)
from kondado_tui.core.models import StatusKind


class TroubleWatch:
    """Turns poller events into alerts, once per change of trouble."""

    def __init__(self, entries: Iterable[PipelineEntry], started_at: float) -> None:
        self.started_at = started_at  # observations older than this come from history
        self._entries: dict[int, PipelineEntry] = {}
        self._live: set[int] = set()  # answered this session: later changes are news
        self._announced: dict[int, str] = {}  # id -> the trouble already known
        self.set_entries(entries)

    @property
    def ids(self) -> tuple[int, ...]:
        """The pipelines watched."""
        return tuple(self._entries)

    def set_entries(self, entries: Iterable[PipelineEntry]) -> None:
        """The pipelines watched; what is known of the others is forgotten (one added
        again later starts from a new baseline)."""
        self._entries = {entry.id: entry for entry in entries}
        for pid in [p for p in self._live if p not in self._entries]:
            self._live.discard(pid)
        for pid in [p for p in self._announced if p not in self._entries]:
            del self._announced[pid]

    def feed(self, event: SessionEvent) -> Alert | None:
        if isinstance(event, StatusObserved):
            return self.observed(event)
        if isinstance(event, PipelineFailed):
            return self.failed(event)
        return None

    def observed(self, event: StatusObserved) -> Alert | None:
        pid = event.pipeline_id
        entry = self._entries.get(pid)
        if entry is None or event.observation.observed_at < self.started_at:
            return None  # not watched, or read back from history: never news
        was_live = pid in self._live
        self._live.add(pid)
        status = event.observation.status
        if not was_live:
            # The first answer of this session is the baseline: a status that was
            # already there when watching began is not news.
            if status.is_trouble:
                self._announced[pid] = status.status
            return None
        if status.is_trouble:
            if self._announced.get(pid) == status.status:
                return None
            self._announced[pid] = status.status
            return self._alert(AlertKind.TROUBLE, entry, status.kind, status.raw_msg, event)
        if pid in self._announced:
            del self._announced[pid]
            return self._alert(AlertKind.RECOVERED, entry, status.kind, status.raw_msg, event)
        return None

    def failed(self, event: PipelineFailed) -> Alert | None:
        """A refusal (deleted, or the token lost its rights) of a pipeline that answered
        this session is new trouble; a passing failure (a timeout) is not."""
        pid = event.pipeline_id
        entry = self._entries.get(pid)
        if entry is None or event.refusal is None:
            return None
        kind = event.refusal.kind
        if self._announced.get(pid) == kind.value:
            return None
        self._announced[pid] = kind.value
        if pid not in self._live:
            return None  # refused from the start: the baseline, shown but not announced
        return Alert(
            AlertKind.TROUBLE, pid, entry.display_name, entry.group, kind, event.message, event.at
        )

    @staticmethod
    def _alert(
        kind: AlertKind,
        entry: PipelineEntry,
        status: StatusKind,
        raw_msg: str | None,
        event: StatusObserved,
    ) -> Alert:
        return Alert(
            kind,
            entry.id,
            entry.display_name,
            entry.group,
            status,
            raw_msg,
            event.observation.observed_at,
        )
