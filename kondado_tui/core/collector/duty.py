"""Whose alert command tells of a trouble: a viewer's, or its collector's.

Every process decides what is new trouble (`core/alerts`); each terminal rings its own
bell. The alert *command* should run once: a viewer leaves it to its collector for a
pipeline only when the collector runs the very same command (argv and `on_recovery`,
compared as `trust.alert_mac` fingerprints under the account's secret) as the very same
user (its uid, from the kernel: SO_PEERCRED), and alerts on that pipeline. Anything
else, and the viewer runs its own, as it would alone: the collector only ever runs the
command of its own config, never anything a viewer sent.
"""

from __future__ import annotations

from kondado_tui.core.collector.messages import SILENT_AFTER, AlertDuty

RETELL_WINDOW = 60.0 + SILENT_AFTER
"""When its collector goes away, a viewer runs its own command for the alerts it left to
it this recently: the collector may have been killed before it ran them, or held them
back (its caps). A duplicate around a switch rather than a miss."""


def left_to_collector(
    duty: AlertDuty | None, own_mac: str | None, collector_uid: int, own_uid: int
) -> frozenset[int]:
    """The pipelines whose alert command this viewer leaves to its collector (empty:
    it runs its own for every pipeline)."""
    if duty is None or own_mac is None or collector_uid != own_uid or duty.mac != own_mac:
        return frozenset()
    return frozenset(duty.ids)


__all__ = ["RETELL_WINDOW", "left_to_collector"]
