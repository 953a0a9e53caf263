"""The dashboard: banner, pipelines table, filter bar, status line and footer.

It owns the `Board` (what we know) and turns key presses into poller calls; the rest is
delegated: `TableSync` (ui/view/table_sync.py) keeps the table in step with the board,
`StatusBar` and `Banner` (ui/widgets/) show the API's health, `PipelineEdits`
(pipeline_edits.py) adds and removes pipelines, `PipelineRuns` (pipeline_runs.py)
runs them. Poller events arrive from the app through `apply` (alerts are the app's: they
are decided in the core); what the app must do (the duplicate form) is asked of it with a
message (`DuplicateRequested`): the screen never imports the app.
"""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from kondado_tui.core.actions import DoubtLog
from kondado_tui.core.clock import Clock
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.events import (
    AlertNotice,
    AlertOutcome,
    Connection,
    Health,
    HealthChanged,
    PipelineFailed,
    SessionEvent,
    StatusObserved,
)
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.core.models import Observation, app_url
from kondado_tui.ui.backend import SessionLike
from kondado_tui.ui.screens.detail import DetailScreen
from kondado_tui.ui.screens.pipeline_edits import PipelineEdits
from kondado_tui.ui.screens.pipeline_runs import PipelineRuns
from kondado_tui.ui.view.board import Board, Row, SortMode
from kondado_tui.ui.view.health_text import banner_text, health_line
from kondado_tui.ui.view.palette import Palette
from kondado_tui.ui.view.table_sync import Flushed, TableSync
from kondado_tui.ui.widgets.banner import Banner
from kondado_tui.ui.widgets.pipeline_table import PipelineTable
from kondado_tui.ui.widgets.status_bar import StatusBar

WRITE_ACTIONS = frozenset({"run", "duplicate"})  # what --read-only disables
READ_ONLY_WHAT = {"run": "running pipelines", "duplicate": "duplicating pipelines"}
READ_ONLY_WHY = "read-only: {what} is disabled (started with --read-only or [ui] read_only = true)"


def _headline(health: Health) -> Health:
    """What of the API's health must show at once: all but the gauge, and the first
    sweep's progress ("asking 41/1000…", one more at each answer) once an answer came
    (before it, the banner counts the rows from history)."""
    return dataclasses.replace(
        health,
        used_last_minute=0,
        next_poll_at=None,
        last_success_at=None,
        from_history=health.from_history if health.last_success_at is None else 0,
    )


class MainScreen(Screen[None]):
    class DuplicateRequested(Message):
        """`d` on a row: the app opens the duplicate form (it keeps the unsent drafts)."""

        def __init__(self, base: PipelineEntry) -> None:
            super().__init__()
            self.base = base

    CSS_PATH = "main.tcss"
    # The footer shows these in this order after the table's "⏎ details" and cuts what
    # does not fit: the most needed come first, so run, help and quit survive 80 columns.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "run", id="run"),
        Binding("question_mark", "app.help", "help", id="help"),
        Binding("q", "app.quit", "quit", id="quit"),
        Binding("space", "mark", "mark", id="mark"),
        # priority: handled as the key arrives, so what is typed next goes to the filter
        Binding("slash", "filter", "filter", priority=True, id="filter"),
        Binding("s", "sort", "sort", id="sort"),
        Binding("f", "ask_now", "ask now", id="ask_now"),
        Binding("d", "duplicate", "duplicate", id="duplicate"),
        Binding("p", "pause", "pause", id="pause"),
        Binding("c", "copy_url", "copy URL", id="copy_url"),
        Binding("a", "add", "add", show=False, id="add"),
        Binding("x", "remove", "remove", show=False, id="remove"),
        Binding("u", "all_seen", "clear changed marks", show=False, id="clear_changed"),
        Binding("escape", "clear_filter", "clear filter", show=False, id="clear_filter"),
    ]

    def __init__(
        self,
        session: SessionLike,
        clock: Clock,
        *,
        read_only: bool,
        doubts: DoubtLog | None = None,
    ) -> None:
        """`doubts`: runs sent whose outcome is unknown (the app's; shared with the CLI)."""
        super().__init__()
        self.session = session
        self.clock = clock
        self.read_only = read_only
        self.board = Board.of(session.config.pipelines, started_at=clock.now())
        self.palette = Palette.from_variables({})
        self._focused: int | None = None  # the row last reported to the poller
        self.sync = TableSync(
            self.board,
            with_last_run=session.store is not None,
            palette=self.palette,
            batch=self._batch_update,
        )
        self.edits = PipelineEdits(
            self, session, self.board, self._redraw_after_edit, self._config_note
        )
        self._table: PipelineTable | None = None
        self._flush_pending = False
        self.flushes = 0  # redraws done (tests hold bursts to a few)
        self.runs = PipelineRuns(
            self,
            session,
            self.board,
            clock,
            progress=self.refresh_lines,
            redraw=self.refresh_all,
            doubts=doubts if doubts is not None else DoubtLog(None, clock=clock),
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only: run and duplicate are shown disabled in the footer (None). While
        the filter is being typed in, `/` is a character of it (`grp/x`), not the key
        that opens it (False: the key goes on to the input)."""
        if self.read_only and action in WRITE_ACTIONS:
            return None
        typing = isinstance(self.focused, Input) and self.focused.id == "filter"
        return not (action == "filter" and typing)

    def on_key(self, event: events.Key) -> None:
        """A disabled key still says why it does nothing."""
        active = self.active_bindings.get(event.key) if self.read_only else None
        what = READ_ONLY_WHAT.get(active.binding.action) if active is not None else None
        if what is not None:
            event.stop()
            self.notify(READ_ONLY_WHY.format(what=what), severity="warning", markup=False)

    @property
    def table(self) -> PipelineTable:
        # looked up once: the table lives as long as the screen, and a DOM query per
        # row per tick showed in the profile
        if self._table is None:
            self._table = self.query_one(PipelineTable)
        return self._table

    @property
    def sort_mode(self) -> SortMode:
        return self.sync.sort_mode

    @property
    def filter_text(self) -> str:
        return self.sync.filter_text

    def _batch_update(self) -> AbstractContextManager[object]:
        return self.app.batch_update()

    # -- composition and refresh -------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Banner()
        yield Static(id="config-note", markup=False)
        yield PipelineTable(id="pipelines")
        yield Static(id="empty", markup=False)
        filter_input = Input(placeholder="filter: name, id, status or group", id="filter")
        filter_input.cursor_blink = False
        yield filter_input
        yield StatusBar()
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.set_palette(Palette.from_variables(self.app.get_css_variables()), redraw=False)
        self.board.health = self.session.poller.health
        self.refresh_all()
        self.table.focus()

    def set_palette(self, palette: Palette, *, redraw: bool = True) -> None:
        self.palette = self.sync.palette = palette
        if redraw:
            self.refresh_all()

    def remember(self, found: dict[int, tuple[Observation, float]]) -> None:
        for pid, (observation, since) in found.items():
            self.board.remember(pid, observation, since)
        self.refresh_all()

    def selected_id(self) -> int | None:
        key = self.table.selected_key if self.is_mounted else None
        return int(key) if key is not None else None

    def selected_row(self) -> Row | None:
        """The pipeline a key acts on (details, run, duplicate, ...). Acting on it pins
        the cursor to it: until then an untouched cursor rides the top row, and coming
        back from its details to find another pipeline under the cursor would surprise."""
        pid = self.selected_id()
        if pid is not None:
            self.table.touched = True
        return self.board.rows.get(pid) if pid is not None else None

    def refresh_all(self) -> None:
        """Re-render every row (sort, filter, theme, layout changed), on the next turn."""
        self.sync.refresh_all()
        self._schedule()

    def refresh_row(self, pipeline_id: int) -> None:
        self.sync.refresh_row(pipeline_id)
        self._schedule()

    def select_when_shown(self, pipeline_id: int) -> None:
        """Put the cursor on a row that the next redraw adds."""
        self.sync.select_when_shown(pipeline_id)
        self._schedule()

    def _redraw_after_edit(self, pipeline_id: int | None) -> None:
        if pipeline_id is None:
            self.refresh_all()
        else:
            self.select_when_shown(pipeline_id)

    def _config_note(self, text: str | None) -> None:
        """While the config file does not load: what is wrong, over the table."""
        note = self.query_one("#config-note", Static)
        note.update(Text(text or ""))
        note.set_class(text is not None, "shown")

    def _schedule(self) -> None:
        # Events arrive in bursts (history at start-up, a batch of answers): one redraw
        # after the burst, not one per event.
        if not self._flush_pending and self.is_mounted:
            self._flush_pending = True
            self.call_later(self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        self.flushes += 1
        if not self.is_mounted or not self.app.is_running:  # shutting down: widgets go
            return
        width = self.table.size.width or self.app.size.width
        flushed = self.sync.flush(self.table, width, self.clock.now())
        if flushed is Flushed.REDRAWN:
            self._explain_emptiness(bool(self.table.row_count))
            self._report_focus()  # a re-sort brings another row under a cursor left alone
        if flushed is not Flushed.NOTHING:  # else the ages and the gauge wait for the step
            self.refresh_lines()

    def _explain_emptiness(self, rows_shown: bool) -> None:
        empty = self.query_one("#empty", Static)
        # the explanation takes the table's place (below an empty table it sat at the
        # bottom); the table keeps its header and the focus, so every key still works
        self.table.set_class(not rows_shown, "-empty")
        if rows_shown:
            empty.remove_class("shown")
            return
        if self.board.rows:
            text = (
                f"No pipeline matches “{clean(self.filter_text, keep_newlines=False)}” "
                "(name, id, status or group). Press esc to clear the filter."
            )
        else:
            text = (
                "No pipelines are monitored yet.\n\n"
                "Press a to add one by its id or its app URL "
                "(https://app.kondado.com.br/pipelines/<id>), or list them in "
                f"{self.session.config.path}:\n\n"
                '    [[pipelines]]\n    id = 2040\n    name = "Orders to warehouse"'
            )
        empty.update(Text(clean(text)))  # the config's path is in it
        empty.add_class("shown")

    def refresh_lines(self, *, counts: bool = True) -> None:
        """The banner and the status line. `counts=False`: the per-severity counts are
        known unchanged (the tick: they change only with an event or a redraw)."""
        now = self.clock.now()
        health = self.board.health
        self.query_one(Banner).show(
            banner_text(health, now, str(self.session.config.path)),
            rate_limited=health.connection is Connection.RATE_LIMITED,
        )
        line = health_line(
            health,
            now,
            self.palette,
            read_only=self.read_only,
            filter_text=self.filter_text,
            shown=self.table.row_count,
            total=len(self.board.rows),
            first_pass=self.board.first_pass(),
            alerts_failing=self.board.alerts_failing,
        )
        if self.runs.batch is not None:
            done, total = self.runs.batch
            line = Text.assemble((f"runs {done}/{total}  ", self.palette.warning), line)
        self.query_one(StatusBar).show(line, self.board.counts, self.palette, recount=counts)

    def tick(self) -> None:
        """At each 10-second step of the clock (the app's timer): the ages, staleness and
        status-line gauge of the rows on screen, all in one repaint (`columns.shown_at`);
        only changed cells are touched. Within a step nothing it draws can change (all
        of it is drawn as of the step's end), so a second call does nothing. A row off
        screen is brought up to date when it comes into view (`PipelineTable.ViewMoved`,
        or a redraw that moves rows): at 1000 pipelines, walking every row each second
        was most of the idle CPU."""
        now = self.clock.now()
        if not self.is_mounted or not self.sync.new_step(now):
            return
        with self.app.batch_update():
            self.sync.bring_up_to_date(self.table, now)
            self.refresh_lines(counts=False)
        self.edits.check_config()  # a stat of the file; read only if it changed

    @on(PipelineTable.ViewMoved)
    def _view_moved(self) -> None:
        if self.is_mounted and self.sync.layout is not None:
            with self.app.batch_update():
                self.sync.bring_up_to_date(self.table, self.clock.now())

    def on_resize(self) -> None:
        self.refresh_all()

    # -- poller events ------------------------------------------------------------------

    def apply(self, event: SessionEvent) -> None:
        if isinstance(event, StatusObserved | PipelineFailed):
            if isinstance(event, StatusObserved):
                self.board.observe(event, self.selected_id())
            else:
                self.board.failed(event)
            self.edits.resolve(event)
            self._refresh_detail(event.pipeline_id)
            self.refresh_row(event.pipeline_id)
        elif isinstance(event, HealthChanged):
            before = self.board.health
            self.board.health = event.health
            if event.health.max_age != before.max_age:
                self.refresh_all()
            elif _headline(event.health) != _headline(before):
                self.refresh_lines(counts=False)  # health never changes a row's severity
            # else only the gauge moved (requests this minute, the next call): it is
            # shown with the ages, at the next 10-second step
        elif isinstance(event, AlertNotice) and event.outcome is not AlertOutcome.HELD:
            failing = event.outcome is AlertOutcome.FAILED
            if failing != self.board.alerts_failing:
                self.board.alerts_failing = failing
                self.refresh_lines(counts=False)

    def _refresh_detail(self, pid: int) -> None:
        screen = self.app.screen
        row = self.board.rows.get(pid)
        if isinstance(screen, DetailScreen) and screen.pipeline_id == pid and row is not None:
            screen.update_row(row)

    # -- the cursor ------------------------------------------------------------------

    @on(PipelineTable.RowHighlighted)
    def _highlighted(self, event: PipelineTable.RowHighlighted) -> None:
        pid = int(event.key)
        self._report_focus()
        if self.board.seen(pid):
            self.refresh_row(pid)

    @on(PipelineTable.RowSelected)
    def _selected(self, event: PipelineTable.RowSelected) -> None:
        self.action_details()

    def _report_focus(self, *, again: bool = False) -> None:
        """Tell the poller which row is under the cursor, when it changed (`again`: even
        if not). Only while the table is on top: under a detail screen the cursor may
        move (its row left the list) and the detail's pin must stay; `is_current` would
        not do, it is true just below the top."""
        pid = self.selected_id()
        if self.app.screen is self and (again or pid != self._focused):
            self._focused = pid
            self.session.poller.focus(pid)

    def on_screen_resume(self) -> None:
        """Back on the table (a detail screen or a dialog closed): the cursor's row is the
        selected one again, no longer pinned."""
        if self.is_mounted:
            self._report_focus(again=True)

    def action_details(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        # the poller keeps an open detail screen's row fresh without any key (until resume)
        self.session.poller.focus(row.id, pinned=True)
        self.app.push_screen(
            DetailScreen(
                row, clock=self.clock, store=self.session.store, palette=self.palette, commands=self
            )
        )

    # -- keys -------------------------------------------------------------------------

    def _nothing_selected(self) -> None:
        self.notify("No pipeline selected.", severity="warning", markup=False)

    def action_mark(self) -> None:
        row = self.selected_row()
        if row is None:
            return self._nothing_selected()
        row.marked = not row.marked
        self.refresh_row(row.id)
        self.table.action_cursor_down()

    def action_all_seen(self) -> None:
        self.board.all_seen()
        self.refresh_all()

    def action_sort(self) -> None:
        self.sync.sort_mode = self.sort_mode.next()
        self.refresh_all()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        self.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.sync.filter_text = event.value.strip()
        self.refresh_all()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not box.value.strip():
            box.remove_class("shown")
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if not self.filter_text and not box.has_class("shown"):
            return
        box.value = ""
        box.remove_class("shown")
        self.sync.filter_text = ""
        self.table.focus()
        self.refresh_all()

    def action_ask_now(self, pipeline_id: int | None = None) -> None:
        row = self.board.rows.get(pipeline_id) if pipeline_id else self.selected_row()
        if row is None:
            return self._nothing_selected()
        self.session.poller.request_now(row.id)
        name = clean(row.entry.display_name, keep_newlines=False)
        if not self.runs.say_if_held_back(f"The question about {name}", row.id):
            self.notify(f"Asking Kondado about {name} now.", markup=False, timeout=3)

    def action_pause(self) -> None:
        poller = self.session.poller
        if poller.health.paused:
            poller.resume()
            self.notify("Polling resumed.", markup=False, timeout=3)
        else:
            poller.pause()
            self.notify(
                "Polling paused: statuses will age until you press p again.",
                markup=False,
                timeout=5,
            )
        self.board.health = poller.health
        self.refresh_lines()

    def action_copy_url(self, pipeline_id: int | None = None) -> None:
        row = self.board.rows.get(pipeline_id) if pipeline_id else self.selected_row()
        if row is None:
            return self._nothing_selected()
        url = app_url(row.id)
        self.app.copy_to_clipboard(url)
        self.notify(f"Copied to the clipboard (OSC 52): {url}", markup=False, timeout=10)

    # -- run ----------------------------------------------------------------------------

    def action_run(self, pipeline_id: int | None = None) -> None:
        if self.read_only:
            self.notify(
                READ_ONLY_WHY.format(what=READ_ONLY_WHAT["run"]), severity="warning", markup=False
            )
            return
        if pipeline_id is not None:
            rows = [self.board.rows[pipeline_id]] if pipeline_id in self.board.rows else []
        else:
            rows = self.board.marked() or ([r] if (r := self.selected_row()) else [])
        if not rows:
            return self._nothing_selected()
        shown = {int(key) for key in self.table.shown_keys}
        hidden = [row for row in rows if row.id not in shown]  # marked, then filtered away
        self.runs.confirm(rows, self.palette, hidden=hidden, filter_text=self.filter_text)

    # -- duplicate ---------------------------------------------------------------------

    def action_duplicate(self) -> None:
        if self.read_only:
            self.notify(
                READ_ONLY_WHY.format(what=READ_ONLY_WHAT["duplicate"]),
                severity="warning",
                markup=False,
            )
            return
        row = self.selected_row()
        if row is None:
            return self._nothing_selected()
        self.post_message(self.DuplicateRequested(row.entry))

    def adopt(self, entry: PipelineEntry) -> None:
        """A pipeline made here (duplicate): show it now and keep it in the config."""
        self.edits.adopt(entry)

    # -- add and remove -------------------------------------------------------------------

    def action_add(self) -> None:
        self.edits.add()

    def action_remove(self) -> None:
        row = self.selected_row()
        if row is None:
            return self._nothing_selected()
        self.edits.remove(row)

    # -- what other screens call --------------------------------------------------------

    @property
    def health(self) -> Health:
        return self.board.health

    def run_one(self, pipeline_id: int) -> None:
        self.action_run(pipeline_id)

    def ask_now(self, pipeline_id: int) -> None:
        self.action_ask_now(pipeline_id)

    def copy_url(self, pipeline_id: int) -> None:
        self.action_copy_url(pipeline_id)
