"""The collector's messages: the handshake, what a viewer asks, what the collector tells.

`wire` turns them into lines and back; `values` does the data inside them. The limits
below bound every line and list in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kondado_tui.core.errors import (
    KondadoError,
)
from kondado_tui.core.events import (
    HealthChanged,
    PipelineFailed,
    StatusObserved,
)
from kondado_tui.core.history.timeline import (
    HistorySummary,
    Transition,
)

# -- limits -------------------------------------------------------------------------------

HANDSHAKE_LINE = 512
"""Bytes in a handshake line (before anyone has proven anything)."""
TO_COLLECTOR_LINE = 128 * 1024
"""Bytes in one line a viewer sends (a watch list, a duplicate body)."""
TO_VIEWER_LINE = 1024 * 1024
"""Bytes in one line the collector sends (a status with a whole raw_msg, a page of
history)."""
MAX_WATCH = 5_000
"""Pipelines one viewer may watch (or peek at) in one message."""
MAX_SUMMARIES = 200
MAX_HISTORY = 500
"""Transitions one history question may ask for."""
MAX_REQ = 2**53
MAX_TEXT = 4_000
"""Characters of a health message or a failure's words."""
HISTORY_TEXT = 4_000
"""Characters of a raw_msg sent with history (the whole one travels with statuses)."""
CUT_ROOM = 64  # the cut marker `guards.limits.cut` may add
TIME_SLACK = 3600.0
"""A time further ahead of the reader's clock than this is not believed."""
REFUSALS = frozenset({"version", "proof", "busy"})
BEAT_EVERY = 5.0
"""The collector tells each viewer at least this often that it is there (`Beat`, when
it has sent it nothing for half as long)."""
SILENT_AFTER = 3 * BEAT_EVERY
"""A viewer that heard nothing for this long takes its collector for lost: its process
is stopped (SIGSTOP, a machine swapping) or its event loop hung."""

# -- the handshake ------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    nonce: str


@dataclass(frozen=True)
class Challenge:
    nonce: str
    proof: str


@dataclass(frozen=True)
class Prove:
    proof: str


@dataclass(frozen=True)
class Refused:
    why: str  # "version", "proof" or "busy"


# -- a viewer to its collector ------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    """The viewer's pipelines (all of them, each time); `paused`: it asks nothing now."""

    ids: tuple[int, ...]
    paused: bool = False


@dataclass(frozen=True)
class Focus:
    """The row under the viewer's cursor (`Poller.focus`)."""

    id: int | None
    pinned: bool = False


@dataclass(frozen=True)
class Active:
    """Someone pressed a key at the viewer (`Poller.user_active`)."""


@dataclass(frozen=True)
class Ask:
    """ "ask now" (`Poller.request_now`)."""

    id: int


@dataclass(frozen=True)
class Follow:
    id: int


@dataclass(frozen=True)
class Run:
    req: int
    id: int


@dataclass(frozen=True)
class Duplicate:
    req: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class HistoryAsk:
    """One pipeline's history summary and its newest `limit` transitions."""

    req: int
    id: int
    limit: int


@dataclass(frozen=True)
class SummariesAsk:
    req: int
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Peek:
    """The current observations of these pipelines, if the collector has any; asks
    nothing of the API and registers no interest (for `status` and the like)."""

    req: int
    ids: tuple[int, ...]


ToCollector = (
    Watch | Focus | Active | Ask | Follow | Run | Duplicate | HistoryAsk | SummariesAsk | Peek
)

# -- the collector to a viewer ------------------------------------------------------------


@dataclass(frozen=True)
class AlertDuty:
    """The alert command the collector runs, and for which pipelines: `mac` is an HMAC
    keyed by the account's secret of its argv and `on_recovery` (`trust.alert_mac`), so a
    viewer can tell its own command is the same one without either revealing it."""

    mac: str
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Welcome:
    viewers: int  # viewers attached now, this one included
    history: bool  # the collector keeps a history (detail screens can ask it)
    alerts: AlertDuty | None = None  # None: it runs no alert command


@dataclass(frozen=True)
class Duty:
    """The collector's `AlertDuty` changed (its pipelines did): the new one, or None."""

    alerts: AlertDuty | None


@dataclass(frozen=True)
class Viewers:
    count: int


@dataclass(frozen=True)
class Beat:
    """Nothing new: the collector is there (sent from its event loop, so a hung loop
    stops beating too)."""


@dataclass(frozen=True)
class Ran:
    req: int
    answer: str


@dataclass(frozen=True)
class Made:
    req: int
    id: int


@dataclass(frozen=True)
class Failure:
    """A run, a duplicate or a history question failed: the typed error, as raised."""

    req: int
    error: KondadoError


@dataclass(frozen=True)
class HistoryPart:
    """An answer to `HistoryAsk`, in as many parts as it takes (`last` ends it); the
    summary comes with the first."""

    req: int
    summary: HistorySummary | None
    transitions: tuple[Transition, ...]
    last: bool


@dataclass(frozen=True)
class Summaries:
    req: int
    items: tuple[tuple[int, HistorySummary], ...]


@dataclass(frozen=True)
class Peeked:
    req: int
    items: tuple[StatusObserved, ...]


ToViewer = (
    Welcome
    | Duty
    | Viewers
    | Beat
    | StatusObserved
    | PipelineFailed
    | HealthChanged
    | Ran
    | Made
    | Failure
    | HistoryPart
    | Summaries
    | Peeked
)


__all__ = [
    "BEAT_EVERY",
    "CUT_ROOM",
    "HANDSHAKE_LINE",
    "HISTORY_TEXT",
    "MAX_HISTORY",
    "MAX_REQ",
    "MAX_SUMMARIES",
    "MAX_TEXT",
    "MAX_WATCH",
    "REFUSALS",
    "SILENT_AFTER",
    "TIME_SLACK",
    "TO_COLLECTOR_LINE",
    "TO_VIEWER_LINE",
    "Active",
    "AlertDuty",
    "Ask",
    "Beat",
    "Challenge",
    "Duplicate",
    "Duty",
    "Failure",
    "Focus",
    "Follow",
    "Hello",
    "HistoryAsk",
    "HistoryPart",
    "Made",
    "Peek",
    "Peeked",
    "Prove",
    "Ran",
    "Refused",
    "Run",
    "Summaries",
    "SummariesAsk",
    "ToCollector",
    "ToViewer",
    "Viewers",
    "Watch",
    "Welcome",
]
