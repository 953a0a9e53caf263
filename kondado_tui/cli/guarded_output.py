"""What a command writes on stdout and stderr goes through the guards, and fails cleanly.

Every subcommand prints with `print()`; instead of trusting each call to clean what it
prints, `guarded_output()` puts a `GuardedStream` in front of `sys.stdout` and
`sys.stderr` for the command's run. It cleans every write (`sanitize.clean`: no escape
sequence, no control or bidirectional character reaches the terminal or the file, and
no secret in any encoding: it masks them too), and turns a failing write (a full disk,
a closed pipe) into `OutputFailed`, which `cli.main` reports in a sentence instead of a
traceback. The dashboard is not guarded here: Textual draws on the real stderr itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from kondado_tui.core.guards.sanitize import clean


class OutputFailed(Exception):
    """Writing to stdout or stderr failed; `stream` names which, `reason` says why."""

    def __init__(self, stream: str, error: OSError) -> None:
        self.stream = stream
        self.errno = error.errno
        self.reason = error.strerror or type(error).__name__
        super().__init__(f"could not write to {stream} ({self.reason})")

    @property
    def broken_pipe(self) -> bool:
        """The reader went away (`| head`): not a failure to report."""
        return self.errno == errno.EPIPE


def guard_text(text: str) -> str:
    """A piece of output as it may be written: cleaned line by line (carriage returns
    kept: the progress line on a terminal rewrites itself with them)."""
    if "\r" not in text:
        return clean(text)
    return "\r".join(clean(part) for part in text.split("\r"))


class GuardedStream:
    """A text stream that cleans what is written to the one it wraps."""

    def __init__(self, wrapped: TextIO, name: str) -> None:
        self._wrapped = wrapped
        self._name = name

    @property
    def wrapped(self) -> TextIO:
        return self._wrapped

    def write(self, text: str) -> int:
        try:
            self._wrapped.write(guard_text(text))
        except OSError as exc:
            raise OutputFailed(self._name, exc) from None
        return len(text)

    def flush(self) -> None:
        try:
            self._wrapped.flush()
        except OSError as exc:
            raise OutputFailed(self._name, exc) from None

    def __getattr__(self, name: str) -> object:
        return getattr(self._wrapped, name)  # isatty, fileno, encoding, buffer, ...


class Guard:
    """The guard over `sys.stdout` and `sys.stderr` while a command runs."""

    def __init__(self) -> None:
        self._originals = sys.stdout, sys.stderr
        sys.stdout = GuardedStream(self._originals[0], "standard output")
        sys.stderr = GuardedStream(self._originals[1], "standard error")

    def release(self) -> None:
        """Put the original streams back."""
        sys.stdout, sys.stderr = self._originals


@contextlib.contextmanager
def guarded_output() -> Iterator[Guard]:
    """Guard `sys.stdout` and `sys.stderr` for the time of the block; put the originals
    back after it (tests call `main` many times in one process)."""
    guard = Guard()
    try:
        yield guard
    finally:
        guard.release()


def flush_all() -> None:
    """Flush both streams now, inside the command, so that a failure is told (at the
    interpreter's exit it would be a traceback-like note and exit status 120)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()


def abandon(stream: TextIO) -> None:
    """After a failed write: point the stream's file at /dev/null, so that the
    interpreter's last flush of what is still buffered cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no file behind it
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
