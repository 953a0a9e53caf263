"""Adding and removing monitored pipelines from the dashboard (the `a` and `x` keys), and
keeping a pipeline made by the duplicate form; each edit is written to the config file.

A pipeline is added only once Kondado answered about it: the status call goes through
the poller (inside the rate budget) and its answer is awaited here; nothing is saved for
a pipeline that does not exist or does not answer. The file is edited line by line
(`append_pipeline`, `remove_pipeline`): the user's comments are kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.text import Text
from textual.screen import Screen

from kondado_tui.core.config import PipelineEntry, append_pipeline, remove_pipeline
from kondado_tui.core.config.watch import ReloadFailed, pipeline_changes
from kondado_tui.core.errors import ConfigError, KondadoError
from kondado_tui.core.events import PipelineFailed, PollerEvent, Refusal, StatusObserved
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.ui.backend import SessionLike
from kondado_tui.ui.screens.add import AddResult, AddScreen
from kondado_tui.ui.screens.confirm import ConfirmScreen
from kondado_tui.ui.view.board import Board, Row

ADD_TIMEOUT = 90.0  # the status call waits its turn in the rate budget
NOT_ADDED = {  # what to check when Kondado refused the pipeline for good
    Refusal.NOT_FOUND: "; check the id",
    Refusal.NO_ACCESS: "; check the token's rights to it in the Kondado app",
}


class PipelineEdits:
    """The config edits of one dashboard screen.

    `host` shows the forms and the messages; the file writes run as the app's workers
    (its one `Worker.StateChanged` handler tells an unexpected failure);
    `redraw(pipeline_id)` redraws the table after an edit (with the cursor on that row;
    None: anywhere); `note(text)` shows a lasting note while the config file does not
    load (None hides it).
    """

    def __init__(
        self,
        host: Screen[None],
        session: SessionLike,
        board: Board,
        redraw: Callable[[int | None], None],
        note: Callable[[str | None], None] = lambda text: None,
    ) -> None:
        self._host = host
        self._session = session
        self._board = board
        self._redraw = redraw
        self._note = note
        self._waiting: dict[int, asyncio.Future[PollerEvent]] = {}  # pipelines being added

    def resolve(self, event: StatusObserved | PipelineFailed) -> None:
        """A poller answer: the one an `add` may be waiting for."""
        waiter = self._waiting.pop(event.pipeline_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)

    # -- add --------------------------------------------------------------------------

    def add(self) -> None:
        """The add form (`a`): by id or app URL, knowing what the file lists now."""
        self.check_config(force=True)
        self._host.app.push_screen(
            AddScreen(self._add_pipeline, set(self._board.rows)), callback=self._added
        )

    async def _add_pipeline(self, entry: PipelineEntry) -> str:
        """Ask once through the poller (inside the budget); save only a pipeline that exists."""
        poller = self._session.poller
        board = self._board
        ids = [*board.rows, entry.id]
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[PollerEvent] = loop.create_future()
        self._waiting[entry.id] = waiter
        poller.set_pipelines(ids)
        poller.request_now(entry.id)
        try:
            event = await asyncio.wait_for(waiter, ADD_TIMEOUT)
        except TimeoutError:
            poller.set_pipelines(list(board.rows))
            raise KondadoError(
                f"no answer about pipeline {entry.id} within {ADD_TIMEOUT:.0f} s "
                "(see the banner); nothing was saved"
            ) from None
        finally:
            self._waiting.pop(entry.id, None)
        if isinstance(event, PipelineFailed):
            poller.set_pipelines(list(board.rows))
            fix = NOT_ADDED.get(event.refusal, "") if event.refusal else ""
            said = event.message.rstrip(". ;")
            raise KondadoError(f"Pipeline {entry.id} was not added: {said}{fix}.")
        assert isinstance(event, StatusObserved)
        try:
            await asyncio.to_thread(append_pipeline, self._session.config.path, entry)
        except ConfigError as exc:
            poller.set_pipelines(list(board.rows))
            raise KondadoError(f"could not save: {exc}") from None
        board.set_entries([*(r.entry for r in board.rows.values()), entry])
        self._session.set_entries(r.entry for r in board.rows.values())
        board.remember(entry.id, event.observation, event.since, event.since_first_seen)
        kind = event.observation.status.kind
        return f"Now monitoring {entry.display_name} ({entry.id}): {kind.label}."

    def _added(self, result: AddResult | None) -> None:
        if result is None:
            return
        self._host.notify(result.message, markup=False)
        self._redraw(result.entry.id)

    # -- a duplicate --------------------------------------------------------------------

    def adopt(self, entry: PipelineEntry) -> None:
        """A pipeline made here (duplicate): show it now and keep it in the config."""
        board = self._board
        if entry.id not in board.rows:
            board.set_entries([*(r.entry for r in board.rows.values()), entry])
            self._session.set_entries(r.entry for r in board.rows.values())
        self._redraw(entry.id)
        self._host.app.run_worker(
            self._save_adopted(entry), name="save_adopted", group="config", exit_on_error=False
        )

    async def _save_adopted(self, entry: PipelineEntry) -> None:
        path = self._session.config.path
        try:
            await asyncio.to_thread(append_pipeline, path, entry)
        except ConfigError as exc:
            self._host.notify(
                f"Pipeline {entry.id} is monitored for this session only: {exc}",
                severity="warning",
                markup=False,
            )
            return
        self._host.notify(f"Pipeline {entry.id} added to {path}.", markup=False, timeout=6)

    # -- the file changed (kondado-tui add, an editor) ---------------------------------

    def check_config(self, *, force: bool = False) -> None:
        """Apply what changed in the config file since the last look: at each 10-second
        step (a stat; a read only when it changed), and before the add form opens."""
        change = self._session.check_config(force=force)
        if change is None:
            return
        path = self._session.config.path
        if isinstance(change, ReloadFailed):
            self._note(f"{change.message} (still running on the last good config)")
            self._host.notify(
                f"The config file no longer loads; nothing changes until it is fixed: "
                f"{change.message}",
                severity="warning",
                markup=False,
                timeout=10,
            )
            return
        self._note(None)
        board = self._board
        changes = pipeline_changes(
            [row.entry for row in board.rows.values()], change.config.pipelines
        )
        if changes:
            board.set_entries(changes.entries)
            ids = [entry.id for entry in changes.entries]
            adding = [pid for pid in self._waiting if pid not in ids]  # an `a` in flight
            self._session.set_entries(changes.entries)  # the poller, and the alerts' names
            if adding:
                self._session.poller.set_pipelines([*ids, *adding])
            self._redraw(None)
            self._host.notify(f"{path.name} changed: {changes.summary()}.", markup=False)
        if change.settings_changed:
            self._host.notify(
                f"{path.name} changed: settings other than the pipelines apply when "
                "kondado-tui restarts.",
                markup=False,
                timeout=10,
            )

    # -- remove -------------------------------------------------------------------------

    def remove(self, row: Row) -> None:
        """Stop monitoring `row` (`x`), once the user said yes."""
        pid = row.id
        body = Text(
            f"{clean(row.entry.display_name, keep_newlines=False)} ({pid}) will be "
            f"removed from {self._session.config.path}.\n"
            "Nothing changes in Kondado; you can add it again with a."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._host.app.run_worker(
                    self._remove(pid), name="remove", group="config", exit_on_error=False
                )

        self._host.app.push_screen(
            ConfirmScreen("Stop monitoring this pipeline?", body, yes="remove"),
            callback=answered,
        )

    async def _remove(self, pid: int) -> None:
        board = self._board
        try:
            found = await asyncio.to_thread(remove_pipeline, self._session.config.path, pid)
        except ConfigError as exc:
            self._host.notify(
                f"Could not remove pipeline {pid}: {exc}", severity="error", markup=False
            )
            return
        row = board.rows.get(pid)
        name = clean(row.entry.display_name, keep_newlines=False) if row else str(pid)
        board.set_entries(r.entry for r in board.rows.values() if r.id != pid)
        self._session.set_entries(r.entry for r in board.rows.values())
        if found:
            self._host.notify(f"No longer monitoring {name} ({pid}).", markup=False)
        else:
            self._host.notify(
                f"{name} ({pid}) was not in the config file: hidden until restart.",
                severity="warning",
                markup=False,
            )
        self._redraw(None)


__all__ = ["ADD_TIMEOUT", "PipelineEdits"]
