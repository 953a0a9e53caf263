"""`token_command`: the program that prints the API token, run once without a shell.

Its output is outside input like any other: one bounded line is read (`MAX_TOKEN_LINE`
bytes at most, then the command is stopped), within a deadline, and the command's whole
process group is ended as soon as the line is in. A command that prints the token and
leaves a background child holding its output (an agent it started) does not make us
wait for the end of that output. Nothing the command printed on standard output is
ever shown: it is the secret, or garbage that could be.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass

from kondado_tui.core import paths
from kondado_tui.core.config.validation import Reader, split_command
from kondado_tui.core.guards.limits import MAX_TOKEN_LINE, size_text
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.guards.sanitize import clean, one_line

TOKEN_COMMAND_TIMEOUT = 30.0  # seconds; long enough for a pinentry prompt
EXIT_GRACE = 2.0  # seconds the command has, once its line is in, to say how it ended
MAX_STDERR = 4_096  # bytes of its error output kept for a message
FIELD = "api.token_command"


@dataclass
class _Output:
    """What was read of the command, and how it ended (None: still running)."""

    line: bytes | None = None  # the first line, once complete (without its newline)
    pending: bytes = b""  # stdout read so far, no newline yet
    stdout_closed: bool = False
    stderr: bytes = b""
    returncode: int | None = None
    too_long: bool = False


def run_token_command(reader: Reader, command: str, env: Mapping[str, str]) -> str:
    """Run `token_command` once, without a shell. Its first output line is the token.

    Stdout is never shown (it is the secret); stderr is, cleaned and shortened.
    """
    argv = split_command(reader, command)
    argv[0] = str(paths.expand(argv[0], env)) if argv[0].startswith("~") else argv[0]
    what = f"token_command '{clean(command, keep_newlines=False)}'"
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,  # its own process group: ended whole afterwards
        )
    except FileNotFoundError:
        raise reader.error(
            FIELD,
            f"{what}: program '{clean(argv[0])}' not found",
            "install it or fix the command (no shell is used)",
        ) from None
    except PermissionError:
        raise reader.error(
            FIELD,
            f"{what}: '{clean(argv[0])}' is not executable",
            "fix the command or the file's permissions",
        ) from None
    except OSError as exc:
        raise reader.error(
            FIELD, f"{what} could not start ({exc.strerror})", "fix the command"
        ) from None
    try:
        out = _read_first_line(process, time.monotonic() + TOKEN_COMMAND_TIMEOUT)
    finally:
        _end(process)
    return _token_from(reader, what, out)


def _token_from(reader: Reader, what: str, out: _Output) -> str:
    line = out.line if out.line is not None else out.pending
    token = line.decode("utf-8", "replace").strip()
    register_secret(token)  # before any message: the command may echo it on stderr
    errors = one_line(out.stderr.decode("utf-8", "replace"), 200)
    detail = f": {errors}" if errors else ""
    if out.too_long:
        raise reader.error(
            FIELD,
            f"{what} printed more than {size_text(MAX_TOKEN_LINE)} without a line break; "
            "it was stopped",
            "it must print the token alone on its first line",
        )
    if out.returncode is not None and out.returncode != 0:
        raise reader.error(
            FIELD, f"{what} failed (exit {out.returncode}){detail}", "run it yourself to see why"
        )
    if out.line is None and not out.stdout_closed and out.returncode is None:
        raise reader.error(
            FIELD,
            f"{what} did not print a line within {TOKEN_COMMAND_TIMEOUT:g} s; it was stopped",
            "check that it runs without asking for input, e.g. unlock the password store first",
        )
    if not token:
        raise reader.error(
            FIELD,
            f"{what} printed nothing" + (" on its first line" if out.line is not None else ""),
            "it must print the token on its first line",
        )
    if not token.isprintable():
        raise reader.error(
            FIELD,
            f"{what} printed control characters on its first line (not shown: it may be the token)",
            "it must print the token alone on its first line",
        )
    return token


def _read_first_line(process: subprocess.Popen[bytes], deadline: float) -> _Output:
    """Read until the first line of stdout is complete (or too long, or the deadline),
    keeping at most MAX_STDERR bytes of stderr; then give the command a moment to end,
    so that a failure is told as one. Never waits for the end of the output itself."""
    assert process.stdout is not None and process.stderr is not None
    out = _Output()
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ, "out")
    selector.register(process.stderr, selectors.EVENT_READ, "err")
    try:
        while out.line is None and not out.stdout_closed and time.monotonic() < deadline:
            _read_some(selector, out, min(deadline - time.monotonic(), 0.2))
            if out.too_long:
                return out
            if process.poll() is not None and out.pending and out.line is None:
                break  # it ended, a child still holds stdout: what it printed is the line
        # The line is in (or never will be): stdout is not read again. Stderr is read
        # while the command ends, for a message if it failed.
        with contextlib.suppress(KeyError):
            selector.unregister(process.stdout)
        grace = min(deadline, time.monotonic() + EXIT_GRACE)
        while process.poll() is None and selector.get_map() and time.monotonic() < grace:
            _read_some(selector, out, min(grace - time.monotonic(), 0.05))
        for _ in range(16):  # what it wrote before it ended (a pipe's worth at most)
            if not selector.get_map() or not _read_some(selector, out, 0):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, grace - time.monotonic()))
    finally:
        selector.close()
    out.returncode = process.poll()
    return out


def _read_some(selector: selectors.BaseSelector, out: _Output, timeout: float) -> bool:
    """One round of reading whatever is ready; False when nothing was."""
    ready = selector.select(max(timeout, 0.0))
    for key, _ in ready:
        data = os.read(key.fd, 4096)
        if not data:
            selector.unregister(key.fileobj)
            out.stdout_closed = out.stdout_closed or key.data == "out"
        elif key.data == "err":
            out.stderr = (out.stderr + data)[:MAX_STDERR]
        elif out.line is None:
            _take(out, data)
    return bool(ready)


def _take(out: _Output, data: bytes) -> None:
    text = out.pending + data
    newline = text.find(b"\n")
    if 0 <= newline <= MAX_TOKEN_LINE:
        out.line = text[:newline].rstrip(b"\r")
        out.pending = b""
    elif len(text) > MAX_TOKEN_LINE:
        out.too_long = True
        out.pending = b""
    else:
        out.pending = text


def _end(process: subprocess.Popen[bytes]) -> None:
    """End the command's whole process group (children that kept our pipes included)
    and close the pipes: nothing it still prints is read."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
