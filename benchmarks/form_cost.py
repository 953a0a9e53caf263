"""What a keystroke costs in the duplicate form as its rows grow, and what the detail
screen costs on the longest raw_msg kept.

    python benchmarks/form_cost.py                      # 0, 10, 50, 100 parameter rows
    python benchmarks/form_cost.py --rows 100 --keys 20 --no-write

The form runs in a child process on a 120x36 pseudo-terminal (this script with
`--host N`), opened on a draft with N parameter rows (and two table rows), the last
parameter's value focused. The benchmark types `--keys` characters into it, one at a
time, each once the previous one's output is over, and reports the child's CPU time
(user + system, from /proc) to open the form and per keystroke: everything the app
does for a key, the terminal output included. (Under Pilot the figure would mostly be
Pilot's own: each of its pauses calls every widget on the screen.)

Then the detail screen, in process and headless (`run_test`): it opens on a pipeline
whose raw_msg has each of `--message-chars` characters (the first is the longest kept,
`limits.MAX_MESSAGE`), and the poller delivers the same state `--keys` times (an open
pipeline is asked every few seconds); reported in CPU milliseconds
(`time.process_time`) per delivery.
Results go to stdout and benchmarks/results/form_cost.md (its notes, from the first
"## " heading on, are kept).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import time
from pathlib import Path
from typing import Any

import _pty
from textual.app import App
from textual.widgets import Input

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import PipelineEntry
from kondado_tui.core.duplicate import DuplicateDraft, ParamRow, TableRow
from kondado_tui.core.events import Connection, Health
from kondado_tui.core.guards.limits import MAX_MESSAGE
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.ui.screens.detail import DetailScreen
from kondado_tui.ui.screens.duplicate import DuplicateScreen, ParamRowEditor
from kondado_tui.ui.view.board import Row
from kondado_tui.ui.view.palette import Palette

RESULTS = Path(__file__).resolve().parent / "results" / "form_cost.md"
BASE = PipelineEntry(2040, "Shopify orders", "shop")
SIZE = (120, 36)
T0 = 1_790_000_000.0


class FormHost(App[None]):
    def __init__(self, draft: DuplicateDraft) -> None:
        super().__init__()
        self._draft = draft

    async def submit(self, body: dict[str, Any]) -> int:
        return 1

    def on_mount(self) -> None:
        self.push_screen(DuplicateScreen(BASE, self._draft, self.submit))


def draft_with(rows: int) -> DuplicateDraft:
    return DuplicateDraft(
        base_id="2040",
        src="5052",
        dest="7002",
        full_tables=[TableRow("", "orders"), TableRow("items", "order_items")],
        parameters=[ParamRow(f"param_{i}", f"value {i}") for i in range(rows)],
    )


class HostedForm(FormHost):
    """The form on a real terminal (`--host N`): the last parameter's value focused, no
    cursor blink (its timer would add to every measurement)."""

    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self._focus_last)

    def _focus_last(self) -> None:
        for widget in self.screen.query(Input):
            widget.cursor_blink = False
        editors = list(self.screen.query(ParamRowEditor))
        if editors:
            editors[-1].value_input.focus()


def form_keystroke_ms(rows: int, keys: int) -> tuple[float, float]:
    """CPU seconds of the form process until it is painted and quiet (Python's start
    included), and CPU milliseconds per keystroke, each key sent once the previous
    one's output has stopped (nothing written for 0.3 s)."""
    child = _pty.spawn([sys.executable, __file__, "--host", str(rows)], size=SIZE)
    try:
        if child.wait_for(b"Parameters to overwrite", 120) is None:
            raise SystemExit(f"the form did not paint:\n{child.output()[-600:]!r}")
        child.wait_quiet(1.0, 60)
        opened = child.cpu_seconds()
        spent = 0.0
        for _ in range(keys):
            before = child.cpu_seconds()
            child.write(b"x")
            time.sleep(0.05)
            child.wait_quiet(0.3, 30)
            spent += child.cpu_seconds() - before
    finally:
        child.stop()
    return opened, spent / keys * 1000


class DetailHost(App[None]):
    """The detail screen alone, on one pipeline whose raw_msg is `chars` long."""

    def __init__(self, chars: int) -> None:
        super().__init__()
        line = "at connector.fetch(page=12) -> timeout while reading the source; retrying "
        text = "\n".join(line for _ in range(chars // len(line) + 1))[:chars]
        self.row = Row(PipelineEntry(2040, "Orders"), self.observation(text), since=T0)
        self.read_only = False

    @staticmethod
    def observation(text: str) -> Observation:
        status = PipelineStatus(2040, "error_building_tables", is_blocked=True, raw_msg=text)
        return Observation(status, T0)

    def on_mount(self) -> None:
        palette = Palette.from_variables(self.get_css_variables())
        self.push_screen(
            DetailScreen(
                self.row, clock=ManualClock(T0), store=None, palette=palette, commands=self
            )
        )

    @property
    def health(self) -> Health:
        return Health(Connection.OK, budget_per_minute=18)

    def run_one(self, pipeline_id: int) -> None: ...
    def ask_now(self, pipeline_id: int) -> None: ...
    def copy_url(self, pipeline_id: int) -> None: ...


async def detail_delivery_ms(chars: int, deliveries: int) -> float:
    """CPU per answer delivered to an open detail screen (the same state again: a
    focused pipeline is asked every few seconds)."""
    app = DetailHost(chars)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        started = time.process_time()
        for i in range(deliveries):
            observation = Observation(app.row.observation.status, T0 + i)  # type: ignore[union-attr]
            screen.update_row(Row(app.row.entry, observation, since=T0))
            await pilot.pause()
        spent = time.process_time() - started
    return spent / deliveries * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="0,10,50,100")
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument(
        "--message-chars",
        default=f"{MAX_MESSAGE},5000000",
        help="raw_msg lengths for the detail screen (the first is the longest kept)",
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--host", type=int, help=argparse.SUPPRESS)  # the form, on a pty
    args = parser.parse_args()
    if args.host is not None:
        HostedForm(draft_with(args.host)).run()
        return 0
    sizes = [int(s) for s in args.rows.split(",")]
    started = time.monotonic()
    lines = [
        "| parameter rows | CPU s to open (process) | CPU ms per keystroke |",
        "|---:|---:|---:|",
    ]
    for rows in sizes:
        opened, ms = form_keystroke_ms(rows, args.keys)
        print(f"{rows:5d} rows: opened in {opened:5.2f} CPU-s, {ms:6.1f} ms per keystroke")
        lines.append(f"| {rows} | {opened:.2f} | {ms:.1f} |")
    detail = ["| raw_msg characters | CPU ms per answer delivered |", "|---:|---:|"]
    for chars in [int(c) for c in args.message_chars.split(",") if c]:
        ms = asyncio.run(detail_delivery_ms(chars, args.keys))
        print(f"detail screen, raw_msg of {chars} characters: {ms:8.1f} ms per answer", flush=True)
        detail.append(f"| {chars} | {ms:.1f} |")
    report = "\n".join(
        [
            "# Form cost",
            "",
            f"The duplicate form on a 120x36 pty: CPU of the process to open it (Python's "
            f"start included) and per keystroke, {args.keys} keystrokes into the last "
            "parameter's value (ticks of 10 ms: single figures are coarse).",
            "",
            *lines,
            "",
            f"The detail screen open on a pipeline whose raw_msg has this many characters, "
            f"the same state delivered {args.keys} times.",
            "",
            *detail,
            "",
            f"Python {platform.python_version()}, {platform.machine()}; produced by "
            f"`python benchmarks/form_cost.py` in {time.monotonic() - started:.0f} s.",
            "",
        ]
    )
    if not args.no_write:
        notes = ""
        if RESULTS.exists():
            old = RESULTS.read_text(encoding="utf-8")
            if "\n## " in old:
                notes = old[old.index("\n## ") :]
        RESULTS.write_text(report + notes, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
