"""Everything about one pipeline: every field, the whole raw_msg, times and history."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import ClassVar, Protocol

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from kondado_tui.core.clock import Clock
from kondado_tui.core.durations import format_age, format_duration
from kondado_tui.core.events import Health
from kondado_tui.core.guards.limits import split_cut
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.history.timeline import HistorySummary, RunSummary, Transition, stored_kind
from kondado_tui.core.models import app_url
from kondado_tui.ui.backend import StoreLike
from kondado_tui.ui.view.board import WARNING_GLYPH, Row
from kondado_tui.ui.view.columns import RUN_OUTCOME
from kondado_tui.ui.view.health_text import history_words
from kondado_tui.ui.view.palette import Palette

BARS = "▁▂▃▄▅▆▇█"
TIMELINE_ROWS = 15
RUN_ROWS = 10
CHART_RUNS = 30


def clock_time(at: float) -> str:
    """Local wall time with its zone, e.g. `2026-11-28 11:40:05 UTC`."""
    return datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def when(at: float | None, now: float) -> str:
    if at is None:
        return "never"
    return f"{clock_time(at)} ({format_age(now - at)} ago)"


def run_chart(runs: list[RunSummary], palette: Palette) -> Text:
    """One bar per finished run, oldest left, height by duration, colour by outcome."""
    finished = [r for r in reversed(runs) if r.duration is not None][-CHART_RUNS:]
    if not finished:
        return Text("no finished runs recorded yet", style=palette.muted)
    longest = max(r.duration or 0.0 for r in finished) or 1.0
    text = Text()
    for run in finished:
        level = round((run.duration or 0.0) / longest * (len(BARS) - 1))
        glyph_severity = RUN_OUTCOME[run.outcome][1]
        text.append(BARS[level], style=palette.severity[glyph_severity])
    runs_word = "run" if len(finished) == 1 else "runs"
    text.append(
        f"  longest {format_duration(longest)}, {len(finished)} {runs_word}", style=palette.muted
    )
    return text


def runs_table(runs: list[RunSummary], now: float, palette: Palette) -> RenderableType:
    """The newest runs: when, how long (≥ when it began before we saw it), how it ended."""
    if not runs:
        return Text("Runs: none recorded yet", style=palette.muted)
    table = Table.grid(padding=(0, 2))
    for _ in range(4):
        table.add_column(no_wrap=True)
    table.add_column(overflow="ellipsis", no_wrap=True)
    for run in runs[:RUN_ROWS]:  # newest first
        glyph, severity = RUN_OUTCOME[run.outcome]
        took = run.duration if run.duration is not None else run.elapsed(now)
        prefix = "" if run.start_seen else "≥"
        doubt = f" ±{format_duration(run.uncertainty / 2)}" if run.uncertainty >= 2 else ""
        table.add_row(
            Text(clock_time(run.started_at)),
            Text(f"{glyph} {run.outcome.value}", style=palette.severity[severity]),
            Text(f"{prefix}{format_duration(took)}{doubt}"),
            Text("" if run.finished else "so far", style=palette.muted),
            Text(first_line(run.raw_msg), style=palette.muted),
        )
    return Group(Text("Runs (newest first)", style="bold underline"), table)


def fields_table(row: Row, now: float, palette: Palette) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    obs = row.observation
    kind = row.kind
    grid.add_row(
        "status", Text.assemble((f"{row.glyph} {kind.label}", palette.severity[row.severity]))
    )
    if row.refusal is None:
        grid.add_row(
            "API value", Text(f"{clean(kind.value, keep_newlines=False)} ({kind.meaning})")
        )
    grid.add_row("severity", Text(row.severity.label))
    grid.add_row("id", Text(str(row.id)))
    grid.add_row("name", Text(clean(row.entry.display_name)))
    grid.add_row("group", Text(clean(row.entry.group or "—")))
    grid.add_row("app URL", Text(app_url(row.id)))
    failure = row.failure
    if failure is not None:
        # said first: it is why the status below is missing or may be out of date
        title = "asking failed" if row.refusal is not None else "last ask failed"
        why = f"{kind.meaning}.\n" if row.refusal is not None else ""
        grid.add_row(
            title,
            Text(f"{why}{clean(failure.message)} ({when(failure.at, now)})", style=palette.error),
        )
    if obs is not None:
        st = obs.status
        flags = f"is_running={st.is_running}  is_active={st.is_active}  is_blocked={st.is_blocked}"
        if row.refusal is not None:
            grid.add_row(
                "last status seen", Text(f"{st.kind.glyph} {st.kind.label} (before the refusal)")
            )
        grid.add_row("flags", Text(flags))
        grid.add_row("observed", Text(when(obs.observed_at, now)))
    elif failure is not None:
        grid.add_row("observed", Text("never: every ask so far has failed (see above)"))
    else:
        grid.add_row("observed", Text("not yet: this pipeline has not been asked about yet"))
    entered, lower_bound = row.entered
    if entered is not None:
        what = "refused since" if row.refusal is not None else "in this status since"
        grid.add_row(
            what,
            Text(
                when(entered, now)
                + (" or earlier (it was already in it when first seen)" if lower_bound else "")
            ),
        )
    return grid


def message_block(row: Row, palette: Palette) -> RenderableType:
    msg = row.raw_msg
    if not msg:
        return Text("raw_msg: none", style=palette.muted)
    kept, marker = split_cut(msg)
    text = Text(clean(kept), style=palette.message(row.severity))
    if marker:  # the API's text was longer than what is kept: say so, apart from it
        text.append("\n" + marker.strip(), style=palette.muted)
    return Group(Text("raw_msg", style="bold"), text)


def history_block(
    summary: HistorySummary | None,
    transitions: list[Transition],
    runs: list[RunSummary],
    now: float,
    palette: Palette,
    problem: str = "",
) -> RenderableType:
    if summary is None:
        return Text("History: not kept (no history store).", style=palette.muted)
    parts: list[RenderableType] = [Text("History", style="bold underline")]
    if problem:  # what follows may be missing its latest part: say so first
        parts.append(Text(f"{WARNING_GLYPH} {problem}", style=palette.warning))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    # "never" would claim more than this host saw: history starts when we started
    facts.add_row(
        "last success",
        Text(
            "none recorded"
            if summary.last_success_at is None
            else when(summary.last_success_at, now)
        ),
    )
    failure = summary.last_failure
    if failure is not None:
        msg = first_line(failure.raw_msg)  # the whole message is shown above
        facts.add_row(
            "last failure",
            Text(
                f"{when(failure.at, now)}"
                + (" or earlier (first seen failing)" if failure.from_status is None else "")
                + f"  {stored_kind(failure.to_status).label}"
                + (f": {msg}" if msg else "")
            ),
        )
    else:
        facts.add_row("last failure", Text("none recorded"))
    last = summary.last_run
    if last is not None and last.duration is not None:
        glyph = RUN_OUTCOME[last.outcome][0]
        facts.add_row(
            "last run",
            Text(
                f"{glyph} {last.outcome.value}, took "
                f"{format_duration(last.duration)}, ended "
                f"{format_age(now - (last.ended_at or now))} ago"
            ),
        )
    if summary.current_run is not None:
        facts.add_row("running for", Text(format_duration(summary.current_run.elapsed(now))))
    facts.add_row("recent runs", run_chart(runs, palette))
    parts.append(facts)
    parts.append(Text(""))
    parts.append(runs_table(runs, now, palette))
    parts.append(Text(""))
    parts.append(Text("Transitions (newest first)", style="bold underline"))
    if not transitions:
        parts.append(Text("none recorded yet", style=palette.muted))
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for tr in list(reversed(transitions))[:TIMELINE_ROWS]:
        kind = stored_kind(tr.to_status)
        # an ok status with a message is a warning: the status carries that, a refusal not
        severity = kind.severity if tr.refusal is not None else tr.status.severity
        msg = first_line(tr.raw_msg)
        table.add_row(
            Text(clock_time(tr.at)),
            Text.assemble(
                (f"{kind.glyph} {kind.label}", palette.severity[severity]),
                (" (first seen)" if tr.from_status is None else "", palette.muted),
            ),
            Text(msg, style=palette.muted, overflow="ellipsis", no_wrap=True),
        )
    parts.append(table)
    return Group(*parts)


class RowCommands(Protocol):
    """What the detail screen can ask the dashboard to do for its pipeline."""

    read_only: bool  # runs are disabled

    @property
    def health(self) -> Health: ...  # the API's and the history's, as the dashboard knows
    def run_one(self, pipeline_id: int) -> None: ...
    def ask_now(self, pipeline_id: int) -> None: ...
    def copy_url(self, pipeline_id: int) -> None: ...


class DetailScreen(Screen[None]):
    CSS_PATH = "detail.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "back"),
        Binding("r", "run", "run", id="run"),
        Binding("f", "ask", "ask now", id="ask_now"),
        Binding("c", "copy", "copy URL", id="copy_url"),
    ]

    def __init__(
        self,
        row: Row,
        *,
        clock: Clock,
        store: StoreLike | None,
        palette: Palette,
        commands: RowCommands,
    ) -> None:
        super().__init__()
        self._commands = commands
        self.row = row
        self._clock = clock
        self._store = store
        self._palette = palette
        self._message_shown: tuple[object, ...] | None = None
        self._summary: HistorySummary | None = None
        self._transitions: list[Transition] = []
        self._runs: list[RunSummary] = []

    @property
    def pipeline_id(self) -> int:
        return self.row.id

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="title", markup=False)
        with VerticalScroll(id="body"):
            yield Static(id="fields", markup=False)
            yield Static(id="message", classes="block", markup=False)
            yield Static(id="history", classes="block", markup=False)
        yield Footer()

    def _title(self) -> Text:
        entry = self.row.entry
        if not entry.name:  # the display name is already "pipeline <id>"
            return Text(entry.display_name)
        return Text(f"{clean(entry.display_name, keep_newlines=False)}  (pipeline {entry.id})")

    async def on_mount(self) -> None:
        self.update_row(self.row)
        await self.load_history()

    async def load_history(self) -> None:
        store = self._store
        if store is None:
            self._render_history()
            return
        pid = self.row.id
        try:
            summary, transitions, runs = await asyncio.to_thread(
                lambda: (
                    store.summary(pid),
                    store.transitions(pid, limit=200),
                    store.runs(pid, limit=CHART_RUNS),
                )
            )
        except Exception as exc:  # a broken history must not take the screen down
            self.query_one("#history", Static).update(
                Text(f"History could not be read: {clean(str(exc))}", style=self._palette.error)
            )
            return
        self._summary, self._transitions, self._runs = summary, transitions, runs
        self._render_history()

    def _render_history(self) -> None:
        self.query_one("#history", Static).update(
            history_block(
                self._summary if self._store else None,
                self._transitions,
                self._runs,
                self._clock.now(),
                self._palette,
                history_words(self._commands.health, self._clock.now()),
            )
        )

    def update_row(self, row: Row) -> None:
        """A new observation arrived while the screen is open."""
        self.row = row
        now = self._clock.now()
        self.query_one("#title", Static).update(self._title())
        self.query_one("#fields", Static).update(fields_table(row, now, self._palette))
        # The message is the screen's costliest part to lay out (up to MAX_MESSAGE
        # characters, wrapped): only a changed one is drawn again.
        shown = (row.raw_msg, row.severity)
        if shown != self._message_shown:
            self._message_shown = shown
            self.query_one("#message", Static).update(message_block(row, self._palette))
        if self._summary is not None:  # the history's own state may have changed too
            self._render_history()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run" and self._commands.read_only:
            return None  # shown disabled in the footer
        return True

    def on_key(self, event: events.Key) -> None:
        if event.key == "r" and self._commands.read_only:
            event.stop()
            self._commands.run_one(self.row.id)  # says why it is disabled

    def action_close(self) -> None:
        self.dismiss(None)

    def action_run(self) -> None:
        self._commands.run_one(self.row.id)

    def action_ask(self) -> None:
        self._commands.ask_now(self.row.id)

    def action_copy(self) -> None:
        self._commands.copy_url(self.row.id)
