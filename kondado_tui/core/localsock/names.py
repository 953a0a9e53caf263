"""Abstract Unix socket names: find whoever serves one, or become its server.

Why Linux abstract names: any login reaches them without a shared file, so there are
no permissions, umasks or symlink races to get wrong; the kernel frees a name the
instant its owner dies (SIGKILL included), so taking over is a race to `bind` that
exactly one process wins; and `SO_PEERCRED` tells each end the other's uid and pid.
What they do not give: privacy of the name (every name is listed in /proc/net/unix) or
any proof of who binds it first. The protocols on top deal with that.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
import time
from collections.abc import Mapping
from enum import Enum

from kondado_tui.core.localsock.framing import LineBuffer

OFF = "off"
MAX_NAME = 100
_CRED = struct.Struct("3i")


def address(name: str) -> bytes:
    return b"\0" + name.encode("ascii")


def name_from_env(
    variable: str, default: str, env: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """(the name to use, or None when it is turned off; why, when off).

    `variable` unset or empty: `default`; `off`: none; anything else (printable ASCII,
    at most `MAX_NAME` characters) replaces the default (tests give each one its own)."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None, "this needs Linux's abstract sockets"
    value = env.get(variable, "").strip()
    if not value:
        return default, ""
    if value.lower() == OFF:
        return None, f"{variable}=off"
    if len(value) > MAX_NAME or not value.isascii() or not value.isprintable():
        return None, f"{variable} is not a usable name (printable ASCII, at most {MAX_NAME})"
    return value, ""


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """(uid, pid) of the process at the other end, as the kernel knows them."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    pid, uid, _gid = _CRED.unpack(raw)
    return uid, pid


class Reach(Enum):
    """What one attempt at a name found."""

    CONNECTED = "connected"  # someone serves it: here is the connection
    BOUND = "bound"  # nobody did: we hold it now (serve it, or close it)
    BUSY = "busy"  # someone else bound it first, or its queue is full: try again shortly


class Unreachable(Exception):
    """The name can be neither reached nor served (the message says why, in our words)."""


def reach(name: str, timeout: float = 1.0, backlog: int = 64) -> tuple[Reach, socket.socket | None]:
    """Connect to whoever serves `name`; if nobody does, race to bind it. One attempt:
    the caller loops (with its own pauses) while the answer is BUSY."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address(name))
        return Reach.CONNECTED, sock
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
    except OSError as exc:  # a full backlog, a timeout: try again shortly
        sock.close()
        if exc.errno in (errno.EAGAIN, errno.ETIMEDOUT, None):
            return Reach.BUSY, None
        raise Unreachable(f"cannot reach it ({exc.strerror or exc})") from None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address(name))
        listener.listen(backlog)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            return Reach.BUSY, None  # another process won the race: connect to it
        raise Unreachable(f"cannot serve it ({exc.strerror or exc})") from None
    return Reach.BOUND, listener


def read_line(sock: socket.socket, lines: LineBuffer, deadline: float) -> tuple[bytes, list[bytes]]:
    """The next line from a blocking socket by `deadline` (monotonic), and any lines
    read with it. TimeoutError when none came in time; EOFError when the other end
    closed; `ProtocolError` for an overlong line."""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("the other end closed the connection")
        got = lines.feed(chunk)
        if got:
            return got[0], got[1:]
        if time.monotonic() > deadline:
            raise TimeoutError


__all__ = [
    "OFF",
    "Reach",
    "Unreachable",
    "address",
    "name_from_env",
    "peer_credentials",
    "reach",
    "read_line",
]
