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

# Sends a body, returns the new pipeline's id; raises kondado_tui.core.errors on failure.
Submit = Callable[[dict[str, Any]], Awaitable[int]]

_ids = itertools.count(1)


def _plain(text: str) -> Text:
    """Untrusted or user text, shown literally on one line and without escapes."""
    return Text(clean(text, keep_newlines=False))


# -- rows -------------------------------------------------------------------------------


def _input(value: str, placeholder: str, id: str, classes: str | None = None) -> Input:
    return Input(
        value, placeholder=placeholder, id=id, classes=classes, compact=True, select_on_focus=False
    )


def _message() -> Static:
    """The line under a field or row where its problem is shown."""
    return Static("", classes="message", markup=False)


def _pair(left: Widget, arrow: str, right: Input) -> ComposeResult:
    """A table or parameter row: `path → name` or `name = value`, its message below."""
    with Horizontal(classes="line"):
        yield left
        yield Label(Text(arrow), classes="arrow")
        yield right
    yield _message()


class FieldRow(Vertical):
    """A labelled input with its message underneath."""

    def __init__(self, key: str, label: str, value: str, placeholder: str) -> None:
        super().__init__(classes="field")
        self.key = key
        self._label = label
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Horizontal(classes="line"):
            yield Label(Text(self._label), classes="label")
            yield _input(self._value, self._placeholder, self.key)
        yield _message()


class TableRowEditor(Vertical):
    """One table mapping: the path in the base -> the new table's name."""

    def __init__(self, section: str, row: TableRow, *, main: bool | None = None) -> None:
        super().__init__(classes="row")
        self.section = section
        self.is_main = row.is_main if main is None else main
        self._row = row
        self.uid = next(_ids)

    def compose(self) -> ComposeResult:
        prefix = f"{self.section}-{self.uid}"
        path: Widget = (
            Label(Text("main table"), classes="path main")
            if self.is_main
            else _input(
                self._row.path, "path in the base, e.g. line_items", f"{prefix}-path", "path"
            )
        )
        name = _input(self._row.name, "new table name", f"{prefix}-name", "name")
        yield from _pair(path, "→", name)

    @property
    def row(self) -> TableRow:
        name = self.query_one(".name", Input).value
        if self.is_main:
            return TableRow(MAIN_PATH, name)
        return TableRow(self.query_one(".path", Input).value, name)

    def input_for(self, part: str) -> Input | None:
        if part == "path" and self.is_main:
            return None
        return self.query_one(f".{part}", Input)


class ParamRowEditor(Vertical):
    """One parameter to overwrite: its name = a value (JSON when it looks like JSON)."""

    def __init__(self, row: ParamRow) -> None:
        super().__init__(classes="row")
        self.section = PARAMS
        self.is_main = False
        self._row = row
        self.uid = next(_ids)

    def compose(self) -> ComposeResult:
        name = _input(self._row.name, "parameter name", f"param-{self.uid}-name", "pname")
        value = _input(
            self._row.value,
            'value: text, 12, true, [1, 2], "12"',
            f"param-{self.uid}-value",
            "value",
        )
        yield from _pair(name, "=", value)

    @property
    def row(self) -> ParamRow:
        return ParamRow(
            self.query_one(".pname", Input).value, self.query_one(".value", Input).value
        )

    def input_for(self, part: str) -> Input | None:
        return self.query_one(".pname" if part == "name" else ".value", Input)


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
            yield Static("", id="full_tables-message", classes="message", markup=False)
            with Vertical(id="full_tables-rows", classes="rows"):
                for row in d.full_tables:
                    yield TableRowEditor(FULL, row)
            yield Static(
                Text("Delta tables (optional, ctrl+l adds; with them, the main table too)"),
                classes="section",
            )
            yield Static("", id="delta_tables-message", classes="message", markup=False)
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

    @property
    def draft(self) -> DuplicateDraft:
        """Everything typed, as the core's draft (the dashboard may keep it).

        Readable after the screen is dismissed too: then it is the last one seen.
        """
        with contextlib.suppress(NoMatches):  # not composed yet, or already taken down
            self._last = self._read_draft()
        return copy.deepcopy(self._last)

    def _read_draft(self) -> DuplicateDraft:
        def value(key: str) -> str:
            return self.query_one(f"#{key}", Input).value

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
        parsed = parse_row_key(key)
        if parsed is None:
            found = self.query(f"#{key}")
            first = found.first() if found else None
            return first if isinstance(first, Input) else None
        section, index, part = parsed
        rows = self._rows(section)
        return rows[index].input_for(part) if index < len(rows) else None

    # -- validation as you type -----------------------------------------------------------

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id:
            self._touched.add(event.input.id)
        self._revalidate()

    @on(Switch.Changed)
    def _switched(self) -> None:
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
        draft = self.draft
        self.problems = validate(draft)
        notes = warnings(draft)
        messages: dict[Widget, list[Text]] = {}
        errors: set[Widget] = set()  # holders with an error (else only warnings)

        def add(key: str, text: str, style: str) -> None:
            widget = self._input_for(key)
            if not self._visible(key, widget):
                return
            holder = self._message_holder(key, widget)
            if holder is None:
                return
            parsed = parse_row_key(key)
            prefix = f"{parsed[2]}: " if parsed is not None else ""
            line = Text(("✖ " if style == "error" else "⚠ ") + prefix)
            line.append(_plain(text))
            messages.setdefault(holder, []).append(line)
            if style == "error":
                errors.add(holder)
            if widget is not None:
                widget.set_class(style == "error", "-problem")

        for widget in self.query(Input):
            widget.remove_class("-problem")
        for key, text in self.problems.items():
            add(key, text, "error")
        for key, text in notes.items():
            if key not in self.problems:
                add(key, text, "warning")
        for holder in self.query(".message"):
            if isinstance(holder, Static):
                lines = messages.get(holder, [])
                holder.update(Text("\n").join(lines))
                holder.set_class(not lines, "-empty")
                holder.set_class(holder in errors, "-error")
        self._update_summary(draft)
        self._update_execute_word()

    def _message_holder(self, key: str, widget: Input | None) -> Static | None:
        if key in (FULL, DELTA):
            return self.query_one(f"#{key}-message", Static)
        if widget is None:
            return None
        parent = widget.parent
        while parent is not None and not isinstance(
            parent, (FieldRow, TableRowEditor, ParamRowEditor)
        ):
            parent = parent.parent
        return parent.query_one(".message", Static) if parent is not None else None

    def _update_summary(self, draft: DuplicateDraft) -> None:
        summary = self.query_one("#summary", Static)
        count = len(self.problems)
        if self.sending:
            text = Text("Sending to Kondado… (waits for a slot in the rate budget)", style="bold")
        elif count:
            key, message = next(iter(self.problems.items()))
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
        word = "yes: runs right after it is created" if on_ else "no: waits for its schedule"
        self.query_one("#execute-word", Label).update(Text(word))

    # -- rows -----------------------------------------------------------------------------

    async def action_add_row(self, section: str) -> None:
        if self.sending:
            return
        rows = self._rows(section)
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


__all__ = ["DuplicateReviewScreen", "DuplicateScreen", "Submit"]
