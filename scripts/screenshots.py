"""Regenerate the screenshots in README.md and docs/: `python scripts/screenshots.py`.

Starts the built-in simulator (as `kondado-tui --demo` does), runs the dashboard headless
until every pipeline has been observed, and saves SVGs of the main screen, the detail
screen, the run confirmation, the help screen, and the duplicate form and its review
step into `screenshots/`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.duplicate import MappingMemory

SIZE = (120, 36)
DUPLICATE_BASE = 2040
WAIT = 120.0  # the first round asks every pipeline once, inside the rate budget
SETTLE = 60.0


async def capture(out: Path, size: tuple[int, int], wait: float, settle: float) -> list[Path]:
    from kondado_tui.core.session import open_demo
    from kondado_tui.core.sim import SimWorld
    from kondado_tui.ui.app import KondadoApp

    session = open_demo(SYSTEM_CLOCK)
    memory = MappingMemory(session.config.path.parent / "duplicates.json")
    # A mapping used before for 2040, so the form opens filled as it would in real use.
    example = SimWorld(demo=True).example_duplicate_body(DUPLICATE_BASE)
    memory.remember({**example, "execute_immediately": "N"})
    app = KondadoApp(session, clock=SYSTEM_CLOCK, memory=memory)
    saved: list[Path] = []
    try:
        async with app.run_test(size=size) as pilot:
            board = app.main.board
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not all(
                row.observation for row in board.rows.values()
            ):
                await asyncio.sleep(0.5)
            await asyncio.sleep(settle)  # a few runs come and go: history to show
            await pilot.pause()

            def save(name: str) -> None:
                path = out / f"{name}.svg"
                path.write_text(
                    app.export_screenshot(title=f"kondado-tui: {name}"), encoding="utf-8"
                )
                saved.append(path)

            app.clear_notifications()
            save("main")
            # The detail of the pipeline with the most runs to show (trouble breaks ties).
            candidates = sorted(
                board.rows.values(),
                key=lambda r: (
                    -len(r.history.recent_durations) if r.history else 0,
                    not r.severity.is_trouble,
                ),
            )
            if candidates:
                app.main.table.select_key(str(candidates[0].id))
            await pilot.press("enter")
            await asyncio.sleep(1.0)
            save("detail")
            await pilot.press("escape")
            await pilot.press("r")
            await pilot.pause()
            save("run-confirm")
            await pilot.press("escape")
            await pilot.press("question_mark")
            await pilot.pause()
            save("help")
            await pilot.press("escape")
            app.main.table.select_key(str(DUPLICATE_BASE))
            await pilot.press("d")
            await asyncio.sleep(1.0)
            # Collections are not remembered (they change with each roll-out): type them.
            await pilot.press(*str(example["src_collection_id"]), "tab")
            await pilot.press(*str(example["dest_collection_id"]), "tab", "tab")
            await pilot.press(*"Shopify outlet orders")
            await _still(pilot)
            save("duplicate")
            await pilot.press("ctrl+s")
            await asyncio.sleep(0.5)
            await _still(pilot)
            save("duplicate-review")
            await pilot.press("escape")
    finally:
        await session.aclose()
    return saved


async def _still(pilot: Pilot[Any]) -> None:
    """No blinking cursor in a picture."""
    for screen in pilot.app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False
    await pilot.pause()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--width", type=int, default=SIZE[0])
    parser.add_argument("--height", type=int, default=SIZE[1])
    parser.add_argument(
        "--wait", type=float, default=WAIT, help="seconds to wait for every pipeline to be observed"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE,
        help="seconds to keep watching after that (history for the details)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    saved = asyncio.run(capture(args.out, (args.width, args.height), args.wait, args.settle))
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
