"""The `?` screen: every key, and what the colours and marks in the table mean."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from kondado_tui.core.events import Refusal
from kondado_tui.core.models import KNOWN_STATUSES, PENDING_KIND
from kondado_tui.ui.view.board import WARNING_GLYPH
from kondado_tui.ui.view.columns import CHANGED_GLYPH, MARKED_GLYPH, STALE_MARKER

# (action id for [keys], the default key as shown, what it does); no id: not remappable
KEYS: tuple[tuple[str, str, str], ...] = (
    ("", "↑ ↓  j k  home end", "move (the mouse works too)"),
    ("details", "enter", "details: full message, times, history"),
    ("run", "r", "run the selected pipeline (or every marked one), after asking"),
    ("mark", "space", "mark / unmark a row for a batch run"),
    ("duplicate", "d", "duplicate the selected pipeline"),
    ("filter", "/", "filter by name, id, status or group (esc clears)"),
    (
        "sort",
        "s",
        "cycle the sort: severity (trouble on top, then by name; disabled and "
        "pending last), name, id, age",
    ),
    ("ask_now", "f", "ask Kondado about the selected pipeline now"),
    ("pause", "p", "pause / resume polling"),
    ("copy_url", "c", "copy the pipeline's app URL (OSC 52) and show it"),
    ("add", "a", "add a pipeline by id or app URL"),
    ("remove", "x", "stop monitoring the selected pipeline (asks first)"),
    ("clear_changed", "u", "clear every “changed” mark"),
    ("", "ctrl+p", "command palette"),
    ("help", "?", "this help"),
    ("quit", "q", "quit"),
)

KeyFor = Callable[[str], "str | None"]  # an action id -> its remapped keys, or None


def key_rows(key_for: KeyFor | None = None) -> list[tuple[str, str]]:
    """The Keys section's rows, with the keys [keys] gave the actions."""
    rows = []
    for action_id, key, what in KEYS:
        remapped = key_for(action_id) if key_for is not None and action_id else None
        rows.append((remapped or key, what))
    return rows


def _section(title: str, rows: list[tuple[str, str]]) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for key, what in rows:
        grid.add_row(Text(key), Text(what))
    return Group(Text(title, style="bold underline"), grid, Text(""))


STATUS_LINE: tuple[tuple[str, str], ...] = (
    ("12/18 req/min", "requests this host sent in the last minute, of the budget"),
    (
        ", shared by 3",
        "kondado-tui processes on this host that asked Kondado in the last minute (this one too)",
    ),
    (
        "(lowered from 18)",
        "lock-outs nobody on this host caused: someone else uses the budget; it climbs back",
    ),
    (
        "host budget unavailable",
        "no usable broker on this host: this process limits itself (details below)",
    ),
    ("next in 20s", "the next status request (asking 3/12…: the first round)"),
    ("silent 47s", "rate limited: nothing is sent until the lock-out ends"),
    ("PAUSED  READ-ONLY", "polling paused (p); runs and edits disabled"),
    ("ledger: this process only", "the rate budget is not shared with other processes"),
    ("⇄ serving 2 viewers", "this dashboard polls for its account; 2 others show its answers"),
    ("⇄ viewer of pid 4120", "another process (the account's collector) polls for this one"),
    ("⇄ collector lost", "the collector went away: taking over or attaching to the next one"),
    ("polling alone", "the account's collector cannot be trusted or reached: polls itself"),
    (
        f"{WARNING_GLYPH} history not saved",
        "writes to the history file fail (a full disk?): monitoring goes on, the history "
        "misses what happens until a write works again",
    ),
    (f"{WARNING_GLYPH} history in memory only", "the history file cannot be used this session"),
)


def help_text(history_problem: str = "", key_for: KeyFor | None = None, budget: str = "") -> Group:
    statuses = [
        (f"{k.glyph} {k.label}", k.meaning) for k in (*KNOWN_STATUSES.values(), PENDING_KIND)
    ]
    statuses.append(
        ("? anything else", "a status Kondado's docs do not list, shown as sent; counts as trouble")
    )
    statuses.append((f"{WARNING_GLYPH} active, running…", "an ok or busy status with a message"))
    refused = (Refusal.NOT_FOUND.kind, Refusal.NO_ACCESS.kind)
    statuses += [(f"{k.glyph} {k.label}", k.meaning) for k in refused]
    return Group(
        _section("Keys", key_rows(key_for)),
        _section("Statuses (the API's value, underscores as spaces)", statuses),
        _section(
            "Colours",
            [
                ("green", "ok: idle and enabled"),
                ("blue", "busy: running, scheduled, building tables"),
                ("yellow", "an ok status that carries a message from Kondado"),
                ("red", "error statuses; reversed and bold: blocked"),
                ("dim", "disabled, or not observed yet"),
            ],
        ),
        _section(
            "Columns and marks",
            [
                (MARKED_GLYPH, "marked for a batch run (space)"),
                (CHANGED_GLYPH, "changed since you last looked at the row"),
                ("since", "how long the pipeline has been in this status"),
                ("age", "how old our last observation is"),
                ("age" + STALE_MARKER, "stale: older than the poller promised; the row is dimmed"),
                ("last run", "outcome and duration of the last run we saw (≥: began before)"),
            ],
        ),
        _section("Status line (right)", list(STATUS_LINE)),
        *([Group(Text("Rate budget now", style="bold"), Text(budget), Text(""))] if budget else []),
        *(
            [Group(Text(f"{WARNING_GLYPH} Now: {history_problem}", style="bold"), Text(""))]
            if history_problem
            else []
        ),
    )


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(
        self, history_problem: str = "", key_for: KeyFor | None = None, budget: str = ""
    ) -> None:
        """`history_problem`: why history is not being kept now ("" while it is);
        `key_for`: the keys [keys] gave an action (`KondadoApp.key_for`); `budget`: who
        shares the rate budget now (`health_text.budget_words`)."""
        super().__init__()
        self._history_problem = history_problem
        self._key_for = key_for
        self._budget = budget

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "kondado-tui help"
            scroll.border_subtitle = "esc: close"
            yield Static(
                help_text(self._history_problem, self._key_for, self._budget), markup=False
            )
