"""The shutdown deadline: once the app is told to end, the process is gone in bounded time.

`arm_deadline` runs on a thread with the real clock (the loop may be what hangs), so these
tests use short graces and record the forced exit instead of taking it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

from kondado_tui.ui.terminal.lifecycle import Lifecycle, arm_deadline


class StuckApp:
    """An app told to exit that never does."""

    def __init__(self) -> None:
        self.exits: list[int] = []

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        self.exits.append(return_code)


def test_an_overdue_shutdown_ends_the_process_with_its_status() -> None:
    forced: list[int] = []
    done = threading.Event()

    def force_exit(code: int) -> None:
        forced.append(code)
        done.set()

    timer = arm_deadline("SIGHUP", 129, grace=0.05, force_exit=force_exit)
    assert timer.daemon, "a shutdown that finishes in time must not wait for the timer"
    assert done.wait(5)
    assert forced == [129]


async def test_a_signal_arms_it_once_and_the_app_is_told_to_end() -> None:
    app = StuckApp()
    forced: list[int] = []
    done = threading.Event()

    def force_exit(code: int) -> None:
        forced.append(code)
        done.set()

    lifecycle = Lifecycle(app, asyncio.get_running_loop(), (), grace=0.05, force_exit=force_exit)
    lifecycle._on_signal(signal.SIGTERM)
    lifecycle.end("terminal lost", 129)  # a later ending changes nothing
    assert app.exits == [128 + signal.SIGTERM]
    assert await asyncio.to_thread(done.wait, 5)
    await asyncio.sleep(0.2)
    assert forced == [128 + signal.SIGTERM]  # one deadline, the first ending's status
