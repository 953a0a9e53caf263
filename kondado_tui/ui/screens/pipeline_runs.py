"""Running pipelines from the dashboard (the `r` key): one, or every marked one.

The user confirms first (a pipeline already running or scheduled is named: Kondado may
queue another run or refuse it); the runs are then requested one by one through the
poller (interactive priority in the rate budget), each answer told in a toast, and a
batch's progress ("runs 2/5") shown in the status line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.screen import Screen

from kondado_tui.core.actions import after_failure, run_target
from kondado_tui.core.clock import Clock
from kondado_tui.core.errors import ApiError, KondadoError
from kondado_tui.core.events import Connection
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.models import Severity
from kondado_tui.ui.backend import SessionLike
from kondado_tui.ui.screens.confirm import ConfirmScreen
from kondado_tui.ui.view.board import Board, Row
from kondado_tui.ui.view.palette import Palette


class PipelineRuns:
    """The runs of one dashboard screen.

    `host` shows the confirmation and the toasts; the batch runs as the app's worker
    (its one `Worker.StateChanged` handler tells an unexpected failure);
    `progress()` redraws the status line (`batch` changed), `redraw()` the table (the
    marks of the pipelines run are cleared).
    """

    def __init__(
        self,
        host: Screen[None],
        session: SessionLike,
        board: Board,
        clock: Clock,
        *,
        progress: Callable[[], None],
        redraw: Callable[[], None],
    ) -> None:
        self._host = host
        self._session = session
        self._board = board
        self._clock = clock
        self._progress = progress
        self._redraw = redraw
        self.batch: tuple[int, int] | None = None  # done, total of a batch run

    def confirm(self, rows: Sequence[Row], palette: Palette) -> None:
        """Ask whether to run `rows`; run them if the user says yes."""
        ids = [row.id for row in rows]  # captured now: the cursor may move meanwhile
        body = Text()
        for row in rows:
            kind = row.kind
            body.append(f"{row.glyph} ", style=palette.severity[row.severity])
            body.append(f"{clean(row.entry.display_name, keep_newlines=False)}")
            body.append(f"  ({row.id}, {kind.label})\n", style=palette.muted)
        busy = [
            r
            for r in rows
            if r.severity is Severity.BUSY
            or (r.observation is not None and r.observation.status.is_running)
        ]
        warning = None
        if busy:
            names = ", ".join(clean(r.entry.display_name, keep_newlines=False) for r in busy)
            verb = "is" if len(busy) == 1 else "are"
            warning = Text(
                f"⚠ {names} {verb} already running or scheduled: "
                "Kondado may queue another run or refuse it."
            )
        body.rstrip()
        title = f"Run {len(rows)} pipelines?" if len(rows) > 1 else "Run this pipeline?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._host.app.run_worker(
                    self._run_many(ids), name="run_many", group="runs", exit_on_error=False
                )

        self._host.app.push_screen(
            ConfirmScreen(title, body, warning=warning, yes="run"), callback=answered
        )

    async def _run_many(self, ids: list[int]) -> None:
        notify = self._host.notify
        total = len(ids)
        self.batch = (0, total) if total > 1 else None
        self._progress()
        failures = 0
        for done, pid in enumerate(ids, start=1):
            row = self._board.rows.get(pid)
            name = clean(row.entry.display_name if row else f"pipeline {pid}", keep_newlines=False)
            self.say_if_held_back(f"Run of {name}", pid)
            try:
                answer = await self._session.poller.run_pipeline(pid)
            except ApiError as exc:  # only what is known: refused, or maybe queued
                failures += 1
                notify(
                    f"Run of {name} ({pid}): {exc}. {after_failure(exc, run_target(pid, name))}",
                    severity="error",
                    markup=False,
                    timeout=15,
                )
            except KondadoError as exc:
                failures += 1
                notify(
                    f"Run of {name} ({pid}) failed: {exc}",
                    severity="error",
                    markup=False,
                    timeout=15,
                )
            else:
                said = first_line(answer)
                notify(
                    f"Run of {name} ({pid}) requested" + (f": {said}" if said else "."),
                    markup=False,
                    timeout=8,
                )
                if row is not None:
                    row.marked = False
            if total > 1:
                self.batch = (done, total)
                self._progress()
        self.batch = None
        if total > 1:
            notify(
                f"Batch done: {total - failures} of {total} runs requested.",
                severity="warning" if failures else "information",
                markup=False,
            )
        self._redraw()

    def say_if_held_back(self, what: str, pid: int) -> bool:
        """During a rate-limit lock-out a request waits silently for up to a minute: say
        so (True when said)."""
        health = self._session.poller.health
        if health.connection is not Connection.RATE_LIMITED or health.retry_at is None:
            return False
        wait = max(1, int(health.retry_at - self._clock.now() + 0.999))
        self._host.notify(
            f"{what} ({pid}) will be sent when the rate-limit lock-out ends (in {wait} s).",
            markup=False,
            timeout=min(wait, 60),
        )
        return True


__all__ = ["PipelineRuns"]
