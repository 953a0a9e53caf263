"""What kondado-tui processes on one host tell the budget broker, and what it answers.

Plain data: request times, priorities, counts, rates and two opaque scope ids
(`scope.BudgetScope`). Never a key, a token, a pipeline id, a status or a URL: any local
user can run the broker or read what it sends. `wire` turns these into lines on the
socket and refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kondado_tui.core.budget.throttle import Throttle
from kondado_tui.core.models import Priority

# -- a process to the broker ------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What a process saw of the host's last two minutes: request times on its endpoint
    (`stamps`) and on its key (`key_stamps`, a subset), the lock-out, the throttles.
    A broker that takes over starts from the windows its processes bring."""

    stamps: tuple[float, ...] = ()
    key_stamps: tuple[float, ...] = ()
    lockout_end: float | None = None
    host_throttle: Throttle = field(default_factory=Throttle)
    key_throttle: Throttle = field(default_factory=Throttle)


@dataclass(frozen=True)
class Hello:
    host: str  # scope ids (`scope.BudgetScope`)
    key: str
    per_minute: int  # the process's configured requests_per_minute for this key
    window: Window = field(default_factory=Window)


@dataclass(frozen=True)
class Want:
    """A request would like to leave: grant it a slot when it is its turn."""

    id: int
    priority: Priority


@dataclass(frozen=True)
class Cancel:
    """The request no longer waits (a cancelled slot is never taken)."""

    id: int


@dataclass(frozen=True)
class Done:
    """The granted request's answer is in: count it from now on (spacing from arrival)."""

    id: int


@dataclass(frozen=True)
class Lockout:
    """The API answered RATE_LIMIT_EXCEEDED; it says to wait `wait` seconds."""

    wait: float


@dataclass(frozen=True)
class Ping:
    """Still there? (sent only while a request waits: nothing is sent at idle)"""


ToBroker = Hello | Want | Cancel | Done | Lockout | Ping


# -- the broker to a process ------------------------------------------------------------


@dataclass(frozen=True)
class SlotSeen:
    """A request on this process's endpoint was granted at `at` (or, sent again with the
    same `slot`, its answer came and it now counts from `at`). `on_key`: on its key too."""

    slot: int
    at: float
    on_key: bool


@dataclass(frozen=True)
class Limits:
    host_per_minute: int  # the host's cap on this endpoint
    key_per_minute: int  # the smallest requests_per_minute of the key's processes
    lockout_end: float | None
    host_throttle: Throttle = field(default_factory=Throttle)
    key_throttle: Throttle = field(default_factory=Throttle)

    def allowed(self, now: float) -> int:
        """Requests a minute this process's requests may use together, at `now`."""
        return min(
            self.host_throttle.allowed(self.host_per_minute, now),
            self.key_throttle.allowed(self.key_per_minute, now),
        )

    def configured(self) -> int:
        return min(self.host_per_minute, self.key_per_minute)


@dataclass(frozen=True)
class Peers:
    processes: int  # kondado-tui processes using this endpoint on this host, this one too
    logins: int  # distinct users among them (kernel-verified uids)
    share: float  # the fraction of automatic requests this process can expect


@dataclass(frozen=True)
class Welcome:
    slots: tuple[SlotSeen, ...]
    limits: Limits
    peers: Peers


@dataclass(frozen=True)
class Granted:
    """`Want(id)` may leave now; it counts as `slot` (also broadcast as `SlotSeen`)."""

    id: int
    slot: int
    at: float


@dataclass(frozen=True)
class Pong:
    pass


@dataclass(frozen=True)
class Refused:
    """The broker will not serve this connection (`why`: a short code, e.g. 'version')."""

    why: str


ToProcess = Welcome | Granted | SlotSeen | Limits | Peers | Pong | Refused


__all__ = [
    "Cancel",
    "Done",
    "Granted",
    "Hello",
    "Limits",
    "Lockout",
    "Peers",
    "Ping",
    "Pong",
    "Refused",
    "SlotSeen",
    "ToBroker",
    "ToProcess",
    "Want",
    "Welcome",
    "Window",
]
