"""One table of status answers and whether each is trouble: the dashboard's alerts and
trouble count and `status`'s exit 1 are both held to it (tests/cli/test_cli_severity.py,
tests/ui/test_ui_severity.py), so the two front ends can never disagree again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kondado_tui.core.models import PipelineStatus, Severity


@dataclass(frozen=True)
class Case:
    status: str
    is_running: bool = False
    is_active: bool = True
    is_blocked: bool = False
    raw_msg: str | None = None
    trouble: bool = False
    severity: Severity = Severity.OK

    @property
    def entry(self) -> dict[str, Any]:
        """The pipeline's fields as the API sends them."""
        return {
            "status": self.status,
            "is_running": self.is_running,
            "is_active": self.is_active,
            "is_blocked": self.is_blocked,
            "raw_msg": self.raw_msg,
        }

    def parsed(self, pipeline_id: int) -> PipelineStatus:
        return PipelineStatus(
            pipeline_id,
            self.status,
            is_running=self.is_running,
            is_active=self.is_active,
            is_blocked=self.is_blocked,
            raw_msg=self.raw_msg,
        )

    def __str__(self) -> str:
        flags = "".join(
            f"+{name}"
            for name, on in (
                ("running", self.is_running),
                ("blocked", self.is_blocked),
                ("msg", bool(self.raw_msg)),
            )
            if on
        )
        return f"{self.status}{flags}"


CASES: tuple[Case, ...] = (
    Case("active", severity=Severity.OK),
    Case("active", raw_msg="3 records skipped", severity=Severity.WARNING),
    Case("running", is_running=True, severity=Severity.BUSY),
    Case("scheduled", severity=Severity.BUSY),
    Case("building_tables", is_blocked=True, severity=Severity.BUSY),
    Case("not_active", is_active=False, severity=Severity.DISABLED),
    Case(
        "error_building_tables", raw_msg="permission denied", trouble=True, severity=Severity.ERROR
    ),
    Case("too_many_consecutive_failed_builds", trouble=True, severity=Severity.ERROR),
    Case(
        "too_many_consecutive_failed_builds__blocked",
        is_active=False,
        is_blocked=True,
        trouble=True,
        severity=Severity.BLOCKED,
    ),
    # statuses the docs do not list: nothing says they are healthy
    Case(
        "paused_by_billing",
        is_active=False,
        is_blocked=True,
        trouble=True,
        severity=Severity.UNKNOWN,
    ),
    Case("paused_by_support", raw_msg="ticket 48213", trouble=True, severity=Severity.UNKNOWN),
    Case("rebuilding_views", is_running=True, trouble=True, severity=Severity.UNKNOWN),
)
