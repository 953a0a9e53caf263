"""The dashboard: banner, pipelines table, filter bar, status line and footer.

It owns the `Board` (what we know) and turns key presses into poller calls. Poller
events arrive from the app through `apply`; the table is patched, never rebuilt.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from kondado_tui.core.clock import Clock
from kondado_tui.core.config import PipelineEntry, append_pipeline, remove_pipeline
from kondado_tui.core.errors import ConfigError, KondadoError
from kondado_tui.core.events import (
    Connection,
    Health,
    HealthChanged,
    PipelineFailed,
    PollerEvent,
    StatusObserved,
)
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.models import Observation, Severity, StatusKind, app_url
from kondado_tui.ui.backend import SessionLike
from kondado_tui.ui.screens.add import AddResult, AddScreen
from kondado_tui.ui.screens.confirm import ConfirmScreen
from kondado_tui.ui.screens.detail import DetailScreen
from kondado_tui.ui.view.board import Alert, Board, Row, SortMode, sort_key
from kondado_tui.ui.view.columns import (
    AGE,
    ID,
    NAME,
    SHOWABLE_KINDS,
    SINCE,
    STATUS,
    Layout,
    age_step,
    compute_layout,
    render_cells,
    shown_at,
    ticking_words,
)
from kondado_tui.ui.view.health_text import banner_text, counts_text, health_line
from kondado_tui.ui.view.palette import Palette
from kondado_tui.ui.widgets.pipeline_table import PipelineTable, changed_columns

if TYPE_CHECKING:
    from kondado_tui.ui.app import KondadoApp

SORT_COLUMN = {SortMode.SEVERITY: STATUS, SortMode.NAME: NAME, SortMode.ID: ID, SortMode.AGE: AGE}
ADD_TIMEOUT = 90.0  # the status call waits its turn in the rate budget
WRITE_ACTIONS = frozenset({"run", "duplicate"})  # what --read-only disables
READ_ONLY_KEYS = {"r": "running pipelines", "d": "duplicating pipelines"}
READ_ONLY_WHY = "read-only: {what} is disabled (started with --read-only or [ui] read_only = true)"


def _only_ticking(table: PipelineTable, key: str, cells: dict[str, Text]) -> bool:
    """Whether the row shown under `key` differs from `cells` in its since/age only."""
    shown = table.cells(key)
    return shown is not None and set(changed_columns(shown, cells)) <= {SINCE, AGE}


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


def _resized(before: Text | None, after: Text) -> bool:
    """Whether a status-line part needs a layout pass: only when its width changes (a
    layout pass per update showed in the idle profile; "asking 41/1000…" changes with
    every answer but keeps its width)."""
    return before is None or before.cell_len != after.cell_len


class MainScreen(Screen[None]):
    CSS_PATH = "main.tcss"
    # The footer shows these in this order after the table's "⏎ details" and cuts what
    # does not fit: the most needed come first, so run, help and quit survive 80 columns.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "run"),
        Binding("question_mark", "app.help", "help"),
        Binding("q", "app.quit", "quit"),
        Binding("space", "mark", "mark"),
        # priority: handled as the key arrives, so what is typed next goes to the filter
        Binding("slash", "filter", "filter", priority=True),
        Binding("s", "sort", "sort"),
        Binding("f", "ask_now", "ask now"),
        Binding("d", "duplicate", "duplicate"),
        Binding("p", "pause", "pause"),
        Binding("c", "copy_url", "copy URL"),
        Binding("a", "add", "add", show=False),
        Binding("x", "remove", "remove", show=False),
        Binding("u", "all_seen", "clear changed marks", show=False),
        Binding("escape", "clear_filter", "clear filter", show=False),
    ]

    def __init__(self, session: SessionLike, clock: Clock, *, read_only: bool) -> None:
        super().__init__()
        self.session = session
        self.clock = clock
        self.read_only = read_only
        self.board = Board.of(session.config.pipelines, started_at=clock.now())
        self.sort_mode = SortMode.SEVERITY
        self.filter_text = ""
        self.palette = Palette.from_variables({})
        self._layout: Layout | None = None
        self._table: PipelineTable | None = None
        self._stale: dict[int, bool] = {}
        # every status shown this session: the status column never shrinks, so a row
        # going back and forth between two statuses cannot flip the layout
        self._kinds_seen: set[StatusKind] = set()
        self._dirty: set[int] = set()
        self._full = True
        # what the last full redraw sorted and filtered by, per row, and for which
        # width: an answer that leaves these alone patches its row and nothing else
        self._placed: dict[int, tuple[bool, tuple[int, str, int] | None]] = {}
        self._placed_width = 0
        self._flush_pending = False
        self.flushes = 0  # redraws done (tests hold bursts to a few)
        self._select_after: str | None = None
        self._waiting: dict[int, asyncio.Future[PollerEvent]] = {}
        self._batch: tuple[int, int] | None = None  # done, total of a batch run
        self._last_status: Text | None = None
        self._last_counts: Text | None = None
        self._last_banner: Text | None = None
        self._age_step = 0  # the 10-second step the ages on screen were drawn for
        self.alert_sink: Callable[[Alert], None] = lambda alert: None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only: run and duplicate are shown disabled in the footer (None)."""
        if self.read_only and action in WRITE_ACTIONS:
            return None
        return True

    def on_key(self, event: events.Key) -> None:
        """A disabled key still says why it does nothing."""
        what = READ_ONLY_KEYS.get(event.key) if self.read_only else None
        if what is not None:
            event.stop()
            self.notify(READ_ONLY_WHY.format(what=what), severity="warning", markup=False)

    @property
    def kapp(self) -> KondadoApp:
        from kondado_tui.ui.app import KondadoApp

        assert isinstance(self.app, KondadoApp)
        return self.app

    @property
    def table(self) -> PipelineTable:
        # looked up once: the table lives as long as the screen, and a DOM query per
        # row per tick showed in the profile
        if self._table is None:
            self._table = self.query_one(PipelineTable)
        return self._table

    # -- composition and refresh -------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="banner", markup=False)
        yield PipelineTable(id="pipelines")
        yield Static(id="empty", markup=False)
        filter_input = Input(placeholder="filter: name, id, status or group", id="filter")
        filter_input.cursor_blink = False
        yield filter_input
        with Horizontal(id="statusbar"):
            yield Static(id="counts", markup=False)
            yield Static(id="health", markup=False)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.palette = Palette.from_variables(self.app.get_css_variables())
        self.board.health = self.session.poller.health
        self.refresh_all()
        self.table.focus()

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.refresh_all()

    def remember(self, found: dict[int, tuple[Observation, float]]) -> None:
        for pid, (observation, since) in found.items():
            self.board.remember(pid, observation, since)
        self.refresh_all()

    def selected_id(self) -> int | None:
        key = self.table.selected_key if self.is_mounted else None
        return int(key) if key is not None else None

    def selected_row(self) -> Row | None:
        pid = self.selected_id()
        return self.board.rows.get(pid) if pid is not None else None

    def refresh_all(self) -> None:
        """Re-render every row (sort, filter, theme, layout changed), on the next turn."""
        self._full = True
        self._schedule()

    def refresh_row(self, pipeline_id: int) -> None:
        self._dirty.add(pipeline_id)
        self._schedule()

    def select_when_shown(self, pipeline_id: int) -> None:
        """Put the cursor on a row that the next redraw adds."""
        self._select_after = str(pipeline_id)
        self.refresh_all()

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
        now = self.clock.now()
        width = self.table.size.width or self.app.size.width
        patched = None if self._full else self._patch_in_place(width, now)
        if patched is not None:
            self._dirty.clear()
            if patched:  # else only ages moved: they and the gauge wait for the step
                self.refresh_lines()
            return
        rows = self.board.ordered(self.sort_mode, self.filter_text, now)
        shown_rows = list(self.board.rows.values())
        self._kinds_seen.update(row.kind for row in shown_rows)
        layout = compute_layout(
            width,
            shown_rows,
            with_last_run=self.session.store is not None,
            seen=self._kinds_seen,
        )
        self._layout = layout
        order = [str(row.id) for row in rows]
        wanted = self.table.missing(layout, order)
        if not self._full:
            wanted |= {str(pid) for pid in self._dirty}
        cells: dict[str, dict[str, Text]] = {}
        for row in rows:
            key = str(row.id)
            if self._full or key in wanted:
                stale = self._is_stale(row, now)
                self._stale[row.id] = stale
                cells[key] = render_cells(row, layout, self.palette, now, stale)
        self._full = False
        self._dirty.clear()
        self._placed = {pid: self._place(row) for pid, row in self.board.rows.items()}
        self._placed_width = width
        with self.app.batch_update():
            self.table.show(layout, order, cells, SORT_COLUMN[self.sort_mode])
            self._bring_up_to_date(self.table)  # rows that moved into view
            self._explain_emptiness(bool(order))
            if self._select_after is not None:
                self.table.select_key(self._select_after)
                self._select_after = None
        self.refresh_lines()

    def _is_stale(self, row: Row, now: float) -> bool:
        """Stale as of the end of the 10-second step, like the ages shown beside it: a
        row is marked stale up to 10 s early rather than a moment late."""
        return self.board.is_stale(row, shown_at(now))

    def _place(self, row: Row) -> tuple[bool, tuple[int, str, int] | None]:
        return row.matches(self.filter_text), sort_key(row, self.sort_mode)

    def _patch_in_place(self, width: int, now: float) -> bool | None:
        """Redraw only the dirty rows when none of them moves, appears, disappears or
        widens a column: O(dirty rows), not a sort and a re-measure of every row.
        None when a full redraw is needed; else whether any row was redrawn."""
        layout = self._layout
        if (
            layout is None
            or layout != self.table.table_layout
            or width != self._placed_width
            or self.sort_mode is SortMode.AGE
            or self._select_after is not None
        ):
            return None
        rows = [self.board.rows.get(pid) for pid in self._dirty]
        for row in rows:
            if row is None or self._placed.get(row.id) != self._place(row):
                return None
            if row.kind not in SHOWABLE_KINDS and row.kind not in self._kinds_seen:
                return None  # a new undocumented status may widen the status column
        patched = False
        with self.app.batch_update():
            for row in rows:
                key = str(row.id) if row is not None else ""
                if row is None or self.table.cells(key) is None:
                    continue  # filtered out, and still filtered out
                stale = self._is_stale(row, now)
                cells = render_cells(row, layout, self.palette, now, stale)
                if stale == self._stale.get(row.id) and _only_ticking(self.table, key, cells):
                    continue  # an answer that changed nothing: its age moves at the step
                self._stale[row.id] = stale
                self.table.patch(key, cells)
                patched = True
        return patched

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
        empty.update(Text(text))
        empty.add_class("shown")

    def refresh_lines(self, *, counts: bool = True) -> None:
        """The banner and the status line. `counts=False`: the per-severity counts are
        known unchanged (the tick: they change only with an event or a redraw)."""
        now = self.clock.now()
        health = self.board.health
        banner = self.query_one("#banner", Static)
        text = banner_text(health, now, str(self.session.config.path))
        if text != self._last_banner:
            self._last_banner = text
            banner.set_class(text is not None, "shown")
            banner.set_class(health.connection.name == "RATE_LIMITED", "rate")
            banner.update(text or "")
        line = health_line(
            health,
            now,
            self.palette,
            read_only=self.read_only,
            filter_text=self.filter_text,
            shown=self.table.row_count,
            total=len(self.board.rows),
            first_pass=self.board.first_pass(),
        )
        if self._batch is not None:
            done, total = self._batch
            line = Text.assemble((f"runs {done}/{total}  ", self.palette.warning), line)
        resized = _resized(self._last_status, line)
        if line != self._last_status:
            self.query_one("#health", Static).update(line, layout=resized)
            self._last_status = line
        if not counts and not resized:  # the counts' room changes with the line's width
            return
        # the counts get the width the status line on the right leaves (1 cell padding
        # each side, a gap of 2)
        room = self.size.width - (self._last_status or Text()).cell_len - 4
        counted = counts_text(self.board.counts(), self.palette, width=room)
        if counted != self._last_counts:
            self.query_one("#counts", Static).update(
                counted, layout=_resized(self._last_counts, counted)
            )
            self._last_counts = counted

    def tick(self) -> None:
        """At each 10-second step of the clock (the app's timer): the ages, staleness and
        status-line gauge of the rows on screen, all in one repaint (`columns.shown_at`);
        only changed cells are touched. Within a step nothing it draws can change (all
        of it is drawn as of the step's end), so a second call does nothing. A row off
        screen is brought up to date when it comes into view (`PipelineTable.ViewMoved`,
        or a redraw that moves rows): at 1000 pipelines, walking every row each second
        was most of the idle CPU."""
        step = age_step(self.clock.now())
        if not self.is_mounted or step == self._age_step:
            return
        self._age_step = step
        with self.app.batch_update():
            if self._layout is not None:
                self._bring_up_to_date(self.table)
            self.refresh_lines(counts=False)

    @on(PipelineTable.ViewMoved)
    def _view_moved(self) -> None:
        if self.is_mounted and self._layout is not None:
            with self.app.batch_update():
                self._bring_up_to_date(self.table)

    def _bring_up_to_date(self, table: PipelineTable) -> None:
        """The stale style, since and age of the rows on screen."""
        layout = self._layout
        if layout is None:
            return
        now = self.clock.now()
        ticking = {k for k in (SINCE, AGE) if k in layout.keys}
        for key in table.visible_keys():
            row = self.board.rows.get(int(key))
            if row is None:
                continue
            stale = self._is_stale(row, now)
            if stale != self._stale.get(row.id):
                self._stale[row.id] = stale  # the whole row changes style
                table.patch(key, render_cells(row, layout, self.palette, now, stale))
            elif row.observation is not None:
                shown = table.cells(key)
                words = ticking_words(row, now, stale)
                if shown is not None and all(
                    shown[column].plain == words[column] for column in ticking
                ):
                    continue  # nothing to render, nothing to repaint
                table.patch(key, render_cells(row, layout, self.palette, now, stale, only=ticking))

    def on_resize(self) -> None:
        self.refresh_all()

    # -- poller events ------------------------------------------------------------------

    def apply(self, event: PollerEvent) -> None:
        if isinstance(event, StatusObserved):
            alert = self.board.observe(event, self.selected_id())
            if alert is not None:
                self.alert_sink(alert)
            self._resolve(event.pipeline_id, event)
            self._refresh_detail(event.pipeline_id)
            self.refresh_row(event.pipeline_id)
        elif isinstance(event, PipelineFailed):
            alert = self.board.failed(event)
            if alert is not None:
                self.alert_sink(alert)
            self._resolve(event.pipeline_id, event)
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

    def _resolve(self, pid: int, event: PollerEvent) -> None:
        waiter = self._waiting.pop(pid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(event)

    def _refresh_detail(self, pid: int) -> None:
        screen = self.app.screen
        row = self.board.rows.get(pid)
        if isinstance(screen, DetailScreen) and screen.pipeline_id == pid and row is not None:
            screen.update_row(row)

    # -- the cursor ------------------------------------------------------------------

    @on(PipelineTable.RowHighlighted)
    def _highlighted(self, event: PipelineTable.RowHighlighted) -> None:
        pid = int(event.key)
        self.session.poller.focus(pid)
        if self.board.seen(pid):
            self.refresh_row(pid)

    @on(PipelineTable.RowSelected)
    def _selected(self, event: PipelineTable.RowSelected) -> None:
        self.action_details()

    def action_details(self) -> None:
        row = self.selected_row()
        if row is None:
            return
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
        self.sort_mode = self.sort_mode.next()
        self.refresh_all()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("shown")
        self.set_focus(box)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
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
        self.filter_text = ""
        self.table.focus()
        self.refresh_all()

    def action_ask_now(self, pipeline_id: int | None = None) -> None:
        row = self.board.rows.get(pipeline_id) if pipeline_id else self.selected_row()
        if row is None:
            return self._nothing_selected()
        self.session.poller.request_now(row.id)
        name = clean(row.entry.display_name, keep_newlines=False)
        if not self._say_if_held_back(f"The question about {name}", row.id):
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
                READ_ONLY_WHY.format(what=READ_ONLY_KEYS["r"]), severity="warning", markup=False
            )
            return
        if pipeline_id is not None:
            rows = [self.board.rows[pipeline_id]] if pipeline_id in self.board.rows else []
        else:
            rows = self.board.marked() or ([r] if (r := self.selected_row()) else [])
        if not rows:
            return self._nothing_selected()
        ids = [row.id for row in rows]  # captured now: the cursor may move meanwhile
        body = Text()
        for row in rows:
            kind = row.kind
            body.append(f"{row.glyph} ", style=self.palette.severity[row.severity])
            body.append(f"{clean(row.entry.display_name, keep_newlines=False)}")
            body.append(f"  ({row.id}, {kind.label})\n", style=self.palette.muted)
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
                self._run_many(ids)

        self.app.push_screen(
            ConfirmScreen(title, body, warning=warning, yes="run"), callback=answered
        )

    @work(group="runs", exit_on_error=False)
    async def _run_many(self, ids: list[int]) -> None:
        total = len(ids)
        self._batch = (0, total) if total > 1 else None
        self.refresh_lines()
        failures = 0
        for done, pid in enumerate(ids, start=1):
            row = self.board.rows.get(pid)
            name = clean(row.entry.display_name if row else f"pipeline {pid}", keep_newlines=False)
            self._say_if_held_back(f"Run of {name}", pid)
            try:
                answer = await self.session.poller.run_pipeline(pid)
            except KondadoError as exc:
                failures += 1
                self.notify(
                    f"Run of {name} ({pid}) refused: {exc}",
                    severity="error",
                    markup=False,
                    timeout=15,
                )
            else:
                said = first_line(answer)
                self.notify(
                    f"Run of {name} ({pid}) requested" + (f": {said}" if said else "."),
                    markup=False,
                    timeout=8,
                )
                if row is not None:
                    row.marked = False
            if total > 1:
                self._batch = (done, total)
                self.refresh_lines()
        self._batch = None
        if total > 1:
            self.notify(
                f"Batch done: {total - failures} of {total} runs requested.",
                severity="warning" if failures else "information",
                markup=False,
            )
        self.refresh_all()

    def _say_if_held_back(self, what: str, pid: int) -> bool:
        """During a rate-limit lock-out a request waits silently for up to a minute: say
        so (True when said)."""
        health = self.session.poller.health
        if health.connection is not Connection.RATE_LIMITED or health.retry_at is None:
            return False
        wait = max(1, int(health.retry_at - self.clock.now() + 0.999))
        self.notify(
            f"{what} ({pid}) will be sent when the rate-limit lock-out ends (in {wait} s).",
            markup=False,
            timeout=min(wait, 60),
        )
        return True

    # -- duplicate ---------------------------------------------------------------------

    def action_duplicate(self) -> None:
        if self.read_only:
            self.notify(
                READ_ONLY_WHY.format(what=READ_ONLY_KEYS["d"]), severity="warning", markup=False
            )
            return
        row = self.selected_row()
        if row is None:
            return self._nothing_selected()
        self.kapp.open_duplicate(row.entry)

    # -- add and remove -------------------------------------------------------------------

    def action_add(self) -> None:
        self.app.push_screen(
            AddScreen(self._add_pipeline, set(self.board.rows)), callback=self._added
        )

    async def _add_pipeline(self, entry: PipelineEntry) -> str:
        """Ask once through the poller (inside the budget); save only a pipeline that exists."""
        poller = self.session.poller
        ids = [*self.board.rows, entry.id]
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[PollerEvent] = loop.create_future()
        self._waiting[entry.id] = waiter
        poller.set_pipelines(ids)
        poller.request_now(entry.id)
        try:
            event = await asyncio.wait_for(waiter, ADD_TIMEOUT)
        except TimeoutError:
            poller.set_pipelines(list(self.board.rows))
            raise KondadoError(
                f"no answer about pipeline {entry.id} within {ADD_TIMEOUT:.0f} s "
                "(see the banner); nothing was saved"
            ) from None
        finally:
            self._waiting.pop(entry.id, None)
        if isinstance(event, PipelineFailed):
            poller.set_pipelines(list(self.board.rows))
            raise KondadoError(f"pipeline {entry.id}: {event.message}; nothing was saved")
        assert isinstance(event, StatusObserved)
        try:
            await asyncio.to_thread(append_pipeline, self.session.config.path, entry)
        except ConfigError as exc:
            poller.set_pipelines(list(self.board.rows))
            raise KondadoError(f"could not save: {exc}") from None
        self.board.set_entries([*(r.entry for r in self.board.rows.values()), entry])
        self.board.remember(entry.id, event.observation, event.since, event.since_first_seen)
        kind = event.observation.status.kind
        return f"Now monitoring {entry.display_name} ({entry.id}): {kind.label}."

    def adopt(self, entry: PipelineEntry) -> None:
        """A pipeline made here (duplicate): show it now and keep it in the config."""
        if entry.id not in self.board.rows:
            self.board.set_entries([*(r.entry for r in self.board.rows.values()), entry])
            self.session.poller.set_pipelines(list(self.board.rows))
        self.select_when_shown(entry.id)
        self._save_adopted(entry)

    @work(group="config", exit_on_error=False)
    async def _save_adopted(self, entry: PipelineEntry) -> None:
        try:
            await asyncio.to_thread(append_pipeline, self.session.config.path, entry)
        except ConfigError as exc:
            self.notify(
                f"Pipeline {entry.id} is monitored for this session only: {exc}",
                severity="warning",
                markup=False,
            )
            return
        self.notify(
            f"Pipeline {entry.id} added to {self.session.config.path}.", markup=False, timeout=6
        )

    def _added(self, result: AddResult | None) -> None:
        if result is None:
            return
        self.notify(result.message, markup=False)
        self.select_when_shown(result.entry.id)

    def action_remove(self) -> None:
        row = self.selected_row()
        if row is None:
            return self._nothing_selected()
        pid = row.id
        body = Text(
            f"{clean(row.entry.display_name, keep_newlines=False)} ({pid}) will be "
            f"removed from {self.session.config.path}.\n"
            "Nothing changes in Kondado; you can add it again with a."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(pid)

        self.app.push_screen(
            ConfirmScreen("Stop monitoring this pipeline?", body, yes="remove"),
            callback=answered,
        )

    @work(group="config", exit_on_error=False)
    async def _remove(self, pid: int) -> None:
        try:
            found = await asyncio.to_thread(remove_pipeline, self.session.config.path, pid)
        except ConfigError as exc:
            self.notify(f"Could not remove pipeline {pid}: {exc}", severity="error", markup=False)
            return
        row = self.board.rows.get(pid)
        name = clean(row.entry.display_name, keep_newlines=False) if row else str(pid)
        self.board.set_entries(r.entry for r in self.board.rows.values() if r.id != pid)
        self.session.poller.set_pipelines(list(self.board.rows))
        if found:
            self.notify(f"No longer monitoring {name} ({pid}).", markup=False)
        else:
            self.notify(
                f"{name} ({pid}) was not in the config file: hidden until restart.",
                severity="warning",
                markup=False,
            )
        self.refresh_all()

    # -- what other screens call --------------------------------------------------------

    def run_one(self, pipeline_id: int) -> None:
        self.action_run(pipeline_id)

    def ask_now(self, pipeline_id: int) -> None:
        self.action_ask_now(pipeline_id)

    def copy_url(self, pipeline_id: int) -> None:
        self.action_copy_url(pipeline_id)
