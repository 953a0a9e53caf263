"""The duplicate form, driven with Pilot inside a small host app (no dashboard needed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Static, Switch

from kondado_tui.core.actions import DoubtLog, duplicate_target
from kondado_tui.core.api import KondadoClient
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.duplicate import DuplicateDraft, MappingMemory, ParamRow, TableRow
from kondado_tui.core.errors import BadAnswer, RateLimited, Rejected, Unreachable
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld
from kondado_tui.ui.screens.confirm import ChoiceScreen, SecondConfirmScreen
from kondado_tui.ui.screens.duplicate import (
    DuplicateReviewScreen,
    DuplicateScreen,
    TableRowEditor,
)

BASE = PipelineEntry(2040, "Shopify orders", "shop")
SIZE = (120, 36)
Submit = Callable[[dict[str, Any]], Awaitable[int]]


class Host(App[None]):
    """Opens the form on mount and keeps what it was dismissed with."""

    def __init__(
        self,
        submit: Submit | None = None,
        draft: DuplicateDraft | None = None,
        memory: MappingMemory | None = None,
        doubts: DoubtLog | None = None,
    ) -> None:
        super().__init__()
        self._doubts = doubts
        self.sent: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.answer: int | Exception = 9001
        self._submit = submit or self.fake_submit
        self._draft = draft
        self._memory = memory
        self._base = BASE
        self.result: int | str | None = "open"

    def notify(self, message: str, **options: Any) -> None:  # type: ignore[override]
        self.notes.append(message)
        super().notify(message, **options)

    async def fake_submit(self, body: dict[str, Any]) -> int:
        self.sent.append(body)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def on_mount(self) -> None:
        self.form_seen = DuplicateScreen(
            self._base, self._draft, self._submit, memory=self._memory, doubts=self._doubts
        )
        self.push_screen(self.form_seen, callback=self._done)

    def _done(self, result: int | None) -> None:
        self.result = result
        self.form_after = self.form_seen
        self.draft_in_callback = self.form_after.draft  # what the dashboard reads

    @property
    def form(self) -> DuplicateScreen:
        for screen in self.screen_stack:
            if isinstance(screen, DuplicateScreen):
                self.form_seen = screen
                return screen
        raise AssertionError("the form is not open")


def filled() -> DuplicateDraft:
    return DuplicateDraft(
        base_id="2040",
        src="5052",
        dest="7002",
        full_tables=[
            TableRow("", "outlet_orders"),
            TableRow("line_items", "outlet_items"),
            TableRow("customers", "outlet_customers"),
            TableRow("fulfillments", "outlet_fulfillments"),
        ],
    )


EXPECTED = {
    "pipeline_id": 2040,
    "dest_collection_id": 7002,
    "src_collection_id": 5052,
    "full_tables": {
        "": "outlet_orders",
        "line_items": "outlet_items",
        "customers": "outlet_customers",
        "fulfillments": "outlet_fulfillments",
    },
    "execute_immediately": "N",
}


async def settle(pilot: Pilot[Any]) -> None:
    for _ in range(3):
        await pilot.pause()


def message_of(form: DuplicateScreen, input_id: str) -> str:
    widget = form.query_one(f"#{input_id}", Input)
    node = widget.parent
    while node is not None and not node.query(".message"):
        node = node.parent
    assert node is not None
    return str(node.query_one(".message", Static).render())


def screen_words(app: App[Any]) -> str:
    """Every Static's text on the top screen, on long lines."""
    return " ".join(text_of(w) for w in app.screen.query(Static))


def text_of(widget: Static) -> str:
    return str(widget.render())


async def review_and_send(pilot: Pilot[Any]) -> None:
    """ctrl+s opens the review, y sends."""
    await pilot.press("ctrl+s")
    await settle(pilot)
    await pilot.press("y")
    await settle(pilot)


async def type_into(pilot: Pilot[Any], form: DuplicateScreen, input_id: str, text: str) -> None:
    form.query_one(f"#{input_id}", Input).focus()
    await pilot.press(*text)
    await settle(pilot)


# -- the form ---------------------------------------------------------------------------


async def test_the_base_is_prefilled_and_the_name_placeholder_is_the_bases_name() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        assert form.query_one("#base", Input).value == "2040"
        assert form.query_one("#name", Input).placeholder == "default: Shopify orders"
        assert form.query_one("#execute", Switch).value is False
        rows = list(form.query(TableRowEditor))
        assert len(rows) == 1 and rows[0].is_main
        assert "main table" in str(rows[0].query_one(".main").render())
        assert app.focused is form.query_one("#src", Input)


async def test_messages_appear_beside_the_field_as_you_type() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        assert message_of(form, "src") == ""  # untouched: no message yet
        await type_into(pilot, form, "src", "12a")
        assert "is not a whole number" in message_of(form, "src")
        assert form.query_one("#src", Input).has_class("-problem")
        await pilot.press("backspace")
        await settle(pilot)
        assert message_of(form, "src") == ""
        assert not form.query_one("#src", Input).has_class("-problem")
        await type_into(pilot, form, "client", "12345-X")
        assert "number before the dash only: 12345" in message_of(form, "client")


async def test_review_is_refused_while_invalid_and_says_what() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        form = app.form
        assert app.screen is form  # no review step
        summary = text_of(form.query_one("#summary", Static))
        assert "3 problems to fix before review" in summary
        assert "source collection (src_collection_id): required" in summary
        assert "required" in message_of(form, "dest")  # every problem now shows
        assert app.focused is form.query_one("#src", Input)
        assert app.sent == []


async def test_review_shows_the_exact_body_and_the_tables_then_y_sends() -> None:
    app = Host(draft=filled())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "ready" in text_of(app.form.query_one("#summary", Static))
        await pilot.press("ctrl+s")
        await settle(pilot)
        review = app.screen
        assert isinstance(review, DuplicateReviewScreen)
        shown = "\n".join(text_of(s) for s in review.query(Static))
        assert '"pipeline_id": 2040' in shown and '"execute_immediately": "N"' in shown
        assert "SILENTLY RECREATED" in shown
        for name in EXPECTED["full_tables"].values():
            assert f"• {name}" in shown
        await pilot.press("enter")  # enter does not send: only y does
        await settle(pilot)
        assert app.sent == [] and app.screen is review
        await pilot.press("y")
        await settle(pilot)
        assert app.sent == [EXPECTED]
        assert app.result == 9001
        assert "Created pipeline 9001 from Shopify orders." in app.notes


async def test_esc_in_review_goes_back_with_everything_kept() -> None:
    app = Host(draft=filled())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.form.draft
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.form and app.form.draft == before and app.sent == []


async def test_every_field_reaches_the_body() -> None:
    draft = filled()
    draft.delta_tables = [TableRow("", "outlet_orders_d")]
    draft.parameters = [ParamRow("start_date", "2024-01-01"), ParamRow("ids", "[1, 2]")]
    app = Host(draft=draft)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        await type_into(pilot, form, "client", "31552")
        await type_into(pilot, form, "name", "Outlet q")  # q types a q inside an input
        form.query_one("#execute", Switch).focus()
        await pilot.press("space")
        await settle(pilot)
        await review_and_send(pilot)
    assert app.sent == [
        {
            **EXPECTED,
            "client_id": 31552,
            "deltas_tables": {"": "outlet_orders_d"},
            "execute_immediately": "Y",
            "name": "Outlet q",
            "overwrite_parameters": {"start_date": "2024-01-01", "ids": [1, 2]},
        }
    ]


# -- rows -------------------------------------------------------------------------------


async def test_rows_are_added_and_removed_with_keys() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert len(form.draft.full_tables) == 2
        assert app.focused is not None and app.focused.has_class("path")
        await pilot.press(*"items", "enter", *"outlet_items")
        await settle(pilot)
        assert form.draft.full_tables[1] == TableRow("items", "outlet_items")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert form.draft.full_tables == [TableRow("", "")]
        await pilot.press("ctrl+r")  # the cursor is now in the main row: it stays
        await settle(pilot)
        assert form.draft.full_tables == [TableRow("", "")]


async def test_the_first_delta_row_is_the_main_table() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        await pilot.press("ctrl+l")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert [r.path for r in form.draft.delta_tables] == ["", ""]
        rows = [r for r in form.query(TableRowEditor) if r.section == "delta_tables"]
        assert rows[0].is_main and not rows[1].is_main
        rows[0].query_one(".name", Input).focus()
        await pilot.press("ctrl+r")  # the main delta row goes last
        await settle(pilot)
        assert len(form.draft.delta_tables) == 2
        rows[1].query_one(".name", Input).focus()
        await pilot.press("ctrl+r")
        await settle(pilot)
        rows[0].query_one(".name", Input).focus()
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert form.draft.delta_tables == []


async def test_parameter_rows_and_their_messages() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        await pilot.press("ctrl+o")
        await settle(pilot)
        await pilot.press(*"ids", "enter", *"[1,")
        await settle(pilot)
        assert form.draft.parameters == [ParamRow("ids", "[1,")]
        assert app.focused is not None and app.focused.id is not None
        assert "looks like JSON but is not valid" in message_of(form, app.focused.id)


async def test_a_name_in_full_and_delta_tables_is_a_warning() -> None:
    draft = filled()
    draft.delta_tables = [TableRow("", "outlet_orders")]
    app = Host(draft=draft)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        row = next(r for r in form.query(TableRowEditor) if r.section == "delta_tables")
        message = row.query_one(".message", Static)
        assert "⚠" in text_of(message) and "also a full table's name" in text_of(message)
        assert not message.has_class("-error")
        assert "ready" in text_of(form.query_one("#summary", Static))


# -- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error, expected",
    [
        (
            Rejected("the API refused: Field 'full_tables': missing table path(s) 'x'"),
            "missing table path(s) 'x'. Nothing was created",
        ),
        (
            RateLimited("rate limited by the API (RATE_LIMIT_EXCEEDED): wait", retry_after=60),
            "Nothing was created; try again in 60 s",
        ),
        (
            Unreachable("POST /pipelines: no answer (timed out)", maybe_delivered=True),
            "Outcome unknown: POST /pipelines: no answer (timed out). The request went out "
            "and no readable answer came back: the pipeline may have been created",
        ),
        (
            Unreachable("POST /pipelines: cannot connect (refused)"),
            "Not created: POST /pipelines: cannot connect (refused). Nothing was created.",
        ),
        (
            BadAnswer("POST /pipelines: got an HTML page instead of JSON (HTTP 200)"),
            "the pipeline may have been created",
        ),
        (RuntimeError("boom"), "unexpected RuntimeError: boom"),
    ],
)
async def test_a_failure_is_shown_and_everything_typed_is_kept(
    error: Exception, expected: str
) -> None:
    app = Host(draft=filled())
    app.answer = error
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        await type_into(pilot, form, "name", "Outlet")
        before = form.draft
        await review_and_send(pilot)
        assert app.screen is form and app.result == "open"
        failure = form.query_one("#failure", Static)
        assert expected in text_of(failure) and failure.has_class("-error")
        assert form.draft == before
        assert not form.sending


SUCCESS_CUT = '{"success": true, "data": {"success": true, "data": {"new_pipeline_id": 12'


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        (FaultMode.HTML_200, {}),
        (FaultMode.MALFORMED_JSON, {"body": SUCCESS_CUT}),
        (FaultMode.RESET, {}),
        (FaultMode.NO_ANSWER, {}),
    ],
    ids=["html_200", "malformed_json", "reset", "no_answer"],
)
async def test_an_unknown_outcome_over_http_never_says_nothing_was_created(
    sim_factory: Callable[..., SimServer], fault: FaultMode, options: dict[str, Any]
) -> None:
    sim = sim_factory(world=SimWorld(demo=True), rate_limit=False)
    sim.set_fault(fault, count=1, **options)
    client = KondadoClient(sim.base_url, sim.key, sim.token, timeout=0.5)
    app = Host(submit=client.duplicate, draft=filled())
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            form = app.form
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("y")
            for _ in range(100):
                await pilot.pause(0.02)
                if not form.sending:
                    break
            shown = text_of(form.query_one("#failure", Static))
    finally:
        await client.aclose()
    assert shown.startswith("Outcome unknown: ")
    assert "the pipeline may have been created" in shown
    assert "Nothing was created" not in shown and "fix the form" not in shown
    assert sim.token not in shown


async def test_api_text_is_shown_literally_and_without_escape_sequences() -> None:
    app = Host(draft=filled())
    app.answer = Rejected("the API refused: [bold red]x[/] oops [/] \x1b[2J\x1b]52;c;aGk=\x07")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await review_and_send(pilot)
        shown = text_of(app.form.query_one("#failure", Static))
        assert "[bold red]x[/] oops [/]" in shown
        assert "\x1b" not in shown and "52;c" not in shown


# -- leaving ----------------------------------------------------------------------------


async def test_esc_on_an_untouched_form_closes_at_once() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.result is None


async def test_esc_on_a_filled_form_asks_first() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_into(pilot, app.form, "src", "5052")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        assert "Nothing has been sent to Kondado." in screen_words(app)
        await pilot.press("escape")  # stay
        await settle(pilot)
        assert app.screen is app.form and app.form.draft.src == "5052"
        app.form.query_one("#execute", Switch).focus()
        await pilot.press("q")  # outside an input, q asks too instead of quitting
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("k")  # leave, keep it
        await settle(pilot)
        assert app.result is None and not app.form_after.discarded
        assert app.draft_in_callback.src == "5052"
        assert app.form_after.draft.src == "5052"  # still readable once taken down


async def test_leaving_with_discard_says_so_to_the_dashboard() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_into(pilot, app.form, "src", "5052")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert app.result is None and app.form_after.discarded


async def test_leaving_after_an_unknown_outcome_does_not_say_nothing_was_sent() -> None:
    app = Host(draft=filled())
    app.answer = BadAnswer("POST /pipelines: got an HTML page instead of JSON (HTTP 200)")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await review_and_send(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        words = screen_words(app)
        assert "may have been created" in words and "Nothing has been sent" not in words


async def test_the_same_body_after_an_unknown_outcome_asks_a_second_time(
    tmp_path: Path,
) -> None:
    doubts = DoubtLog(tmp_path / "unknown.json")
    app = Host(draft=filled(), doubts=doubts)
    app.answer = Unreachable("POST /pipelines: no answer (timed out)", maybe_delivered=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await review_and_send(pilot)
        assert len(app.sent) == 1
        app.answer = 9002
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")  # the review says yes ...
        await settle(pilot)
        assert isinstance(app.screen, SecondConfirmScreen)  # ... and a second question
        words = screen_words(app)
        assert "SECOND pipeline" in words and "outlet_orders" in words
        await pilot.press("enter")  # enter, out of habit, does not send
        await settle(pilot)
        assert app.screen is app.form and len(app.sent) == 1
        await review_and_send(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert len(app.sent) == 2 and app.result == 9002
    assert doubts.find(duplicate_target(EXPECTED)) is None  # it worked: no more doubt


async def test_every_key_is_in_the_footer() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert {"ctrl+s", "ctrl+t", "ctrl+l", "ctrl+o", "ctrl+r", "escape"} <= shown


# -- remembered mappings and the real client --------------------------------------------


async def test_remembered_mappings_prefill_and_are_saved_after_success(tmp_path: Path) -> None:
    memory = MappingMemory(tmp_path / "dup.json")
    memory.remember(EXPECTED)
    app = Host(memory=memory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        form = app.form
        assert form.draft.full_tables == filled().full_tables
        assert form.draft.src == ""
        await type_into(pilot, form, "src", "5052")
        await type_into(pilot, form, "dest", "7001")
        form.query(TableRowEditor).first().query_one(".name", Input).value = "acme_orders"
        await settle(pilot)
        await review_and_send(pilot)
    assert app.result == 9001
    again = memory.recall(2040)
    assert again is not None and again.full_tables[0] == TableRow("", "acme_orders")


async def test_esc_leaves_remembered_mappings_without_asking_unless_changed(
    tmp_path: Path,
) -> None:
    memory = MappingMemory(tmp_path / "dup.json")
    memory.remember(EXPECTED)
    app = Host(memory=memory)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_into(pilot, app.form, "src", "1")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)  # changed: asks
        await pilot.press("escape")  # stay
        await settle(pilot)
        await pilot.press("backspace", "escape")
        await settle(pilot)
        assert app.result is None  # as remembered: nothing to lose


async def test_a_corrupt_memory_file_is_a_note_on_the_form(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text("{oops")
    app = Host(memory=MappingMemory(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        failure = app.form.query_one("#failure", Static)
        assert "remembered mappings ignored" in text_of(failure)
        assert failure.has_class("-note")


async def test_the_form_sends_through_a_real_client_to_the_simulator(
    sim_factory: Callable[..., SimServer],
) -> None:
    sim = sim_factory(world=SimWorld(demo=True), rate_limit=False)
    client = KondadoClient(sim.base_url, sim.key, sim.token)
    app = Host(submit=client.duplicate, draft=filled())
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("y")
            for _ in range(50):
                await pilot.pause(0.02)
                if app.result != "open":
                    break
    finally:
        await client.aclose()
    assert sim.world.duplicate_bodies == [EXPECTED]
    assert isinstance(app.result, int) and app.result in sim.world.pipeline_ids


async def test_the_title_shows_a_name_literally() -> None:
    app = Host()
    app._base = PipelineEntry(1, "[b]x[/] \x1b[2J")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = text_of(app.form.query_one("#title", Static))
        assert shown.startswith("Duplicate [b]x[/] ") and "\x1b" not in shown
