"""Which observations count as trouble (alerts, `status` exit 1), undocumented ones too."""

from __future__ import annotations

import pytest

from kondado_tui.core.models import PipelineStatus


@pytest.mark.parametrize(
    ("status", "is_running", "is_blocked", "trouble"),
    [
        ("paused_by_billing", False, True, True),
        ("paused_by_billing", False, False, False),
        ("rebuilding_views", True, True, False),
        ("building_tables", False, True, False),
        ("error_building_tables", False, False, True),
    ],
)
def test_trouble_of_a_status(
    status: str, is_running: bool, is_blocked: bool, trouble: bool
) -> None:
    seen = PipelineStatus(1, status, is_running=is_running, is_blocked=is_blocked)
    assert seen.is_trouble is trouble
