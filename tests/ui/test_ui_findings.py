"""Dashboard behaviour found wanting by QA against an independent API, kept fixed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from ui_fakes import SIZE, build, messages, plain, record_bells, screen_text, seed

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import FailureKind
from kondado_tui.core.events import PipelineFailed, Refusal, StatusObserved
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus, Severity
from kondado_tui.ui.screens.detail import DetailScreen, history_block
from kondado_tui.ui.view.columns import MESSAGE, SINCE, STATUS
from kondado_tui.ui.view.palette import PLAIN

NOT_FOUND = "the API refused: PIPELINE_NOT_FOUND — Pipeline 4200 not found for this account"


def _not_found(pid: int, message: str, at: float) -> PipelineFailed:
    """The API says it has no such pipeline (as the poller reports it)."""
    return PipelineFailed(pid, FailureKind.REJECTED, message, at, refusal=Refusal.NOT_FOUND)


async def test_a_refused_pipeline_is_a_trouble_row_not_pending(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.emit(_not_found(4200, NOT_FOUND, poller.clock.now()))
        poller.emit(
            PipelineFailed(
                3101,
                FailureKind.REJECTED,
                "the API refused: FORBIDDEN",
                poller.clock.now(),
                access_denied=True,
            )
        )
        await pilot.pause()
        assert plain(app, 4200, STATUS) == "✖ not found"
        assert plain(app, 3101, STATUS) == "✖ no access"  # overrides the status seen before
        assert "PIPELINE_NOT_FOUND" in plain(app, 4200, MESSAGE)
        counts = app.main.board.counts()
        assert counts[Severity.ERROR] == 3 and Severity.PENDING not in counts
        assert set(app.main.table.shown_keys[:3]) == {"3100", "3101", "4200"}
        # a passing failure (timeout) leaves a pending row pending
        app.main.board.rows[4200].failure = None
        poller.emit(PipelineFailed(4200, FailureKind.UNREACHABLE, "timed out", 0.0))
        await pilot.pause()
        assert plain(app, 4200, STATUS) == "… pending"


async def test_the_detail_of_a_refused_pipeline_says_asking_failed(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        poller.emit(_not_found(4200, NOT_FOUND, poller.clock.now()))
        await pilot.pause()
        app.main.table.select_key("4200")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert "asking failed" in text and "PIPELINE_NOT_FOUND" in text
        assert "has not been asked about yet" not in text
        assert "every ask so far has failed" in text
        assert str(app.screen.query_one("#title").render()).strip() == "pipeline 4200"


def _observe(pid: int, status: PipelineStatus, at: float) -> StatusObserved:
    return StatusObserved(pid, Observation(status, at), None, at)


async def test_an_undocumented_status_flagged_blocked_raises_an_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, poller = build(tmp_path)
    bells = record_bells(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        await pilot.pause()
        now = poller.clock.now()
        blocked = PipelineStatus(2040, "paused_by_billing", is_active=False, is_blocked=True)
        poller.emit(_observe(2040, blocked, now))
        await pilot.pause()
        assert bells == [1]
        assert any("paused by billing" in m for m in messages(app))


async def test_status_column_is_full_or_short_never_in_between(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.observe(2040, "too_many_consecutive_failed_builds__blocked", "x")
        await pilot.pause()
        layout = app.main.sync.layout
        assert layout is not None
        assert layout.width(STATUS) <= len("✖ build error") + 1  # the short labels
        assert layout.width(MESSAGE) >= 40
        assert plain(app, 2040, STATUS) == "⛔ blocked"


async def test_warning_rows_carry_the_warning_glyph(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.observe(2040, "active", "the source was slow")
        await pilot.pause()
        assert plain(app, 2040, STATUS) == "⚠ active"
        assert plain(app, 2041, STATUS) == "▶ running"


async def test_first_pass_progress_in_the_status_line(tmp_path: Path) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        poller.observe(2040, "active")
        poller.observe(2041, "running")
        await pilot.pause()
        assert "asking 2/5…" in screen_text(app)
        seed(poller)
        poller.emit(PipelineFailed(4200, FailureKind.UNREACHABLE, "timed out", 0.0))
        await pilot.pause()
        text = screen_text(app)
        assert "asking" not in text and "next in" in text


def test_history_shows_the_first_line_of_a_long_failure() -> None:
    from rich.console import Console

    from kondado_tui.core.history.timeline import HistorySummary, Transition
    from kondado_tui.ui.screens.detail import history_block
    from kondado_tui.ui.view.palette import PLAIN

    raw = "\n\nTraceback head line\n" + "\n".join(f"frame {i}" for i in range(600))
    failure = Transition(1, 100.0, "active", "too_many_consecutive_failed_builds__blocked", raw)
    block = history_block(HistorySummary(last_failure=failure), [failure], [], 200.0, PLAIN)
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(block)
    text = console.export_text()
    assert "too many consecutive failed builds blocked: Traceback head line" in text
    assert "frame 1" not in text


async def test_sorted_by_a_short_id_the_titles_keep_a_gap(tmp_path: Path) -> None:
    from kondado_tui.core.config import PipelineEntry

    entries = (PipelineEntry(101, "a", "g1"), PipelineEntry(102, "b", "g2"))
    app, _poller = build(tmp_path, entries=entries)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("s", "s")  # severity -> name -> id
        await pilot.pause()
        table = app.main.table
        columns = table.column_widths()
        assert table.column_label(columns[3][0]) == "id ▼"
        for key, width in columns:  # every title ends before its column's gap
            assert cell_len(table.column_label(key)) < width


async def test_read_only_shows_run_and_duplicate_disabled(tmp_path: Path) -> None:
    for read_only in (True, False):
        app, poller = build(tmp_path, read_only=read_only)
        async with app.run_test(size=SIZE) as pilot:
            seed(poller)
            await pilot.pause()
            state = {b.binding.action: b.enabled for b in app.screen.active_bindings.values()}
            assert state["run"] is not read_only and state["duplicate"] is not read_only
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            state = {b.binding.action: b.enabled for b in app.screen.active_bindings.values()}
            assert state["run"] is not read_only
            if read_only:
                await pilot.press("r")
                await pilot.pause()
                assert isinstance(app.screen, DetailScreen)
                assert any("read-only: running" in m for m in messages(app))


async def test_run_during_a_lock_out_says_when_it_will_go(tmp_path: Path) -> None:
    import asyncio

    from kondado_tui.core.events import Connection

    app, poller = build(tmp_path)
    release = asyncio.Event()

    async def held_run(pipeline_id: int) -> str:
        await release.wait()  # the budget holds the request until the lock-out ends
        return "queued"

    poller.run_pipeline = held_run  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.set_health(connection=Connection.RATE_LIMITED, retry_at=poller.clock.now() + 46.5)
        await pilot.pause()
        await pilot.press("r", "y")
        await pilot.pause()
        assert any(
            "will be sent when the rate-limit lock-out ends (in 47 s)" in m for m in messages(app)
        )
        assert not any("requested" in m for m in messages(app))
        release.set()
        await pilot.pause()
        await pilot.pause()
        assert any("requested: queued" in m for m in messages(app))
        await pilot.press("f")
        assert any("The question about" in m and "will be sent when" in m for m in messages(app))
        assert not any("Asking Kondado about" in m for m in messages(app))


async def test_no_pipelines_the_explanation_takes_the_tables_place(tmp_path: Path) -> None:
    from kondado_tui.core.events import Connection

    app, poller = build(tmp_path, entries=())
    async with app.run_test(size=SIZE) as pilot:
        poller.set_health(connection=Connection.STARTING, pipelines=0)
        await pilot.pause()
        empty = app.main.query_one("#empty")
        assert empty.region.y <= 3 and empty.region.height > 10  # at the top, not the bottom
        assert app.main.table.has_focus  # keys (a, /, ?) still work
        assert "nothing to ask" in str(app.main.query_one("#health").render())
        assert "connecting" not in str(app.main.query_one("#health").render())


async def test_toasts_leave_the_status_line_whole(tmp_path: Path) -> None:
    from textual.widgets._toast import Toast, ToastRack

    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        seed(poller)
        app.notify("hello", timeout=30)
        await pilot.pause()
        await pilot.pause()
        (toast,) = app.main.get_child_by_type(ToastRack).query(Toast)
        status = app.main.query_one("#statusbar")
        assert toast.region.bottom <= status.region.y
        assert toast.region.right == SIZE[0]


def test_help_explains_the_new_marks() -> None:
    from rich.console import Console

    from kondado_tui.ui.screens.help import help_text

    console = Console(width=100, record=True, file=io.StringIO())
    console.print(help_text())
    text = console.export_text()
    assert "⚠ active" in text and "✖ not found" in text and "✖ no access" in text


async def test_a_pipeline_refused_mid_session_alerts_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, poller = build(tmp_path)
    bells = record_bells(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.emit(_not_found(4200, NOT_FOUND, poller.clock.now()))
        await pilot.pause()
        assert bells == []  # refused from the start: shown, not announced
        gone = NOT_FOUND.replace("4200", "2040")
        for _ in range(2):
            poller.emit(_not_found(2040, gone, poller.clock.now()))
            await pilot.pause()
        assert bells == [1]
        assert any("not found" in m and "PIPELINE_NOT_FOUND" in m for m in messages(app))
        poller.observe(2040, "active")
        await pilot.pause()
        assert any("recovered" in m for m in messages(app))


async def test_an_undocumented_status_keeps_its_words_when_there_is_room(
    tmp_path: Path,
) -> None:
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.observe(2040, "too_many_consecutive_failed_builds__blocked", "x")
        poller.observe(2041, "paused_by_billing")
        await pilot.pause()
        assert plain(app, 2041, STATUS) == "? paused by billing"
        assert plain(app, 2040, STATUS) == "⛔ blocked"
        layout = app.main.sync.layout
        assert layout is not None and layout.width(MESSAGE) >= 40


async def test_since_first_seen_reads_as_at_least_in_the_table_and_details(
    tmp_path: Path,
) -> None:
    """A pipeline first seen already failing did not fail when we saw it: the since
    column says "at least", the details say "or earlier", never an exact time."""
    app, poller = build(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        seed(poller)
        poller.observe(3100, "error_building_tables", "boom", first_seen=True)
        await pilot.pause()
        assert plain(app, 3100, SINCE) == ""  # nothing known yet beyond "now"
        poller.clock.advance(185)
        app.main.tick()
        await pilot.pause()
        assert plain(app, 3100, SINCE) == "≥3m"
        assert plain(app, 2040, SINCE) == "3m"  # a change seen: exact (to a poll)
        app.main.table.move_cursor(row=app.main.table.get_row_index("3100"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert "or earlier (it was already in it when first seen)" in screen_text(app)
        await pilot.press("escape")
        poller.observe(3100, "active")  # now a change is seen
        await pilot.pause()
        assert plain(app, 3100, SINCE) == "<10s"
        poller.clock.advance(65)
        app.main.tick()
        await pilot.pause()
        assert plain(app, 3100, SINCE) == "1m"


def test_details_history_reads_refusals_and_first_sightings_as_such(tmp_path: Path) -> None:
    """The detail screen's history: a refusal stored in history reads '✖ not found' (not
    an unknown status '? not_found'), and a failure first seen already there is not
    claimed to have happened then."""
    clock = ManualClock()
    now = clock.now()
    with HistoryStore(tmp_path / "h.sqlite3", clock=clock) as store:
        store.record(
            Observation(PipelineStatus(7, "error_building_tables", raw_msg="boom"), now - 300)
        )
        store.record_refusal(7, Refusal.NOT_FOUND, "Pipeline not found", now - 120)
        block = history_block(store.summary(7), store.transitions(7), store.runs(7), now, PLAIN)
    console = Console(width=120, record=True, color_system=None)
    console.print(block)
    text = console.export_text()
    assert "✖ not found" in text and "not_found" not in text
    assert "last success  none recorded" in text  # not "never": only what this host saw
    assert "or earlier (first seen failing)" in text
    assert "(first seen)" in text.split("Transitions")[1]
