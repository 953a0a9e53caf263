"""The footer at 80 columns: what it cuts is the least needed, never run, details, help,
quit or ask now (every key stays in `?` and ctrl+p)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_ui_app import build

from kondado_tui.ui.screens.help import KEYS


@pytest.mark.parametrize("width", [80, 120])
async def test_run_details_help_and_quit_fit_the_footer(tmp_path: Path, width: int) -> None:
    app, _ = build(tmp_path)
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        keys: list[Any] = list(app.screen.query("FooterKey"))  # by name: not exported
        shown = {key.description for key in keys if key.region.width and key.region.right <= width}
        assert {"details", "run", "help", "quit", "ask now"} <= shown
        if width >= 120:
            every = {key.description for key in keys}
            assert shown == every  # a wide terminal shows every key
        helped = " ".join(key for _, key, _ in KEYS)
        for key in keys:
            assert key.key in helped or key.key in ("enter", "space", "slash", "question_mark")
