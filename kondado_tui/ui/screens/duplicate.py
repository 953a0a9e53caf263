"""The duplicate form: every field of `POST /pipelines`, validated as you type.

The form only edits a `DuplicateDraft`; the core validator (`kondado_tui.core.duplicate`)
says what is wrong, the same words as the CLI. `ctrl+s` opens a review of the exact JSON
body and of the tables that will be created or SILENTLY RECREATED; `y` there sends it
through the `submit` callable (the dashboard passes `poller.duplicate`). A failure keeps
everything typed. No httpx here: failures arrive as `kondado_tui.core.errors` types.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, Static, Switch

from kondado_tui.core.actions import DoubtLog, after_failure, duplicate_target
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.duplicate import (
    BASE,
    CLIENT,
    DELTA,
    DEST,
    FULL,
    MAIN_PATH,
    NAME,
    PARAMS,
    SRC,
    DuplicateDraft,
    MappingMemory,
    ParamRow,
    TableRow,
    body_json,
    build_body,
    field_label,
    parse_row_key,
    tables_to_be_created,
    validate,
    warnings,
)
from kondado_tui.core.errors import ApiError, KondadoError, Outcome, Rejected
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.ui.screens.confirm import ChoiceScreen, SecondConfirmScreen
from kondado_tui.ui.terminal.overrides import tested, textual_version

# Sends a body, returns the new pipeline's id; raises kondado_tui.core.errors on failure.
Submit = Callable[[dict[str, Any]], Awaitable[int]]

_ids = itertools.count(1)

# Rows per section (full tables, delta tables, parameters) the form holds: each row is
# six widgets, and Textual takes ~35 ms of CPU per row to open the form (100 rows: ~4 s,
# benchmarks/results/form_cost.md). Typing costs little at any size. More rows: the CLI.
MAX_FORM_ROWS = 100


def _too_many_rows(draft: DuplicateDraft) -> bool:
    return any(
        len(rows) > MAX_FORM_ROWS
        for rows in (draft.full_tables, draft.delta_tables, draft.parameters)
    )


def _plain(text: str) -> Text:
    """Untrusted or user text, shown literally on one line and without escapes."""
    return Text(clean(text, keep_newlines=False))


# -- rows -------------------------------------------------------------------------------


class FormInput(Input):
    """An Input whose text growing by a key does not lay the whole screen out again.

    Textual's Input sets its `virtual_size` (the width of its text) at every change of
    value, and `virtual_size` is a layout reactive: each keystroke re-arranged every
    widget of the form (200 parameter rows: 1,200 widgets). An Input's size never
    depends on its text (its width is set here, its scrollbar hidden), so the change
    only needs a repaint; scrolling within the text reads `virtual_size` directly.
    Checked on Textual 8.2 (tests/ui/test_ui_form_bounds.py types past the width).
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)


# Like the other replacements of Textual's ways (ui/terminal/overrides.py): only on the
# releases it was tested on; elsewhere Textual's own Input (slower with many rows).
_INPUT: type[Input] = FormInput if tested(textual_version()) else Input


def _input(value: str, placeholder: str, id: str, classes: str | None = None) -> Input:
    return _INPUT(
        value, placeholder=placeholder, id=id, classes=classes, compact=True, select_on_focus=False
    )


def _message() -> Static:
    """The line under a field or row where its problem is shown."""
    return Static("", classes="message -empty", markup=False)


def _pair(left: Widget, arrow: str, right: Input, message: Static) -> ComposeResult:
    """A table or parameter row: `path → name` or `name = value`, its message below."""
    with Horizontal(classes="line"):
        yield left
        yield Label(Text(arrow), classes="arrow")
        yield right
    yield message


class FieldRow(Vertical):
    """A labelled input with its message underneath."""

    def __init__(self, key: str, label: str, value: str, placeholder: str) -> None:
        super().__init__(classes="field")
        self.key = key
        self._label = label
        self.input = _input(value, placeholder, key)
        self.message = _message()

    def compose(self) -> ComposeResult:
        with Horizontal(classes="line"):
            yield Label(Text(self._label), classes="label")
            yield self.input
        yield self.message


class TableRowEditor(Vertical):
    """One table mapping: the path in the base -> the new table's name.

    Its inputs and message line are kept as attributes: the form reads and marks every
    row at each keystroke, and a DOM query per row made that grow with the rows."""

    def __init__(self, section: str, row: TableRow, *, main: bool | None = None) -> None:
        super().__init__(classes="row")
        self.section = section
        self.is_main = row.is_main if main is None else main
        self.uid = next(_ids)
        prefix = f"{section}-{self.uid}"
        self.path_input: Input | None = (
            None
            if self.is_main
            else _input(row.path, "path in the base, e.g. line_items", f"{prefix}-path", "path")
        )
        self.name_input = _input(row.name, "new table name", f"{prefix}-name", "name")
        self.message = _message()

    def compose(self) -> ComposeResult:
        path: Widget = (
            Label(Text("main table"), classes="path main")
            if self.path_input is None
            else self.path_input
        )
        yield from _pair(path, "→", self.name_input, self.message)

    @property
    def row(self) -> TableRow:
        name = self.name_input.value
        if self.path_input is None:
            return TableRow(MAIN_PATH, name)
        return TableRow(self.path_input.value, name)

    def input_for(self, part: str) -> Input | None:
        return self.path_input if part == "path" else self.name_input

    @property
    def inputs(self) -> tuple[Input, ...]:
        return (self.name_input,) if self.path_input is None else (self.path_input, self.name_input)


class ParamRowEditor(Vertical):
    """One parameter to overwrite: its name = a value (JSON when it looks like JSON)."""

    def __init__(self, row: ParamRow) -> None:
        super().__init__(classes="row")
        self.section = PARAMS
        self.is_main = False
        self.uid = next(_ids)
        self.name_input = _input(row.name, "parameter name", f"param-{self.uid}-name", "pname")
        self.value_input = _input(
            row.value,
            'value: text, 12, true, [1, 2], "12"',
            f"param-{self.uid}-value",
            "value",
        )
        self.message = _message()

    def compose(self) -> ComposeResult:
        yield from _pair(self.name_input, "=", self.value_input, self.message)

    @property
    def row(self) -> ParamRow:
        return ParamRow(self.name_input.value, self.value_input.value)

    def input_for(self, part: str) -> Input | None:
        return self.name_input if part == "name" else self.value_input

    @property
    def inputs(self) -> tuple[Input, ...]:
        return (self.name_input, self.value_input)


RowEditor = TableRowEditor | ParamRowEditor


# -- the review step --------------------------------------------------------------------


class DuplicateReviewScreen(ModalScreen[bool]):
    """The exact body and the tables it creates. Only `y` sends: enter does not."""

    CSS_PATH = "duplicate.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "create the pipeline"),
        Binding("escape,n", "answer(False)", "back to the form"),
    ]

    def __init__(self, title: str, body: dict[str, Any]) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        names = tables_to_be_created(self._body)
        dest = self._body.get("dest_collection_id")
        warning = Text(
            f"⚠ These {len(names)} table(s) will be created in destination {dest}; an "
            "existing table of the same name will be SILENTLY RECREATED (its data "
            "replaced):\n",
            style="bold",
        )
        warning.append(Text("\n".join(f"  • {clean(n, keep_newlines=False)}" for n in names)))
        run = (
            "The new pipeline runs right after it is created."
            if self._body.get("execute_immediately") == "Y"
            else "The new pipeline waits for its schedule (execute immediately: no)."
        )
        with Vertical(id="review-box"):
            yield Static(_plain(self._title), classes="title", markup=False)
            yield Static(
                Text("This exact JSON body is sent to POST /pipelines:"),
                classes="hint",
                markup=False,
            )
            with VerticalScroll(id="review-json"):
                yield Static(Text(clean(body_json(self._body))), markup=False)
            yield Static(warning, id="review-warning", markup=False)
            yield Static(Text(run), classes="hint", markup=False)
            yield Static(
                Text(
                    "y: create the pipeline    esc / n: back to the form    "
                    "↑ ↓ pgup pgdn: scroll the body"
                ),
                classes="keys",
                markup=False,
            )
        yield Footer(show_command_palette=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


# -- the form ---------------------------------------------------------------------------


class DuplicateScreen(Screen[int | None]):
    """Dismisses with the new pipeline's id, or None when the user gives up.

    `draft`: what to prefill (a remembered or in-session draft); the base is always the
    given pipeline. `memory`: when given, an empty form is prefilled from the mappings
    used last time for this base, and the mappings are remembered after a success.
    """

    CSS_PATH = "duplicate.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "review", "review"),
        Binding("ctrl+t", "add_row('full_tables')", "+table"),
        Binding("ctrl+l", "add_row('delta_tables')", "+delta"),
        Binding("ctrl+o", "add_row('parameters')", "+param"),
        Binding("ctrl+r", "remove_row", "-row"),
        Binding("escape", "cancel", "cancel"),
        # Outside an input, `q` would quit the app and lose the form: ask first instead.
        Binding("q", "cancel", "cancel", show=False),
    ]

    def __init__(
        self,
        base: PipelineEntry,
        draft: DuplicateDraft | None,
        submit: Submit,
        *,
        memory: MappingMemory | None = None,
        doubts: DoubtLog | None = None,
    ) -> None:
        super().__init__()
        self.base = base
        self._submit = submit
        self._memory = memory
        # sends of unknown outcome: sending the same body again asks a second time
        self._doubts = doubts if doubts is not None else DoubtLog(None)
        self._maybe_sent = False  # a send from this form may have created the pipeline
        self.discarded = False  # left with "discard": the dashboard keeps no draft
        self._note: str | None = None
        remembered = False
        if draft is None and memory is not None:
            draft = memory.recall(base.id)
            self._note = memory.note
            remembered = draft is not None
        if draft is not None and _too_many_rows(draft):
            self._note = (
                f"The mappings remembered for pipeline {base.id} have more rows than the form "
                f"holds ({MAX_FORM_ROWS} per section): the form starts empty. To send them, "
                "use `kondado-tui duplicate --body FILE`."
            )
            draft, remembered = None, False
        self._initial = copy.deepcopy(draft) if draft is not None else DuplicateDraft()
        self._initial.base_id = self._initial.base_id or str(base.id)
        if not any(r.is_main for r in self._initial.full_tables):
            self._initial.full_tables.insert(0, TableRow(MAIN_PATH, ""))
        # Leaving without a question loses nothing: an untouched form, or remembered
        # mappings left as they were (they stay remembered).
        self._pristine = (
            copy.deepcopy(self._initial) if remembered else DuplicateDraft(base_id=str(base.id))
        )
        self._last = copy.deepcopy(self._initial)
        self._touched: set[str] = set()
        self._show_all = False  # after a refused review, every problem shows
        self.sending = False
        self.problems: dict[str, str] = {}
        # What each message line and input shows now: a keystroke redraws only what
        # changes, so its cost does not grow with the rows (benchmarks/form_cost.py).
        self._messages_shown: dict[Static, tuple[tuple[str, bool], ...]] = {}
        self._marked: set[Input] = set()  # inputs shown with a problem
        self._summary_shown: tuple[object, ...] | None = None
        self._execute_shown: bool | None = None
        self._revalidate_pending = False

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        d = self._initial
        title = f"Duplicate {self.base.display_name} ({self.base.id})"
        yield Static(_plain(title), id="title", markup=False)
        yield Static("", id="failure", markup=False)
        with VerticalScroll(id="form"):
            yield FieldRow(BASE, "Base pipeline id", d.base_id, "id of the pipeline to copy")
            yield FieldRow(SRC, "Source collection id", d.src, "id of the new source collection")
            yield FieldRow(
                DEST, "Destination collection id", d.dest, "id of the new destination collection"
            )
            yield FieldRow(
                CLIENT, "Client id (optional)", d.client, "default: the base pipeline's account"
            )
            name_hint = f"default: {clean(self.base.display_name, keep_newlines=False)}"
            yield FieldRow(NAME, "Name (optional)", d.name, name_hint)
            with Horizontal(classes="line field", id="execute-line"):
                yield Label(Text("Execute immediately"), classes="label")
                yield Switch(d.execute_immediately, id="execute")
                yield Label(Text(""), id="execute-word")
            yield Static(
                Text("Full tables: path in the base → new table name (ctrl+t adds)"),
                classes="section",
            )
            yield Static("", id="full_tables-message", classes="message -empty", markup=False)
            with Vertical(id="full_tables-rows", classes="rows"):
                for row in d.full_tables:
                    yield TableRowEditor(FULL, row)
            yield Static(
                Text("Delta tables (optional, ctrl+l adds; with them, the main table too)"),
                classes="section",
            )
            yield Static("", id="delta_tables-message", classes="message -empty", markup=False)
            with Vertical(id="delta_tables-rows", classes="rows"):
                for row in d.delta_tables:
                    yield TableRowEditor(DELTA, row)
            yield Static(Text("Parameters to overwrite (optional, ctrl+o adds)"), classes="section")
            with Vertical(id="parameters-rows", classes="rows"):
                for prow in d.parameters:
                    yield ParamRowEditor(prow)
        yield Static("", id="summary", markup=False)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        for widget in self.query(Input):
            if widget.value.strip() and widget.id:
                self._touched.add(widget.id)  # prefilled text is checked at once
        if self._note:
            self._show_failure(self._note, severity="note")
        self._revalidate()
        self.query_one(f"#{SRC}", Input).focus()

    # -- reading the form -----------------------------------------------------------------

    def _rows(self, section: str) -> list[RowEditor]:
        container = self.query_one(f"#{section}-rows", Vertical)
        return [c for c in container.children if isinstance(c, (TableRowEditor, ParamRowEditor))]

    def _fields(self) -> dict[str, FieldRow]:
        return {
            row.key: row for row in self.query_one("#form").children if isinstance(row, FieldRow)
        }

    @property
    def draft(self) -> DuplicateDraft:
        """Everything typed, as the core's draft (the dashboard may keep it).

        Readable after the screen is dismissed too: then it is the last one seen.
        """
        with contextlib.suppress(NoMatches):  # not composed yet, or already taken down
            self._last = self._read_draft()
        return copy.deepcopy(self._last)

    def _read_draft(self) -> DuplicateDraft:
        fields = self._fields()

        def value(key: str) -> str:
            if key not in fields:  # being taken down: `draft` keeps the last one seen
                raise NoMatches(f"no field {key}")
            return fields[key].input.value

        full = [r.row for r in self._rows(FULL) if isinstance(r, TableRowEditor)]
        delta = [r.row for r in self._rows(DELTA) if isinstance(r, TableRowEditor)]
        params = [r.row for r in self._rows(PARAMS) if isinstance(r, ParamRowEditor)]
        return DuplicateDraft(
            base_id=value(BASE),
            src=value(SRC),
            dest=value(DEST),
            client=value(CLIENT),
            name=value(NAME),
            execute_immediately=self.query_one("#execute", Switch).value,
            full_tables=full,
            delta_tables=delta,
            parameters=params,
        )

    def _input_for(self, key: str) -> Input | None:
        rows = {section: self._rows(section) for section in (FULL, DELTA, PARAMS)}
        return self._target(key, self._fields(), rows)[0]

    # -- validation as you type -----------------------------------------------------------

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self._touched.add(event.input.id)
        self._revalidate_soon()

    @on(Switch.Changed)
    def _switched(self) -> None:
        self._revalidate_soon()

    def _revalidate_soon(self) -> None:
        """One check for a burst of changes (a pasted text, the rows mounted with their
        values: each posts Input.Changed), after the messages already queued."""
        if not self._revalidate_pending:
            self._revalidate_pending = True
            self.call_later(self._revalidate_now)

    def _revalidate_now(self) -> None:
        self._revalidate_pending = False
        self._revalidate()

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()  # enter moves on; sending is always ctrl+s then y

    def _visible(self, key: str, widget: Input | None) -> bool:
        if self._show_all:
            return True
        if widget is None:  # a section message (e.g. the main delta row is missing)
            return True
        return widget.id in self._touched

    def _revalidate(self) -> None:
        """Check the whole draft (cheap, pure) and redraw only the message lines, input
        marks and summary whose content changed."""
        draft = self._read_draft()
        self._last = draft
        self.problems = validate(draft)
        notes = warnings(draft)
        fields = self._fields()
        rows = {section: self._rows(section) for section in (FULL, DELTA, PARAMS)}
        lines: dict[Static, list[tuple[str, bool]]] = {}
        marked: set[Input] = set()

        def add(key: str, text: str, error: bool) -> None:
            widget, holder = self._target(key, fields, rows)
            if holder is None or not self._visible(key, widget):
                return
            parsed = parse_row_key(key)
            prefix = f"{parsed[2]}: " if parsed is not None else ""
            line = ("✖ " if error else "⚠ ") + prefix + clean(text, keep_newlines=False)
            lines.setdefault(holder, []).append((line, error))
            if widget is not None and error:
                marked.add(widget)

        for key, text in self.problems.items():
            add(key, text, True)
        for key, text in notes.items():
            if key not in self.problems:
                add(key, text, False)
        for widget in marked ^ self._marked:
            widget.set_class(widget in marked, "-problem")
        self._marked = marked
        holders = [*self._messages_shown, *lines]
        for holder in dict.fromkeys(holders):
            shown = tuple(lines.get(holder, ()))
            if self._messages_shown.get(holder, ()) == shown:
                continue
            self._messages_shown[holder] = shown
            holder.update(Text("\n").join(Text(line) for line, _ in shown))
            holder.set_class(not shown, "-empty")
            holder.set_class(any(error for _, error in shown), "-error")
        self._update_summary(draft)
        self._update_execute_word()

    def _target(
        self, key: str, fields: dict[str, FieldRow], rows: dict[str, list[RowEditor]]
    ) -> tuple[Input | None, Static | None]:
        """The input a problem is about (None for a section's) and the line it shows on."""
        if key in (FULL, DELTA):
            return None, self.query_one(f"#{key}-message", Static)
        field = fields.get(key)
        if field is not None:
            return field.input, field.message
        parsed = parse_row_key(key)
        if parsed is None:
            return None, None
        section, index, part = parsed
        editors = rows.get(section, [])
        if index >= len(editors):
            return None, None
        editor = editors[index]
        return editor.input_for(part), editor.message

    def _update_summary(self, draft: DuplicateDraft) -> None:
        count = len(self.problems)
        first = next(iter(self.problems.items()), None)
        shown = (self.sending, count, first and field_label(draft, first[0]), first)
        if shown == self._summary_shown:
            return
        self._summary_shown = shown
        summary = self.query_one("#summary", Static)
        if self.sending:
            text = Text("Sending to Kondado… (waits for a slot in the rate budget)", style="bold")
        elif first is not None:
            key, message = first
            text = Text(
                f"✖ {count} problem{'s' if count > 1 else ''} to fix before review: ", style="bold"
            )
            text.append(_plain(f"{field_label(draft, key)}: {message}"))
        else:
            text = Text("✔ ready: ctrl+s to review the body and the table names", style="bold")
        summary.update(text)
        summary.set_class(bool(count) and not self.sending, "-problems")

    def _update_execute_word(self) -> None:
        on_ = self.query_one("#execute", Switch).value
        if on_ == self._execute_shown:
            return  # an update lays the whole form out again
        self._execute_shown = on_
        word = "yes: runs right after it is created" if on_ else "no: waits for its schedule"
        self.query_one("#execute-word", Label).update(Text(word))

    # -- rows -----------------------------------------------------------------------------

    async def action_add_row(self, section: str) -> None:
        if self.sending:
            return
        rows = self._rows(section)
        if len(rows) >= MAX_FORM_ROWS:
            self.notify(
                f"The form holds at most {MAX_FORM_ROWS} rows per section. For more, write "
                "the body in a file and use `kondado-tui duplicate --body FILE`.",
                severity="warning",
                markup=False,
            )
            return
        container = self.query_one(f"#{section}-rows", Vertical)
        editor: RowEditor
        if section == PARAMS:
            editor = ParamRowEditor(ParamRow())
        elif section == DELTA and not any(r.is_main for r in rows):
            editor = TableRowEditor(DELTA, TableRow(MAIN_PATH, ""))
        else:
            editor = TableRowEditor(section, TableRow(), main=False)
        await container.mount(editor)
        first = editor.input_for("name" if editor.is_main or section == PARAMS else "path")
        if first is not None:
            first.focus()
            self.query_one("#form", VerticalScroll).scroll_to_widget(editor, animate=False)
        self._revalidate()

    def _focused_row(self) -> RowEditor | None:
        node = self.focused
        while node is not None and not isinstance(node, (TableRowEditor, ParamRowEditor)):
            node = node.parent if isinstance(node.parent, Widget) else None
        return node

    async def action_remove_row(self) -> None:
        if self.sending:
            return
        row = self._focused_row()
        if row is None:
            self.notify(
                "Put the cursor in a table or parameter row to remove it.",
                severity="warning",
                markup=False,
            )
            return
        rows = self._rows(row.section)
        if row.is_main and row.section == FULL:
            self.notify(
                "The main table is always needed: give it a name.", severity="warning", markup=False
            )
            return
        if row.is_main and len(rows) > 1:
            self.notify(
                "Remove the other delta rows first: delta tables need the main table.",
                severity="warning",
                markup=False,
            )
            return
        index = rows.index(row)
        await row.remove()
        remaining = self._rows(row.section)
        if remaining:
            target = remaining[min(index, len(remaining) - 1)]
            widget = target.input_for("name")
            if widget is not None:
                widget.focus()
        else:
            self.focus_next()
        self._revalidate()

    # -- review and send ------------------------------------------------------------------

    def action_review(self) -> None:
        if self.sending:
            return
        draft = self.draft
        self._revalidate()
        if self.problems:
            self._show_all = True
            self._revalidate()
            key = next(iter(self.problems))
            widget = self._input_for(key)
            if widget is not None:
                widget.focus()
                self.query_one("#form", VerticalScroll).scroll_to_widget(widget, animate=False)
            self.app.bell()
            return
        body = build_body(draft)
        title = f"Review: create a pipeline from {self.base.display_name} ({self.base.id})"
        self.app.push_screen(
            DuplicateReviewScreen(title, body), callback=lambda yes: self._reviewed(bool(yes), body)
        )

    def _reviewed(self, yes: bool, body: dict[str, Any]) -> None:
        if not yes:
            return
        warning = self._doubts.warning(duplicate_target(body))
        if warning is None:
            self._send(body)
            return

        def again(yes: bool | None) -> None:
            if yes:
                self._send(body)

        # the same base, destination and tables went out before with no readable answer
        self.app.push_screen(
            SecondConfirmScreen(
                "Send it again? The last send's outcome is unknown",
                Text(clean(warning)),
                yes="send it again anyway",
            ),
            callback=again,
        )

    @work(exclusive=True, group="duplicate-send", exit_on_error=False)
    async def _send(self, body: dict[str, Any]) -> None:
        self.sending = True
        self._clear_failure()
        self._update_summary(self.draft)
        target = duplicate_target(body)
        try:
            new_id = await self._submit(body)
        except ApiError as exc:  # only what is known: refused, or maybe created
            known = after_failure(exc, target)
            if exc.outcome is Outcome.UNKNOWN:
                self._maybe_sent = True
                await asyncio.to_thread(self._doubts.note_unknown, target, exc)
                self._failed(f"{exc}. {known}", headline="Outcome unknown")
            elif isinstance(exc, Rejected):
                self._failed(f"{exc}. {known[:-1]}; fix the form and send again.")
            else:
                self._failed(f"{exc}. {known}")
            return
        except KondadoError as exc:
            self._failed(f"{exc}. Nothing was sent.")
            return
        except Exception as exc:  # a bug must not lose the form
            self._failed(f"unexpected {type(exc).__name__}: {redact(str(exc))}")
            return
        self.sending = False
        await asyncio.to_thread(self._doubts.clear, target)
        self.app.notify(
            f"Created pipeline {new_id} from {self.base.display_name}.", markup=False, timeout=10
        )
        if self._memory is not None:
            await self._remember(body)
        self.dismiss(new_id)

    async def _remember(self, body: dict[str, Any]) -> None:
        assert self._memory is not None
        try:
            await asyncio.to_thread(self._memory.remember, body)
        except KondadoError as exc:
            self.app.notify(str(exc), severity="warning", markup=False)

    def _failed(self, message: str, *, headline: str = "Not created") -> None:
        self.sending = False
        self._show_failure(f"{headline}: {message}", severity="error")
        self._update_summary(self.draft)
        self.app.bell()

    def _show_failure(self, message: str, *, severity: str) -> None:
        failure = self.query_one("#failure", Static)
        failure.update(Text(clean(redact(message))))
        failure.set_classes(f"-{severity}")

    def _clear_failure(self) -> None:
        failure = self.query_one("#failure", Static)
        failure.update("")
        failure.set_classes("")

    # -- leaving --------------------------------------------------------------------------

    def action_cancel(self) -> None:
        if self.sending:
            self.notify(
                "Sending: wait for Kondado's answer before leaving.",
                severity="warning",
                markup=False,
            )
            return
        draft = self.draft
        if draft == self._pristine or not draft.is_filled(str(self.base.id)):
            self.dismiss(None)
            return
        sent = (
            "A send from this form got no readable answer: the pipeline may have been "
            "created; look for it in the Kondado app."
            if self._maybe_sent
            else "Nothing has been sent to Kondado."
        )
        self.app.push_screen(
            ChoiceScreen(
                "Leave the duplicate form?",
                Text(sent),
                [
                    ("k", "keep", "leave, keep it for the next d"),
                    ("x", "discard", "leave, discard it"),
                ],
            ),
            callback=self._leave,
        )

    def _leave(self, answer: str | None) -> None:
        """keep: the dashboard brings it back at the next `d`; discard: it is gone."""
        if answer is None:
            return  # esc: stay in the form
        self.discarded = answer == "discard"
        self.dismiss(None)


__all__ = ["MAX_FORM_ROWS", "DuplicateReviewScreen", "DuplicateScreen", "Submit"]
