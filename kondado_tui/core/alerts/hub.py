"""One decision, several sinks: poller events go through the `TroubleWatch` once, and
each alert it decides on reaches every listener (a dashboard rings its bell) and the
alert command (which reports back what became of it). A headless collector uses the
same hub with the command alone."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kondado_tui.core.alerts.command import AlertCommand
from kondado_tui.core.alerts.watch import TroubleWatch
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import SessionEvent

Emit = Callable[[SessionEvent], None]


class AlertHub:
    def __init__(
        self,
        entries: Iterable[PipelineEntry],
        started_at: float,
        emit: Emit,
        command: AlertCommand | None = None,
    ) -> None:
        self.watch = TroubleWatch(entries, started_at)
        self.command = command
        self._emit = emit

    def set_entries(self, entries: Iterable[PipelineEntry]) -> None:
        self.watch.set_entries(entries)

    def feed(self, event: SessionEvent) -> None:
        """After the event itself reached the listeners: its alert, if it makes one."""
        alert = self.watch.feed(event)
        if alert is None:
            return
        self._emit(alert)
        if self.command is not None:
            self.command.submit(alert)

    async def aclose(self) -> None:
        if self.command is not None:
            await self.command.aclose()
