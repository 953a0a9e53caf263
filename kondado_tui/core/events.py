"""What the core tells its front ends (the TUI and the CLI). Plain data, no Textual.

The poller calls one callback with its events (`PollerEvent`); the session adds the
alerts it decides on and what became of the alert command (`SessionEvent`). The TUI
turns each into a Textual message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from kondado_tui.core.errors import ApiError, FailureKind, Rejected
from kondado_tui.core.models import Observation, Severity, StatusKind


class Connection(Enum):
    """How the API looks from here, for the banner and the status line."""

    STARTING = "starting"  # nothing asked yet
    OK = "ok"
    UNREACHABLE = "unreachable"  # timeouts, refused, reset, 5xx: backing off
    RATE_LIMITED = "rate limited"  # the API said RATE_LIMIT_EXCEEDED: silent until retry_at
    REJECTED = "rejected"  # credentials refused
    BAD_ANSWER = "bad answer"  # answers we cannot read


@dataclass(frozen=True)
class BudgetShare:
    """Who shares the rate budget with this process right now (the host's broker)."""

    host_wide: bool  # True: agreed with every kondado-tui on this host through its broker
    processes: int = 1  # kondado-tui processes asking this API from this host, this one too
    logins: int = 1  # distinct users among them
    share: float = 1.0  # the fraction of automatic requests this process can expect
    serving: bool = False  # this process runs the host's broker
    why_alone: str = ""  # not host-wide: why (no usable broker)

    @property
    def with_others(self) -> bool:
        return self.host_wide and self.processes > 1


class Role(Enum):
    """This dashboard's part in its account's collector (issue 15)."""

    SERVING = "serving"  # it polls, and serves the account's other dashboards (viewers)
    VIEWING = "viewing"  # it shows what the account's collector (another process) polls
    LOST = "lost"  # its collector went away: taking over or attaching to the next one
    ALONE = "alone"  # it polls on its own: no collector it can trust (`why` says why)


@dataclass(frozen=True)
class CollectorLink:
    """Where this dashboard's statuses come from, for the banner and the status line."""

    role: Role
    viewers: int = 0  # viewers of the collector right now (SERVING: this one's)
    pid: int | None = None  # VIEWING, LOST: the collector's process (kernel-verified)
    login: str = ""  # VIEWING: the collector's login, when it is another one
    why: str = ""  # ALONE: why no collector is shared; LOST: what happened
    since: float | None = None  # LOST: since when


@dataclass(frozen=True)
class Health:
    connection: Connection
    message: str = ""  # safe to show (redacted, cleaned)
    retry_at: float | None = None  # wall time the poller will try again (countdowns)
    last_success_at: float | None = None
    paused: bool = False
    budget_per_minute: int = 18
    used_last_minute: int = 0  # requests this host sent in the last 60 s (all processes)
    next_poll_at: float | None = None
    max_age: float = 0.0  # every pipeline is asked at least this often
    shared_ledger: bool = True  # False: fell back to in-process limiting
    ledger_note: str = ""
    # requests a minute allowed now: below budget_per_minute after lock-outs nobody on
    # this host explains, climbing back gradually (None: not lowered)
    lowered_to: int | None = None
    share: BudgetShare | None = None  # None: a budget that knows nothing of the host
    pipelines: int | None = None  # how many are monitored (None: not told)
    # rows showing a state read from history at start-up, not confirmed by the API since
    from_history: int = 0
    # history is not being kept as configured ("" while it is): a few words for the status
    # line, the whole story, and since when writes fail (None: not failing writes)
    history_short: str = ""
    history_problem: str = ""
    history_failing_since: float | None = None
    # where the statuses come from: this process's poller, or its account's collector
    # (None: no collector is involved, e.g. KONDADO_TUI_COLLECTOR=off or a test's fake)
    collector: CollectorLink | None = None


@dataclass(frozen=True)
class StatusObserved:
    pipeline_id: int
    observation: Observation
    previous: Observation | None
    since: float  # when the pipeline entered this status (as far as we know)
    # `since` is only when the pipeline was first seen, already in this status: it
    # entered it at some unknown time before (a lower bound, not a transition seen).
    since_first_seen: bool = False

    @property
    def changed(self) -> bool:
        return not self.observation.status.same_state(
            self.previous.status if self.previous else None
        )


class Refusal(Enum):
    """Why the API will not give one pipeline's status while it answers for others.
    No status will come until someone fixes the id or the token's rights."""

    NOT_FOUND = "not_found"  # no such pipeline for this key (deleted, or a wrong id)
    NO_ACCESS = "no_access"  # the credentials work, but this token may not see it
    REFUSED = "refused"  # another refusal of this pipeline: the API's text says why

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def kind(self) -> StatusKind:
        """How a refused row reads: trouble (no status will come until someone acts),
        with what to check, for the table, the detail screen and `history`."""
        return _REFUSAL_KINDS[self]


_REFUSAL_KINDS = {
    Refusal.NOT_FOUND: StatusKind(
        "not found",
        "✖",
        Severity.ERROR,
        "not found",
        "Kondado says no such pipeline exists for this key: check the id",
    ),
    Refusal.NO_ACCESS: StatusKind(
        "no access",
        "✖",
        Severity.ERROR,
        "no access",
        "the token may not see this pipeline: check its rights in the Kondado app",
    ),
    Refusal.REFUSED: StatusKind(
        "refused",
        "✖",
        Severity.ERROR,
        "refused",
        "Kondado refused to give this pipeline's status",
    ),
}


# Wordings seen for a missing pipeline: "Pipeline not found", "PIPELINE_NOT_FOUND",
# "No pipeline 12 in this account", "no such pipeline", "does not exist", "unknown pipeline".
_NOT_FOUND_TEXT = re.compile(
    r"not[\s_-]*found|no[\s_-]+such|does\s*n[o']?t\s+exist|unknown[\s_-]+pipeline"
    r"|\bno\s+pipeline\b",
    re.IGNORECASE,
)


def refusal_of(exc: ApiError, *, credentials_work: bool = False) -> Refusal | None:
    """What a failure to ask about one pipeline says about that pipeline (None: nothing,
    e.g. a timeout or an unreadable answer: the next ask may work).

    The one place refusals are classified, from the HTTP status and the API's error text
    (any wording). An auth-looking refusal (401, 403, "permission", "token") is only
    NO_ACCESS once other pipelines answered with the same credentials
    (`credentials_work`); before that it may be the credentials that are wrong.
    """
    if not isinstance(exc, Rejected):
        return None
    if exc.http_status == 404 or _NOT_FOUND_TEXT.search(f"{exc.error} {exc.message}"):
        return Refusal.NOT_FOUND
    if exc.auth or exc.http_status in (401, 403):
        return Refusal.NO_ACCESS if credentials_work else None
    return Refusal.REFUSED


@dataclass(frozen=True)
class PipelineFailed:
    """Asking about one pipeline failed (the others may be fine)."""

    pipeline_id: int
    kind: FailureKind
    message: str  # safe to show
    at: float
    # The API refused this pipeline as if the credentials were wrong while other
    # pipelines answer with the same ones: the token cannot see this pipeline.
    # Kept for older readers: the same as `refusal is Refusal.NO_ACCESS`.
    access_denied: bool = False
    # Set when the API refused this pipeline for good (not found, no access, ...);
    # None for a passing failure (timeout, 5xx, unreadable answer).
    refusal: Refusal | None = None
    # When this refusal was first met (earlier than `at` when it repeats, or when it
    # comes from history after a restart); None for a passing failure.
    since: float | None = None

    def __post_init__(self) -> None:
        if self.access_denied and self.refusal is None:
            object.__setattr__(self, "refusal", Refusal.NO_ACCESS)
        if self.refusal is Refusal.NO_ACCESS:
            object.__setattr__(self, "access_denied", True)
        if self.refusal is not None and self.since is None:
            object.__setattr__(self, "since", self.at)


@dataclass(frozen=True)
class HealthChanged:
    health: Health


PollerEvent = StatusObserved | PipelineFailed | HealthChanged


class AlertKind(Enum):
    TROUBLE = "trouble"  # turned into an error or blocked status, or refused
    RECOVERED = "recovered"  # back out of trouble


@dataclass(frozen=True)
class Alert:
    """New trouble (or its end) for one pipeline, decided once by `core.alerts.watch` for
    every sink: the dashboard's bell and notification, and the alert command.

    `name` and `group` come from the config (`name` is the display name); `raw_msg` is
    the API's text as it came (each sink cleans what it shows or sends)."""

    kind: AlertKind
    pipeline_id: int
    name: str
    group: str | None
    status: StatusKind  # a status, or a refusal's kind ("not found", "no access")
    raw_msg: str | None
    at: float  # when it was observed (wall time)


class AlertOutcome(Enum):
    SENT = "sent"  # the alert command ran and exited 0
    FAILED = "failed"  # it could not start, exited non-zero or timed out
    HELD = "held"  # over the cap: held back, to go out in one summary later


@dataclass(frozen=True)
class AlertNotice:
    """What became of the alert command (`core.alerts.command`): the dashboard shows a
    failure as a notification and in the status line until a run succeeds."""

    outcome: AlertOutcome
    message: str  # safe to show (cleaned, redacted)
    at: float


SessionEvent = PollerEvent | Alert | AlertNotice
