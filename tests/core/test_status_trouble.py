"""Which observations count as trouble (alerts, `status` exit 1), undocumented ones too.

The cases live in tests/status_cases.py: the CLI and the dashboard tests use them too."""

from __future__ import annotations

import pytest
from status_cases import CASES, Case

from kondado_tui.core.models import Severity


@pytest.mark.parametrize("case", CASES, ids=str)
def test_trouble_and_severity_of_a_status(case: Case) -> None:
    seen = case.parsed(1)
    assert seen.severity is case.severity
    assert seen.is_trouble is case.trouble
    assert seen.severity.alarms is case.trouble  # one rule, asked the same way everywhere


def test_trouble_sorts_before_what_is_not() -> None:
    ranks = sorted(Severity, key=lambda s: s.rank)
    alarming = [s.alarms for s in ranks]
    assert alarming == sorted(alarming, reverse=True)  # every alarming severity first
