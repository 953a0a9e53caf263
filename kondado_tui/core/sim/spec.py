"""What a simulated pipeline is: its statuses, its plan and its fixed traits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

RUNNING = "running"
SCHEDULED = "scheduled"
ACTIVE = "active"
NOT_ACTIVE = "not_active"
BUILDING = "building_tables"
BUILD_ERROR = "error_building_tables"
FAILING = "too_many_consecutive_failed_builds"
BLOCKED = "too_many_consecutive_failed_builds__blocked"


class Plan(Enum):
    BUSINESS = "business"
    ESSENTIALS = "essentials"  # frequency-limited: manual runs are refused


@dataclass(frozen=True)
class PipelineSpec:
    """What a pipeline is: fixed for its life. Durations are simulated seconds."""

    id: int
    name: str
    group: str
    interval: float
    run_seconds: float  # typical run duration
    fail_rate: float
    src_collection_id: int
    dest_collection_id: int
    paths: tuple[str, ...]
    parameters: dict[str, str]
    client_id: int = 20417
    plan: Plan = Plan.BUSINESS
    block_after: int | None = 6  # consecutive failures before the automatic block
    sticky_raw_msg: str | None = None  # a warning every successful run leaves behind
    jitter: float = 60.0
    queue_seconds: float = 20.0  # typical wait between scheduled and running
    build_seconds: float = 240.0
    static: bool = False  # never changes (disabled, blocked, undocumented, ...)


@dataclass(frozen=True)
class Start:
    """How a pipeline is found when the world begins."""

    status: str = ACTIVE
    raw_msg: str | None = None
    failures: int = 0  # consecutive failed runs so far


Account = tuple[list[PipelineSpec], dict[int, Start]]
