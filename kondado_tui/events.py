"""What the poller tells its front ends (the TUI and the CLI). Plain data, no Textual.

The poller calls one callback with these; the TUI turns each into a Textual message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kondado_tui.errors import FailureKind
from kondado_tui.models import Observation


class Connection(Enum):
    """How the API looks from here, for the banner and the status line."""

    STARTING = "starting"  # nothing asked yet
    OK = "ok"
    UNREACHABLE = "unreachable"  # timeouts, refused, reset, 5xx: backing off
    RATE_LIMITED = "rate limited"  # the API said RATE_LIMIT_EXCEEDED: silent until retry_at
    REJECTED = "rejected"  # credentials refused
    BAD_ANSWER = "bad answer"  # answers we cannot read


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
    pipelines: int | None = None  # how many are monitored (None: not told)
    # rows showing a state read from history at start-up, not confirmed by the API since
    from_history: int = 0


@dataclass(frozen=True)
class StatusObserved:
    pipeline_id: int
    observation: Observation
    previous: Observation | None
    since: float  # when the pipeline entered this status (as far as we know)

    @property
    def changed(self) -> bool:
        return not self.observation.status.same_state(
            self.previous.status if self.previous else None
        )


@dataclass(frozen=True)
class PipelineFailed:
    """Asking about one pipeline failed (the others may be fine)."""

    pipeline_id: int
    kind: FailureKind
    message: str  # safe to show
    at: float
    # The API refused this pipeline as if the credentials were wrong while other
    # pipelines answer with the same ones: the token cannot see this pipeline.
    access_denied: bool = False


@dataclass(frozen=True)
class HealthChanged:
    health: Health


PollerEvent = StatusObserved | PipelineFailed | HealthChanged
