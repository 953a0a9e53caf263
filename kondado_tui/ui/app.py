"""The Textual application: a Session in, the dashboard on screen.

The poller runs in one long-lived async worker; its events reach the UI through the
session's listener -> `post_message`, so a slow request never blocks a key press.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import events, on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.keys import _normalize_key_list
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from kondado_tui.core.actions import DoubtLog
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.config import PipelineEntry, set_setting
from kondado_tui.core.duplicate import DuplicateDraft, MappingMemory
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.events import (
    Alert,
    AlertKind,
    AlertNotice,
    AlertOutcome,
    SessionEvent,
    StatusObserved,
)
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.history.timeline import HistorySummary
from kondado_tui.core.logfile import log_unexpected
from kondado_tui.ui.backend import SessionLike
from kondado_tui.ui.keymap import keymap_clashes
from kondado_tui.ui.screens.duplicate import DuplicateScreen
from kondado_tui.ui.screens.help import HelpScreen
from kondado_tui.ui.screens.main import MainScreen
from kondado_tui.ui.terminal import crash
from kondado_tui.ui.terminal.desktop_notify import desktop_notification
from kondado_tui.ui.terminal.lifecycle import EXIT_HANGUP, TerminalLost
from kondado_tui.ui.terminal.overrides import TerminalOverrides
from kondado_tui.ui.view.columns import AGE_STEP, next_step_at
from kondado_tui.ui.view.health_text import budget_words, history_words
from kondado_tui.ui.view.palette import Palette

# What says someone is at the keyboard: the selected row is worth a closer look for a few
# minutes after one (`PollerLike.user_active`). Not a plain mouse move: a pointer passing
# over the pane on its way to another says nothing.
USER_INPUT = (
    events.Key,
    events.MouseDown,
    events.MouseScrollDown,
    events.MouseScrollUp,
    events.Paste,
)

# The tick runs this long after a step of the clock begins, so it sees the new step even
# if the timer fires a little early.
TICK_LAG = 0.05


def tick_delay(now: float) -> float:
    """From `now` to just after the next 10-second step of the clock."""
    return min(max(next_step_at(now) - now, 0.0), AGE_STEP) + TICK_LAG


class PollerMessage(Message):
    """A poller event, carried onto the app's message queue."""

    def __init__(self, event: SessionEvent) -> None:
        super().__init__()
        self.event = event


class KondadoApp(App[int]):
    TITLE = "kondado-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit", id="quit"),
        Binding("question_mark", "help", "help", id="help"),
    ]

    def __init__(
        self,
        session: SessionLike,
        *,
        clock: Clock = SYSTEM_CLOCK,
        poll: bool = True,
        read_only: bool | None = None,
        env: dict[str, str] | None = None,
        memory: MappingMemory | None = None,
        doubts: DoubtLog | None = None,
        overrides: TerminalOverrides | None = None,
    ) -> None:
        # which of Textual's internals kondado-tui replaces: the launcher's choice
        # (`overrides.install()`), read by get_driver_class in App.__init__
        self.overrides = overrides or TerminalOverrides()
        super().__init__()
        self.session = session
        self.clock = clock
        self.poll = poll  # False: a still picture (snapshots) — the poller never starts
        ui = session.config.ui
        self.read_only = ui.read_only if read_only is None else read_only
        self.env = dict(os.environ) if env is None else env
        self.drafts: dict[int, DuplicateDraft] = {}  # unsent duplicate forms, per base
        self.memory = memory  # mappings used last time, per base pipeline
        # runs and duplicates sent whose outcome is unknown: the same again asks twice
        self.doubts = doubts if doubts is not None else DoubtLog(None, clock=clock)
        self.main = MainScreen(session, clock, read_only=self.read_only, doubts=self.doubts)
        self.escapes: list[str] = []  # desktop notifications written (tests read them)
        self.crash_message = ""  # set by a bug: the launcher prints it after the screen
        self._saved_theme: str | None = None  # the theme the config file holds
        session.subscribe(self._on_poller_event)

    # -- start and stop -------------------------------------------------------------------

    def on_terminal_lost(self, _message: TerminalLost) -> None:
        """The input thread read a hang-up: end as SIGHUP would (`lifecycle.py`)."""
        self.exit(EXIT_HANGUP, return_code=EXIT_HANGUP)

    def _handle_exception(self, error: Exception) -> None:
        """A bug: its traceback to the log, never on screen (`terminal/crash.py`)."""
        if not self.crash_message:  # the first one is the one to report
            self.crash_message = crash.handle(self, error)

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, but its Linux driver without the 10 Hz input poll when the
        launcher installed the quiet driver (`TerminalOverrides.driver_class`)."""
        return self.overrides.driver_class(super().get_driver_class())

    async def on_mount(self) -> None:
        self._apply_settings()
        await self.push_screen(self.main)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for note in self.session.notes:
            self.notify(clean(note), severity="warning", markup=False, timeout=15)
        self.run_worker(self._start(), name="start", group="start", exit_on_error=False)
        self.run_worker(self._tick_at_steps(), name="tick", group="tick")

    async def _start(self) -> None:
        """Show what we already know (instantly), then start asking."""
        poller = self.session.poller
        self.main.remember(
            {pid: (obs, obs.observed_at) for pid, obs in poller.observations.items()}
        )
        # History is read once, by the poller: its last known states (each `since` told
        # as exact or as a first sighting) reach the table as events before any request,
        # and the same read decides what is asked first.
        try:
            await poller.start()
        except Exception as exc:  # history is a help, never a reason not to start
            self.notify(
                f"History could not be read: {redact(str(exc))}", severity="warning", markup=False
            )
        if self.poll:
            self.run_worker(
                self._poll_forever(),
                name="poller",
                group="poller",
                exclusive=True,
                exit_on_error=False,
            )
        if self.session.store is not None:
            await self.load_summaries(entry.id for entry in self.session.config.pipelines)

    async def _poll_forever(self) -> None:
        try:
            await self.session.poller.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the poller promises not to raise; if it does, say so
            where = log_unexpected(exc, "poller")
            self.notify(
                f"Polling stopped: {type(exc).__name__}: {redact(str(exc))}. "
                "The table no longer updates; restart kondado-tui "
                f"(and please report this{where}).",
                severity="error",
                timeout=3600,
                markup=False,
            )

    async def load_summaries(self, ids: Iterable[int]) -> None:
        store = self.session.store
        if store is None:
            return
        wanted = list(ids)

        def read() -> dict[int, HistorySummary]:
            return {pid: store.summary(pid) for pid in wanted}

        try:
            summaries = await asyncio.to_thread(read)
        except Exception:
            return  # the last-run column stays empty; the detail screen says why
        # Only the rows whose summary changed are redrawn: a summary never moves a row
        # nor changes the layout. (A full redraw here, after every status change, was
        # the most expensive thing the idle 1000-pipeline dashboard did.)
        for pid, summary in summaries.items():
            row = self.main.board.rows.get(pid)
            if row is not None and row.history != summary:
                row.history = summary
                self.main.refresh_row(pid)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's failure is told. Every worker runs with
        exit_on_error=False and turns the failures it expects into messages of its own;
        anything else (a bug) would otherwise vanish without a word. `StateChanged` does
        not bubble: the dashboard's background work (runs, config writes) runs on the
        app for this; the add and duplicate forms' workers catch everything themselves."""
        error = event.worker.error
        if event.state is not WorkerState.ERROR or error is None:
            return
        what = event.worker.name or "a background task"
        said = first_line(redact(str(error)))
        where = log_unexpected(error, f"worker {what}")  # its traceback, in the log
        self.notify(
            f"Something went wrong ({what}): {type(error).__name__}"
            + (f": {said}" if said else "")
            + f". kondado-tui keeps running; please report this{where}.",
            severity="error",
            timeout=30,
            markup=False,
        )

    # -- poller events ----------------------------------------------------------------------

    def _on_poller_event(self, event: SessionEvent) -> None:
        """Called by the poller: cheap, and safe from another thread too. Textual's
        `post_message` is thread-safe: from a thread other than the app's it hands the
        message to the app's loop with `call_soon_threadsafe` (Textual 8.2.8,
        message_pump.py, `MessagePump.post_message`), so no thread test is needed here."""
        self.post_message(PollerMessage(event))

    async def _tick_at_steps(self) -> None:
        """The dashboard's tick, just after each 10-second step of the clock: what it
        draws (ages, staleness, the gauge) changes only then, so between steps the app
        sleeps instead of waking every second to find nothing to do. The clock's own
        sleep: a scaled clock (benchmarks, the chaos test) ticks at its pace."""
        while True:
            await self.clock.sleep(tick_delay(self.clock.now()))
            if self.is_running:  # not while shutting down: the screens may be gone
                self.main.tick()

    def on_poller_message(self, message: PollerMessage) -> None:
        if not self.is_running:  # a poll that ended during shutdown (the table is gone)
            return
        event = message.event
        if isinstance(event, Alert):
            self.alert(event)
            return
        if isinstance(event, AlertNotice):
            self.alert_notice(event)
        self.main.apply(event)
        if isinstance(event, StatusObserved) and event.changed and self.session.store:
            self.run_worker(
                self.load_summaries([event.pipeline_id]), group="summaries", exit_on_error=False
            )

    # -- alerts ---------------------------------------------------------------------------------

    def alert(self, alert: Alert) -> None:
        """A pipeline broke (toast, bell, desktop notification) or recovered (toast): the
        session's alerts, decided in the core (`core/alerts/watch.py`) for every sink."""
        name = clean(alert.name, keep_newlines=False)
        msg = first_line(alert.raw_msg)
        ui = self.session.config.ui
        if alert.kind is AlertKind.TROUBLE:
            title = f"{name}: {alert.status.label}"
            self.notify(
                msg or "(no message from Kondado)",
                title=title,
                severity="error",
                timeout=30,
                markup=False,
            )
            if ui.bell:
                self.bell()
            if ui.desktop_notify:
                self.write_escape(desktop_notification(f"kondado: {title}", msg, self.env))
        else:
            self.notify(
                f"{name} is {alert.status.label} again.", title="recovered", timeout=8, markup=False
            )

    def alert_notice(self, notice: AlertNotice) -> None:
        """What became of the alert command: a failure or a hold is said once here; the
        status line keeps a failure in view until a run succeeds (`MainScreen.apply`)."""
        if notice.outcome is AlertOutcome.FAILED:
            self.notify(
                clean(notice.message, keep_newlines=False),
                title="alert command",
                severity="error",
                timeout=30,
                markup=False,
            )
        elif notice.outcome is AlertOutcome.HELD:
            self.notify(
                clean(notice.message, keep_newlines=False),
                title="alert command",
                severity="warning",
                timeout=15,
                markup=False,
            )

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification of every screen passes here (Textual's `Widget.notify`
        calls the app's): shown literally, never as markup, and cleaned whatever its
        text came from (API words, exception texts, names from the config)."""
        super().notify(
            clean(message),
            title=clean(title, keep_newlines=False),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def write_escape(self, sequence: str) -> None:
        self.escapes.append(sequence)
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(sequence)
            driver.flush()

    def _theme_changed(self, theme: Theme) -> None:
        self.main.set_palette(Palette.from_variables(self.get_css_variables()))
        if theme.name != self._saved_theme:  # the user picked one (ctrl+p, theme)
            self._saved_theme = theme.name
            self.run_worker(self._save_theme(theme.name), group="settings", exit_on_error=False)

    # -- settings: [ui] theme and [keys] ------------------------------------------------------

    def _apply_settings(self) -> None:
        """The config's keymap and theme. TEXTUAL_THEME in the environment outranks the
        file (as every environment variable does); a theme Textual does not know is a
        warning, not a reason not to start."""
        config = self.session.config
        self.set_keymap(dict(config.keys))
        for taken, owner in keymap_clashes(config.keys):
            self.notify(
                f"[keys] in {config.path}: {taken} is {owner}'s key, which now has none; "
                f"give {owner} a key of its own in [keys].",
                severity="warning",
                timeout=20,
                markup=False,
            )
        wanted = config.ui.theme
        if wanted and not self.env.get("TEXTUAL_THEME"):
            if wanted in self.available_themes:
                self.theme = wanted
            else:
                self.notify(
                    f"[ui] theme = {clean(wanted, keep_newlines=False)!r} in {config.path} is "
                    f"not a theme here; showing {self.theme}. Pick one with ctrl+p, then "
                    "'theme': it is saved there.",
                    severity="warning",
                    timeout=20,
                    markup=False,
                )
        self._saved_theme = wanted or self.theme

    async def _save_theme(self, name: str) -> None:
        path = self.session.config.path
        try:
            await asyncio.to_thread(set_setting, path, "ui", "theme", name)
        except (ConfigError, OSError) as exc:
            self.notify(
                f"Theme {name} is shown but not saved: {redact(str(exc))}",
                severity="warning",
                timeout=20,
                markup=False,
            )

    def key_for(self, action_id: str) -> str | None:
        """An action's key(s) as [keys] remapped them, shown as the footer shows keys; None
        when the default key is in force (the help and the palette then say it as ever)."""
        keys = self.session.config.keys.get(action_id)
        if not keys:
            return None
        return " ".join(
            self.get_key_display(Binding(key, action_id))
            for key in _normalize_key_list(keys).split(",")
        )

    # -- keys -------------------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        """Every key and click passes here first, whichever screen has it: the one place
        that tells the poller someone is there (once per input, not again as it bubbles)."""
        if isinstance(event, USER_INPUT) and not event.is_forwarded:
            self.session.poller.user_active()
        await super().on_event(event)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            health = self.main.board.health
            now = self.clock.now()
            words = history_words(health, now)
            self.push_screen(HelpScreen(words, self.key_for, budget_words(health)))

    def action_quit(self) -> None:  # type: ignore[override]
        self.exit(0)

    @on(MainScreen.DuplicateRequested)
    def _open_duplicate(self, message: MainScreen.DuplicateRequested) -> None:
        """The duplicate form; a pipeline it creates is monitored and saved to the config."""
        base = message.base
        screen = DuplicateScreen(
            base,
            self.drafts.pop(base.id, None),
            self.session.poller.duplicate,
            memory=self.memory,
            doubts=self.doubts,
        )

        def done(new_id: int | None) -> None:
            if new_id is None:
                # kept for the next `d` in this session, unless the user said discard
                if not screen.discarded and screen.draft.is_filled(str(base.id)):
                    self.drafts[base.id] = screen.draft
                return
            name = screen.draft.name.strip() or None
            self.main.adopt(PipelineEntry(new_id, name, base.group))

        self.push_screen(screen, callback=done)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.main:
            return
        main = self.main
        for title, action_id, key, more, callback in (
            ("Run the selected pipeline(s)", "run", "r", "asks first", main.action_run),
            ("Details of the selected pipeline", "details", "enter", "", main.action_details),
            ("Mark / unmark the row", "mark", "space", "", main.action_mark),
            ("Duplicate the selected pipeline", "duplicate", "d", "", main.action_duplicate),
            ("Filter", "filter", "/", "by name, id, status or group", main.action_filter),
            ("Clear the filter", "clear_filter", "esc", "", main.action_clear_filter),
            ("Cycle the sort order", "sort", "s", "severity, name, id, age", main.action_sort),
            ("Ask about the selected pipeline now", "ask_now", "f", "", main.action_ask_now),
            ("Pause / resume polling", "pause", "p", "", main.action_pause),
            ("Copy the app URL", "copy_url", "c", "OSC 52", main.action_copy_url),
            ("Add a pipeline", "add", "a", "by id or app URL", main.action_add),
            (
                "Stop monitoring the selected pipeline",
                "remove",
                "x",
                "asks first",
                main.action_remove,
            ),
            ("Clear the changed marks", "clear_changed", "u", "", main.action_all_seen),
            ("Help", "help", "?", "", self.action_help),
        ):
            shown = self.key_for(action_id) or key
            yield SystemCommand(title, f"{shown}: {more}" if more else shown, callback)
