"""Ending cleanly when the system asks or the terminal goes away.

A dashboard left open for days meets more endings than `q`:

- SIGTERM (kill, systemd, a shutdown) and SIGHUP (the terminal window closed, the SSH
  connection dropped, `tmux kill-session`): the default action kills the process on the
  spot, so the terminal modes are not restored and the history is not closed. Here they
  become `app.exit(128 + signum)`: the normal shutdown, with the usual shell status. A
  second signal of the same kind gets the default action (a stuck shutdown can still be
  killed).
- The terminal hangs up but no SIGHUP arrives (a wrapper that blocks it, a shell that
  does not pass it on; under `nohup` it still arrives: the handler above replaces the
  inherited SIG_IGN): Textual's input thread then reads end-of-file in a tight loop, and
  the orphan burns half a core for ever (measured). Our input thread
  (`quiet_driver.py`) stops reading and posts `TerminalLost`, and the app ends the same
  way at once. A watchdog backs it up: it looks whether the standard streams that were
  terminals still are (a hung-up terminal fails `isatty` with EIO), every second with
  Textual's own driver, once a minute behind ours.
- A shutdown that hangs: once the app is told to end (a signal, the watchdog) or starts
  leaving the terminal (`quiet_driver.py`, whatever the reason), the process has
  `SHUTDOWN_GRACE` seconds to be gone, then it ends at once with the same status
  (`arm_deadline`). Nobody is there to see a program that lingers after
  `tmux kill-server`; it would hold its history open for ever. (The cause seen once in
  nine kills under load is fixed in `quiet_driver.py`; this makes the exit certain
  whatever hangs next.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from textual.message import Message

from kondado_tui.core.clock import SYSTEM_CLOCK, Clock

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
WATCH_INTERVAL = 1.0  # seconds between terminal checks: the orphan's CPU until it ends
BACKSTOP_INTERVAL = 60.0  # the same when the input thread reports a hang-up itself
SHUTDOWN_GRACE = 10.0  # seconds a shutdown asked for by a signal or a hang-up may take
EXIT_HANGUP = 128 + signal.SIGHUP  # what a shell reports for a process ended by SIGHUP
T = TypeVar("T")
log = logging.getLogger(__name__)


class TerminalLost(Message):
    """Posted to the app by the input thread (`quiet_driver.py`): the terminal hung up."""


class Exitable(Protocol):
    """What the lifecycle needs of the app (`textual.app.App`)."""

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None: ...


def arm_deadline(
    why: str,
    code: int,
    grace: float | None = None,
    force_exit: Callable[[int], object] = os._exit,
) -> threading.Timer:
    """End the process with `code` in `grace` seconds (default `SHUTDOWN_GRACE`), unless
    it is gone by then.

    A thread on the real clock, not a task on the loop: the loop may be what hangs (a
    join in Textual's shutdown blocks it). A daemon thread: a shutdown that finishes in
    time ends the process with the timer still waiting. Never cancelled: what follows the
    app (closing the history) is covered too.
    """

    grace = SHUTDOWN_GRACE if grace is None else grace

    def overdue() -> None:
        log.error(
            "the shutdown after %s took more than %.0f s: ending the process (exit %d)",
            why,
            grace,
            code,
        )
        force_exit(code)

    timer = threading.Timer(grace, overdue)
    timer.name = "shutdown-deadline"
    timer.daemon = True
    timer.start()
    return timer


def terminal_fds(candidates: Sequence[int] = (0, 1)) -> tuple[int, ...]:
    """The descriptors among `candidates` that are terminals now (the ones to watch)."""
    found = []
    for fd in candidates:
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                found.append(fd)
    return tuple(found)


def terminal_alive(fds: Sequence[int]) -> bool:
    """False once any watched descriptor stopped being a live terminal (hung up, closed)."""
    for fd in fds:
        try:
            if not os.isatty(fd):
                return False
        except OSError:
            return False
    return True


@dataclass
class Lifecycle:
    """Signal handlers and the terminal watchdog of one running app."""

    app: Exitable
    loop: asyncio.AbstractEventLoop
    watched: tuple[int, ...]
    clock: Clock = SYSTEM_CLOCK
    interval: float = WATCH_INTERVAL
    grace: float = SHUTDOWN_GRACE
    force_exit: Callable[[int], object] = os._exit  # tests record the call instead
    reason: str | None = None  # why the app was told to end ("SIGTERM", "terminal lost")
    _signals: list[int] = field(default_factory=list)
    _watchdog: asyncio.Task[None] | None = None
    _deadline: threading.Timer | None = None

    def end(self, reason: str, code: int) -> None:
        """Tell the app to end (once), and the process to be gone within `grace` seconds;
        later calls change nothing."""
        if self.reason is not None:
            return
        self.reason = reason
        self._arm_deadline(code)
        self.app.exit(code, return_code=code)

    def _arm_deadline(self, code: int) -> None:
        self._deadline = arm_deadline(self.reason or "an ending", code, self.grace, self.force_exit)

    def _on_signal(self, signum: int) -> None:
        # A second one gets the default action: a shutdown that hangs can still be killed.
        with contextlib.suppress(ValueError, RuntimeError):
            self.loop.remove_signal_handler(signum)
        if signum in self._signals:
            self._signals.remove(signum)
        self.end(signal.Signals(signum).name, 128 + signum)

    async def _watch(self) -> None:
        while True:
            await self.clock.sleep(self.interval)
            if not terminal_alive(self.watched):
                self.end("terminal lost", EXIT_HANGUP)
                return

    def uninstall(self) -> None:
        for signum in self._signals:
            with contextlib.suppress(ValueError, RuntimeError):
                self.loop.remove_signal_handler(signum)
        self._signals.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None


def install(
    app: Exitable,
    *,
    signals: Sequence[int] = HANDLED_SIGNALS,
    watch: Sequence[int] | None = None,
    clock: Clock = SYSTEM_CLOCK,
    interval: float = WATCH_INTERVAL,
) -> Lifecycle:
    """Handle `signals` and watch the terminal; call from a coroutine on the app's loop.

    `watch`: the descriptors to keep an eye on (default: stdin and stdout, if they are
    terminals now). Nothing is watched when none is a terminal (tests, pipes).
    """
    loop = asyncio.get_running_loop()
    watched = terminal_fds() if watch is None else tuple(watch)
    lifecycle = Lifecycle(app, loop, watched, clock, interval)
    for signum in signals:
        try:
            loop.add_signal_handler(signum, lifecycle._on_signal, signum)
        except (ValueError, RuntimeError, NotImplementedError):
            continue  # not the main thread, or no such signal here: keep the default
        lifecycle._signals.append(signum)
    if watched:
        lifecycle._watchdog = loop.create_task(lifecycle._watch(), name="terminal-watchdog")
    return lifecycle


async def run_guarded(app: Exitable, run: Callable[[], Awaitable[T]]) -> T:
    """`await run()` (the app's `run_async`) with the lifecycle installed around it."""
    reports = getattr(getattr(app, "driver_class", None), "reports_hang_up", False)
    lifecycle = install(app, interval=BACKSTOP_INTERVAL if reports else WATCH_INTERVAL)
    try:
        return await run()
    finally:
        lifecycle.uninstall()


__all__ = [
    "BACKSTOP_INTERVAL",
    "EXIT_HANGUP",
    "HANDLED_SIGNALS",
    "SHUTDOWN_GRACE",
    "Lifecycle",
    "TerminalLost",
    "arm_deadline",
    "install",
    "run_guarded",
    "terminal_alive",
    "terminal_fds",
]
