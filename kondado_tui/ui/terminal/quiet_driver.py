"""Textual's Linux driver without its ten wake-ups a second.

Textual's input thread waits for the terminal with a 0.1 s timeout, for ever, so that it
notices two things in time: the end of a lone Esc (the key parser waits ESCDELAY for the
rest of an escape sequence) and the request to stop reading (suspend, exit). Idle, that
is ten wake-ups a second and, measured, the whole CPU cost of a bare Textual table
(benchmarks/idle_cost.md). A dashboard left open for days in a tmux pane pays it every
second of those days.

This driver reads the same way, with the same parser, but waits with no timeout unless
the parser is waiting for the rest of a sequence, and is woken through a pipe when asked
to stop. When the terminal hangs up (end of file, EIO), it stops reading instead of
spinning on the dead descriptor and posts `TerminalLost` to the app, which ends as a
hang-up (`lifecycle.py`): at once, where the lifecycle's watchdog, which had to look
every second, now only backs it up once a minute.

It also hands Textual's writer thread a `TerminalFile`, which drops output once the
terminal is gone instead of letting the thread die and the next writes block for ever.

And it restarts application mode on SIGCONT only after its own suspend (SIGTSTP). Textual
restarts it on every SIGCONT, and the kernel sends one with the SIGHUP of every hang-up of
the controlling terminal (`tmux kill-server`, a dropped SSH connection), as does anyone's
`kill -CONT`: a second writer thread and a second input thread then ran beside the first
two, both waiting on the one wake-up pipe. When the app ended, the first thread could
take the only wake-up byte and the second wait for ever, and Textual's shutdown with it
(joining that thread): the program stayed in memory after `tmux kill-server`, about one
time in ten under load (py-spy: the main thread in `disable_input` joining an input thread
asleep in `select`). The wake-up is also kept for every reader once stopping is asked,
and leaving application mode (except for a suspend) arms the lifecycle's shutdown
deadline: from there the process has `SHUTDOWN_GRACE` seconds to be gone.

Otherwise it is `LinuxDriver`. It follows Textual 8.2's driver closely (its input loop,
its signal handlers, its writer thread), so `overrides.py` uses it only on the Textual
releases it was tested on and when `shape_problem()` finds what it builds on unchanged;
elsewhere Textual's own driver runs. tests/ui/test_quiet_driver.py drives keys, a lone
Esc, quitting and idling through a real pseudo-terminal, tests/ui/test_lifecycle_terminal.py
the hang-ups. The proposal to do the same in Textual itself:
docs/upstream/input-thread-wakeups.md.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import selectors
import threading
import time
from codecs import getincrementaldecoder
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

from kondado_tui.core.threads import name_thread
from kondado_tui.ui.terminal.lifecycle import TerminalLost, arm_deadline, terminal_alive

if TYPE_CHECKING:
    from textual.app import App

READ_SIZE = 4096  # as Textual's driver
INPUT_THREAD = "kondado-input"  # its name in `top -H`, `ps -L` and /proc
FALLBACK_TIMEOUT = 0.1  # Textual's own poll, if the parser's deadline cannot be read


class TerminalFile:
    """The terminal as Textual's writer thread sees it, minus its one way to hang.

    The writer thread has no error handling: the first failed write (EIO once the
    terminal hung up) ends it, and the next 30 writes fill its queue, after which every
    write blocks for ever, the shutdown's included. Here a failed write or flush marks
    the terminal lost and later output is dropped: there is nobody to read it.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self.lost = False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                return self._file.write(text)
            except (OSError, ValueError):  # EIO, EPIPE; ValueError: closed
                self.lost = True
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self.lost = True

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return True


class _WakingEvent(threading.Event):
    """The driver's stop flag: setting it also wakes the input thread."""

    def __init__(self, wake: Callable[[], None]) -> None:
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        self._wake()


def parser_timeout(parser: XTermParser, now: float) -> float | None:
    """How long the input thread may wait: None (for ever) unless the parser is waiting
    for the rest of a sequence, then until its deadline."""
    try:
        deadline: float | None = parser._timeout_time
    except AttributeError:  # a Textual whose parser keeps it elsewhere: poll as it does
        return FALLBACK_TIMEOUT
    return None if deadline is None else max(0.0, deadline - now)


# What of Textual's drivers this one calls or replaces, and the attributes it uses.
BUILDS_ON = (
    "run_input_thread",
    "process_message",
    "close",
    "write",
    "start_application_mode",
    "suspend_application_mode",
    "stop_application_mode",
    "_sigtstp_application",
    "_sigcont_application",
)
SETS = {"exit_event", "_file", "fileno", "_loop", "_auto_restart", "_writer_thread"}


def shape_problem() -> str | None:
    """What of Textual's driver this one builds on is missing or changed (None: all is
    as in Textual 8.2): the methods it calls or replaces, the attributes it uses."""
    for name in BUILDS_ON:
        if not callable(getattr(LinuxDriver, name, None)):
            return f"LinuxDriver has no {name}()"
    if list(inspect.signature(LinuxDriver.run_input_thread).parameters) != ["self"]:
        return "LinuxDriver.run_input_thread takes arguments"
    made_with = inspect.signature(LinuxDriver.__init__).parameters
    if not {"app", "debug", "mouse", "size"} <= made_with.keys():
        return f"LinuxDriver takes ({', '.join(made_with)})"
    for name in ("feed", "tick"):
        if not callable(getattr(XTermParser, name, None)):
            return f"XTermParser has no {name}()"
    with contextlib.suppress(OSError, TypeError):  # no source to read: the version decides
        source = "".join(
            inspect.getsource(cls)
            for cls in LinuxDriver.__mro__
            if cls.__module__.startswith("textual.")
        )
        for attribute in sorted(SETS):
            if f"self.{attribute} =" not in source:
                return f"LinuxDriver no longer sets {attribute}"
    return None


class QuietLinuxDriver(LinuxDriver):
    """`LinuxDriver` whose input thread sleeps until there is something to read."""

    reports_hang_up = True  # posts TerminalLost: the lifecycle need not poll the terminal

    def __init__(
        self,
        app: App[object],
        *,
        debug: bool = False,
        mouse: bool = True,
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        if self._file is not None:
            self._file = TerminalFile(self._file)  # type: ignore[assignment]
        self._open_wake_pipe()
        self.exit_event = _WakingEvent(self._wake)
        self.hung_up = False  # the terminal reported end of file or an error on read
        self._suspended = False  # stopped by SIGTSTP with application mode suspended
        self._suspending = False  # leaving application mode to come back to it
        self._deadline: threading.Timer | None = None

    def _open_wake_pipe(self) -> None:
        self._wake_read, self._wake_write = os.pipe()
        self._closed = False
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    def start_application_mode(self) -> None:
        if self._closed:  # back from a suspend, whose close() closed the wake-up pipe
            self._open_wake_pipe()
        super().start_application_mode()  # type: ignore[no-untyped-call]

    def suspend_application_mode(self) -> None:
        self._suspending = True
        try:
            super().suspend_application_mode()
        finally:
            self._suspending = False

    def stop_application_mode(self) -> None:
        """Leave application mode; unless suspending, the process now has
        `SHUTDOWN_GRACE` seconds to be gone (Textual's shutdown joins threads)."""
        if not self._suspending and self._deadline is None:
            code = self._app.return_code
            self._deadline = arm_deadline("leaving the terminal", 0 if code is None else code)
        super().stop_application_mode()

    def _wake(self) -> None:
        if self._closed:  # its number may belong to another file by now
            return
        with contextlib.suppress(OSError):  # full pipe: a wake-up is already pending
            os.write(self._wake_write, b"\0")

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wake_read, 512):
                pass

    def _sigtstp_application(self, *_args: object) -> None:
        self._on_loop(self._suspend_now)

    def _sigcont_application(self, *_args: object) -> None:
        if self._suspended:
            self._on_loop(self._resume_now)

    def _on_loop(self, work: Callable[[], None]) -> None:
        """Run a signal's work on the app's loop, not in the handler. A Python signal
        handler runs between two bytecodes of whatever the main thread was doing: inside
        the writer queue's lock, Textual's handler wrote to the queue again and the process
        hung for ever (py-spy: `Queue.put` under `Queue.put`)."""
        if self._loop.is_closed():  # Driver.__init__ keeps the app's loop
            work()
        else:
            self._loop.call_soon_threadsafe(work)

    def _suspend_now(self) -> None:
        # Textual suspends application mode (when it may restart it), then stops.
        self._suspended = self._auto_restart
        LinuxDriver._sigtstp_application(self)

    def _resume_now(self) -> None:
        """Resume after our own suspend only, and only on a live terminal (see the module
        docstring: every hang-up brings a SIGCONT, and a second pair of threads hung the
        shutdown)."""
        if not self._suspended:
            return
        self._suspended = False
        if self.hung_up or not terminal_alive((self.fileno,)):
            return  # nothing to resume on: the hang-up (SIGHUP, the watchdog) ends the app
        LinuxDriver._sigcont_application(self)

    def write(self, data: str) -> None:
        # A writer thread that was stopped (suspended, then never resumed because the
        # terminal hung up) reads its queue no more: past 30 writes, the next would block.
        writer = self._writer_thread
        assert writer is not None, "Driver must be in application mode"  # as Textual's
        if writer.is_alive():
            writer.write(data)

    def close(self) -> None:
        super().close()
        if self._closed:
            return
        self._closed = True
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def run_input_thread(self) -> None:
        """Wait for input and dispatch events (as `LinuxDriver.run_input_thread`)."""
        selector = selectors.SelectSelector()
        selector.register(self._wake_read, selectors.EVENT_READ)
        if not self.hung_up:
            selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def read_terminal() -> None:
            try:
                data = os.read(self.fileno, READ_SIZE)
            except BlockingIOError:  # readable a moment ago, not now: wait again
                return
            except OSError:  # EIO: the terminal hung up
                data = b""
            if not data:  # hung up: stop watching it rather than spin on it
                self.hung_up = True
                selector.unregister(self.fileno)
                self._app.post_message(TerminalLost())
                return
            for event in parser.feed(decode(data)):
                self.process_message(event)

        def process(events: list[tuple[selectors.SelectorKey, int]]) -> None:
            for key, _mask in events:
                if key.fd == self._wake_read:
                    if not self.exit_event.is_set():
                        self._drain_wake()  # stale: set for an earlier run of this thread
                    # else left in the pipe: any other waiter wakes on it too
                elif not self.hung_up:  # its event in the same batch as the hang-up
                    read_terminal()
            for event in parser.tick():
                self.process_message(event)

        name_thread(INPUT_THREAD)
        try:
            while not self.exit_event.is_set():
                process(selector.select(parser_timeout(parser, get_time())))
            pending = parser_timeout(parser, get_time())
            if pending is not None:  # a lone Esc on its way: let it through, as Textual does
                time.sleep(min(pending, FALLBACK_TIMEOUT))
                process([])
        finally:
            selector.close()
            with contextlib.suppress(EOFError, ParseError):
                for _event in parser.feed(""):
                    pass


__all__ = [
    "INPUT_THREAD",
    "QuietLinuxDriver",
    "TerminalFile",
    "name_thread",
    "parser_timeout",
    "shape_problem",
]
