"""The table's columns: which are shown at a given width, and what each cell says.

Pure functions from a `Row` to `rich.text.Text` (never markup: API text and config
names are shown literally, after `sanitize.clean`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

from kondado_tui.core.durations import format_age, format_duration
from kondado_tui.core.events import Refusal
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.history.timeline import RunOutcome
from kondado_tui.core.models import KNOWN_STATUSES, PENDING_KIND, Severity, StatusKind
from kondado_tui.ui.view.board import WARNING_GLYPH, Row
from kondado_tui.ui.view.palette import Palette

MARK = "mark"
STATUS = "status"
NAME = "name"
ID = "id"
GROUP = "group"
SINCE = "since"
AGE = "age"
LAST_RUN = "last_run"
MESSAGE = "message"

TITLES = {
    MARK: "",
    STATUS: "status",
    NAME: "name",
    ID: "id",
    GROUP: "group",
    SINCE: "since",
    AGE: "age",
    LAST_RUN: "last run",
    MESSAGE: "message",
}

GAP = 1  # the table has no cell padding: each column ends with one blank column
SCROLLBAR = 1
MIN_MESSAGE = 24
MESSAGE_WITH_FULL_STATUS = 40  # the full status words only if the message keeps this
WIDE_MESSAGE = 60  # beyond this the name column may grow
NAME_WIDTH = 26
NAME_WIDTH_WIDE = 48
STALE_MARKER = " ⚠"
MARKED_GLYPH = "✓"
CHANGED_GLYPH = "•"
SORT_MARK = " ▼"  # after the title of the column the rows are sorted by
REFUSED_PREFIX = "the API refused: "  # how kondado_tui.core.api words every refusal
AGE_STEP = 10  # seconds: ages under a minute are shown in steps of this


RUN_OUTCOME: dict[RunOutcome, tuple[str, Severity]] = {
    RunOutcome.OK: ("✓", Severity.OK),
    RunOutcome.WITH_MESSAGE: ("!", Severity.WARNING),
    RunOutcome.FAILED: ("✗", Severity.ERROR),
    RunOutcome.RUNNING: ("▶", Severity.BUSY),
}


# Every status a row can show, undocumented ones aside. The status column is sized from
# all of them, not from the statuses shown now: otherwise "● active" (8 cells) turning
# into "▶ running" (9) changed the layout, and a new layout rebuilds the whole table.
SHOWABLE_KINDS: tuple[StatusKind, ...] = (
    *KNOWN_STATUSES.values(),
    PENDING_KIND,
    *(refusal.kind for refusal in Refusal),
)


@dataclass(frozen=True)
class Layout:
    """Column widths for one terminal width (the message column takes the rest)."""

    widths: tuple[tuple[str, int], ...]
    # key -> width, built once: `width` is called for every cell of every row rendered
    # (a dict built per call was half the CPU of a 1000-row refresh, by py-spy)
    _by_key: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", dict(self.widths))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.widths)

    def width(self, key: str) -> int:
        return self._by_key[key]


def _status_text(row: Row, full: bool) -> str:
    kind = row.kind
    return f"{row.glyph} {kind.label if full else kind.short}"


def _status_width(kind: StatusKind, full: bool) -> int:
    """Cells `_status_text` takes for any row of this kind (ok and busy rows with a
    message wear ⚠ instead of their glyph)."""
    glyph = max(cell_len(kind.glyph), cell_len(WARNING_GLYPH))
    return glyph + 1 + cell_len(kind.label if full else kind.short)


def status_text(row: Row, width: int) -> str:
    """The API's status words; the short form only when the column is too narrow for them.

    A status the docs do not list has no short form: its words are cut with an ellipsis.
    """
    full = _status_text(row, True)
    if cell_len(full) <= width or row.severity is Severity.UNKNOWN:
        return full
    return _status_text(row, False)


def compute_layout(
    total: int,
    rows: Sequence[Row],
    *,
    with_last_run: bool,
    seen: Iterable[StatusKind] = (),
) -> Layout:
    """Widths that fit `total` columns; the status words shrink before the message does.

    The status column fits every documented status, and every status in `seen` (those
    shown this session, undocumented ones included), so an ordinary status change keeps
    the layout and repaints its own row only; it changes on a resize, or when a status
    longer than all seen before appears.
    """
    names = [cell_len(clean(r.entry.display_name, keep_newlines=False)) for r in rows] or [8]
    groups = [cell_len(clean(r.entry.group or "", keep_newlines=False)) for r in rows] or [0]
    name_w = min(max(max(names), 6), NAME_WIDTH)
    # wide enough for its title and the sort mark: "id ▼" must not touch the next title
    id_w = max(max((len(str(r.id)) for r in rows), default=2), cell_len(TITLES[ID] + SORT_MARK))
    group_w = min(max(groups), 12)
    kinds = {*SHOWABLE_KINDS, *seen, *(r.kind for r in rows)}
    full_w = max(_status_width(k, True) for k in kinds)
    short_w = max(_status_width(k, False) for k in kinds if k.severity is not Severity.UNKNOWN)
    fixed: list[tuple[str, int]] = [(MARK, 2), (NAME, name_w), (ID, id_w)]
    if group_w and total >= 100:
        fixed.append((GROUP, max(group_w, 5)))
    fixed += [(SINCE, 5), (AGE, 4 + len(STALE_MARKER))]
    if with_last_run and total >= 110:
        fixed.append((LAST_RUN, 10))
    columns = len(fixed) + 2  # + status and message
    room = total - SCROLLBAR - GAP * columns - sum(w for _, w in fixed)
    # All full labels, or all short ones: a column sized between the two fits a few
    # long labels, shows the rest short and wastes the difference on every row.
    if room - full_w >= MESSAGE_WITH_FULL_STATUS:
        status_w = full_w
    else:
        # a status the docs do not list has no short form: its words get what the
        # message can spare
        unknown_w = max(
            (_status_width(k, True) for k in kinds if k.severity is Severity.UNKNOWN), default=0
        )
        status_w = max(short_w, min(unknown_w, room - MESSAGE_WITH_FULL_STATUS))
    if room - status_w < MIN_MESSAGE and total < 100:
        # Really narrow: give the name less room before the message disappears.
        squeeze = min(name_w - 12, MIN_MESSAGE - (room - status_w))
        if squeeze > 0:
            fixed[1] = (NAME, name_w - squeeze)
            room += squeeze
    message_w = max(room - status_w, 10)
    spare = message_w - WIDE_MESSAGE
    if spare > 0 and max(names) > name_w:
        # A wide terminal: whole names before an even longer message column.
        grow = min(spare, max(names) - name_w, NAME_WIDTH_WIDE - name_w)
        fixed[1] = (NAME, name_w + grow)
        message_w -= grow
    widths = [fixed[0], (STATUS, status_w), *fixed[1:], (MESSAGE, message_w)]
    return Layout(tuple(widths))


def table_age(seconds: float) -> str:
    """An age for the since/age columns: under a minute in 10-second steps ("<10s",
    "10s" … "50s", rounded down like `format_age`), longer ages as `format_age`.

    In whole seconds half the rows of a busy dashboard changed every second, and each
    change repaints its row (benchmarks/results/ui_cost_findings.md); in steps a cell
    changes at most every 10 s.
    """
    if not math.isfinite(seconds) or seconds < AGE_STEP:
        return f"<{AGE_STEP}s"
    if seconds < 60:
        return f"{int(seconds) // AGE_STEP * AGE_STEP}s"
    return format_age(seconds)


def shown_at(now: float) -> float:
    """The moment ages are shown for: the next 10-second step of the clock.

    Every since and age on screen moves at the same step, so the whole table changes in
    one repaint every 10 s instead of one row every second or so (each repaint costs the
    same whatever it holds: benchmarks/results/ui_cost_findings.md). Rounding up means
    an age is at most 10 s older than the truth and never younger: a row never looks
    fresher than it is.
    """
    return age_step(now) * AGE_STEP if math.isfinite(now) else now


def next_step_at(now: float) -> float:
    """When the step after the one `now` is in begins: the next time anything the
    tick draws can change."""
    return (math.floor(now / AGE_STEP) + 1) * AGE_STEP


def age_step(now: float) -> int:
    """Which 10-second step `now` is in: the tick redraws ages when this changes."""
    return math.ceil(now / AGE_STEP) if math.isfinite(now) else 0


def ticking_words(row: Row, now: float, stale: bool) -> dict[str, str]:
    """The since and age cells' text, as of `shown_at(now)` (`stale` is for now itself):
    what the tick compares with what is shown, so a cell whose text is unchanged costs
    no rendering at all."""
    now = shown_at(now)
    entered, lower_bound = row.entered
    since = "" if entered is None else table_age(max(0.0, now - entered))
    if lower_bound:  # first seen already in this status: "at least", or nothing yet
        since = "" if since.startswith("<") else "≥" + since
    age = row.age(now)
    if age is None:
        return {SINCE: since, AGE: "never"}
    return {SINCE: since, AGE: table_age(age) + (STALE_MARKER if stale else "")}


def render_cells(
    row: Row,
    layout: Layout,
    palette: Palette,
    now: float,
    stale: bool,
    only: Collection[str] | None = None,
) -> dict[str, Text]:
    """Every visible cell of one row (or `only` those: the once-a-second ages)."""
    sev_style = palette.severity[row.severity]
    base = palette.stale if stale else None
    cells: dict[str, Text] = {}
    for key in layout.keys:
        if only is not None and key not in only:
            continue
        if key == MARK:
            marks = (MARKED_GLYPH if row.marked else " ") + (
                CHANGED_GLYPH if row.unseen_change else " "
            )
            text = Text(marks, style=palette.mark)
        elif key == STATUS:
            text = Text(status_text(row, layout.width(STATUS)), style=sev_style)
        elif key == NAME:
            text = Text(clean(row.entry.display_name, keep_newlines=False))
        elif key == ID:
            text = Text(str(row.id))
        elif key == GROUP:
            text = Text(clean(row.entry.group or "", keep_newlines=False))
        elif key == SINCE:
            text = Text(ticking_words(row, now, stale)[SINCE])
        elif key == AGE:
            words = ticking_words(row, now, stale)[AGE]
            if row.observation is None:
                text = Text(words, style=palette.muted)
            elif stale:
                text = Text(words, style=palette.warning)
            else:
                text = Text(words)
        elif key == LAST_RUN:
            text = _last_run(row, palette)
        else:
            text = _message(row, palette)
        if base is not None and key not in (STATUS, AGE, MARK):
            text.stylize(base)
        elif base is not None and key == STATUS:
            text.stylize(Style(italic=True))
        text.truncate(layout.width(key), overflow="ellipsis")
        cells[key] = text
    return cells


def _last_run(row: Row, palette: Palette) -> Text:
    summary = row.history
    run = summary.last_run if summary else None
    if run is None or run.duration is None:
        return Text("")
    glyph, severity = RUN_OUTCOME[run.outcome]
    style = palette.severity[severity]
    prefix = "" if run.start_seen else "≥"
    return Text(f"{glyph} {prefix}{format_duration(run.duration)}", style=style)


def _message(row: Row, palette: Palette) -> Text:
    if row.failure is not None:
        # a refusal is the row's trouble (error colour); a passing failure is a side note
        said = first_line(row.failure.message)
        if row.refusal is not None:  # the status already says it was refused
            return Text(said.removeprefix(REFUSED_PREFIX), style=palette.error)
        return Text(f"could not ask: {said}", style=palette.stale)
    msg = first_line(row.raw_msg)
    if not msg:
        return Text("")
    return Text(msg, style=palette.message(row.severity))


def changed_columns(old: Mapping[str, Text] | None, fresh: Mapping[str, Text]) -> list[str]:
    """The columns of `fresh` that differ from what `old` shows (all of them for a new row)."""
    if old is None:
        return list(fresh)
    return [
        column
        for column, text in fresh.items()
        if column not in old or not same_text(old[column], text)
    ]


def same_text(a: Text, b: Text) -> bool:
    """`Text.__eq__` ignores the base style; a colour change must still repaint."""
    return (
        a.plain == b.plain and a.style == b.style and a.spans == b.spans and a.justify == b.justify
    )
