"""One decision, several sinks: poller events go through the `TroubleWatch` once, and
each alert it decides on reaches every listener (a dashboard rings its bell) and the
alert command (which reports back what became of it). A headless collector uses the
same hub with the command alone."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable

from kondado_tui.core.alerts.command import AlertCommand
from kondado_tui.core.alerts.payload import safe, who
from kondado_tui.core.alerts.watch import TroubleWatch
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import Alert, SessionEvent

log = logging.getLogger(__name__)

Emit = Callable[[SessionEvent], None]
Defer = Callable[[Alert], str | None]
"""Who runs the command for this alert instead of this process (words for the log), or
None: this process runs it."""
LEFT_KEPT = 500  # alerts left to another process remembered (for `retell`)


class AlertHub:
    def __init__(
        self,
        entries: Iterable[PipelineEntry],
        started_at: float,
        emit: Emit,
        command: AlertCommand | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.watch = TroubleWatch(entries, started_at)
        self.command = command
        self.clock = clock
        self.defer: Defer = lambda alert: None
        self._emit = emit
        self._left: deque[tuple[float, Alert]] = deque(maxlen=LEFT_KEPT)

    def set_entries(self, entries: Iterable[PipelineEntry]) -> None:
        self.watch.set_entries(entries)

    def feed(self, event: SessionEvent) -> None:
        """After the event itself reached the listeners: its alert, if it makes one."""
        alert = self.watch.feed(event)
        if alert is None:
            return
        self._emit(alert)
        if self.command is None:
            return
        by = self.defer(alert)
        if by is None:
            self.command.submit(alert)
            return
        log.info(
            "alert for %s left to %s (the same alert command)",
            who(safe(alert.name, 200), alert.pipeline_id),
            by,
        )
        self._left.append((self.clock.now(), alert))

    def retell(self, since: float) -> int:
        """The process alerts were left to is gone: run the command for those left to it
        since `since` (it may not have run them), in order. How many."""
        left, self._left = list(self._left), deque(maxlen=LEFT_KEPT)
        again = [alert for at, alert in left if at >= since]
        if self.command is not None:
            for alert in again:
                self.command.submit(alert)
        return len(again)

    async def aclose(self) -> None:
        if self.command is not None:
            await self.command.aclose()
