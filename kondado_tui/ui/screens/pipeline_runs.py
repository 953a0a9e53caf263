"""Running pipelines from the dashboard (the `r` key): one, or every marked one.

The user confirms first (a pipeline already running or scheduled is named: Kondado may
queue another run or refuse it; so are marked ones the filter hides), and a second time
when a run of the same pipeline went out lately with no readable answer (it may be
queued already: `core.actions.DoubtLog`, shared with the CLI); the runs are then
requested one by one through the poller (interactive priority in the rate budget), each
answer told in a toast, and a batch's progress ("runs 2/5") shown in the status line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from rich.text import Text
from textual.screen import Screen

from kondado_tui.core.actions import DoubtLog, after_failure, run_target
from kondado_tui.core.clock import Clock
from kondado_tui.core.errors import ApiError, KondadoError, Outcome
from kondado_tui.core.events import Connection
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.models import Severity
from kondado_tui.ui.backend import SessionLike
from kondado_tui.ui.screens.confirm import ConfirmScreen, SecondConfirmScreen
from kondado_tui.ui.view.board import Board, Row
from kondado_tui.ui.view.palette import Palette


def _label(row: Row) -> str:
    """How a run's messages name its pipeline: "Orders (2040)"."""
    return f"{clean(row.entry.display_name, keep_newlines=False)} ({row.id})"


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
        doubts: DoubtLog,
    ) -> None:
        self._host = host
        self._doubts = doubts
        self._session = session
        self._board = board
        self._clock = clock
        self._progress = progress
        self._redraw = redraw
        self.batch: tuple[int, int] | None = None  # done, total of a batch run

    def confirm(
        self,
        rows: Sequence[Row],
        palette: Palette,
        *,
        hidden: Sequence[Row] = (),
        filter_text: str = "",
    ) -> None:
        """Ask whether to run `rows`; run them if the user says yes. `hidden`: those of
        them the filter (`filter_text`) keeps off the screen."""
        rows = list(rows)  # captured now: the cursor may move meanwhile
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
        warnings: list[str] = []
        if busy:
            names = ", ".join(clean(r.entry.display_name, keep_newlines=False) for r in busy)
            verb = "is" if len(busy) == 1 else "are"
            warnings.append(
                f"⚠ {names} {verb} already running or scheduled: "
                "Kondado may queue another run or refuse it."
            )
        if hidden:
            names = ", ".join(clean(r.entry.display_name, keep_newlines=False) for r in hidden)
            of = f"{len(hidden)} of these" if len(rows) > 1 else "This pipeline"
            verb = "is" if len(hidden) == 1 else "are"
            filtered = clean(filter_text, keep_newlines=False)
            warnings.append(f"⚠ {of} {verb} hidden by the filter “{filtered}”: {names}.")
        body.rstrip()
        title = f"Run {len(rows)} pipelines?" if len(rows) > 1 else "Run this pipeline?"
        warning = Text("\n".join(warnings)) if warnings else None

        def answered(yes: bool | None) -> None:
            if yes:
                self._confirm_doubtful(rows)

        self._host.app.push_screen(
            ConfirmScreen(title, body, warning=warning, yes="run"), callback=answered
        )

    def _confirm_doubtful(self, rows: list[Row]) -> None:
        """A run whose last request got no readable answer may be queued already: ask a
        second time, naming which (the first question could not know)."""
        ids = [row.id for row in rows]
        warnings = [
            words
            for row in rows
            if (words := self._doubts.warning(run_target(row.id, _label(row)))) is not None
        ]

        def go(yes: bool | None = True) -> None:
            if yes:
                self._host.app.run_worker(
                    self._run_many(ids), name="run_many", group="runs", exit_on_error=False
                )

        if not warnings:
            go()
            return
        self._host.app.push_screen(
            SecondConfirmScreen(
                "Run again? The last run's outcome is unknown",
                Text(clean("\n\n".join(warnings))),
                yes="run anyway",
            ),
            callback=go,
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
            target = run_target(pid, _label(row) if row else None)
            try:
                answer = await self._session.poller.run_pipeline(pid)
            except ApiError as exc:  # only what is known: refused, or maybe queued
                failures += 1
                if exc.outcome is Outcome.UNKNOWN:
                    await asyncio.to_thread(self._doubts.note_unknown, target, exc)
                notify(
                    f"Run of {name} ({pid}): {exc}. {after_failure(exc, target)}",
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
                await asyncio.to_thread(self._doubts.clear, target)
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
