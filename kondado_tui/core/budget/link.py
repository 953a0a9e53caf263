"""A process's line to the host budget broker: find it, or become it; take over when it
goes; give up on it when it cannot be trusted.

Why a Linux abstract Unix socket with a well-known name (`DEFAULT_NAME`): any login can
reach it without a shared file, so there are no permissions, umasks or symlink races to
get wrong; the kernel frees the name the instant its owner dies (SIGKILL included), so
taking over is a race to `bind` that exactly one process wins; and `SO_PEERCRED` tells
the broker each peer's uid and pid, which fairness between logins needs.

The link runs on a thread of its own (`kondado-budget`): it connects, says hello with
what this process saw of the host's last two minutes (so a broker that takes over
forgets nothing), and hands every checked message to its listener (the budget). When
the connection ends it races to bind the name; the winner serves (`broker.Broker`) and
everyone reconnects to it, within a second or two. When nothing usable answers (a
squatter that never answers, or answers garbage) it tells the listener so, and tries
again later, less and less often. At idle it sleeps in `select` with no timeout.

`KONDADO_TUI_HOST_BUDGET` names another socket (tests give each one its own) or turns
the whole thing `off`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from kondado_tui.core.budget.broker import Broker
from kondado_tui.core.budget.messages import (
    Cancel,
    Granted,
    Hello,
    Ping,
    Refused,
    ToBroker,
    ToProcess,
    Want,
    Welcome,
)
from kondado_tui.core.budget.wire import MAX_LINE, decode_to_process, encode
from kondado_tui.core.localsock.framing import LineBuffer, ProtocolError
from kondado_tui.core.localsock.names import (
    Reach,
    Unreachable,
    address,
    name_from_env,
    peer_credentials,
    reach,
    read_line,
)
from kondado_tui.core.threads import name_thread

log = logging.getLogger(__name__)

DEFAULT_NAME = "kondado-tui/budget/v1"
THREAD = "kondado-budget"  # its name in `top -H`, `ps -L` and /proc
NAME_ENV = "KONDADO_TUI_HOST_BUDGET"
OFF = "off"
MAX_NAME = 100
CONNECT_TIMEOUT = 1.0
REACH_TIMEOUT = 2.0
"""Connect to a broker, or become one, within this; else the name is held by someone
who does not serve it."""
HELLO_TIMEOUT = 2.0
PING_AFTER = 10.0
"""A request has waited this long with nothing heard from the broker: ask if it is there.
(A poller's request waits in the broker's queue most of the time: not every few seconds.)"""
PING_TIMEOUT = 5.0
RETRY = (15.0, 60.0)
"""Wait before trying an unusable broker again: the first time, and at most (doubling)."""
HEALTHY_AFTER = 300.0
"""Connected this long: the retry wait starts from the first again."""
FLAPS = 3
"""Connections ended this soon (under a second), in a row, make the broker unusable."""


class LinkState(Enum):
    CONNECTING = "connecting"  # the first time: no answer yet
    CONNECTED = "connected"
    LOST = "lost"  # the broker went away: taking over or reconnecting (a second or two)
    UNUSABLE = "unusable"  # nothing usable answers: the budget limits this process alone
    CLOSED = "closed"


@dataclass(frozen=True)
class BrokerInfo:
    pid: int
    uid: int
    ours: bool  # this process serves the broker


class LinkListener(Protocol):
    """The budget: told of every change, on the link's thread."""

    def link_up(self, welcome: Welcome, broker: BrokerInfo) -> None: ...

    def link_message(self, message: ToProcess) -> None: ...

    def link_down(self, why: str, *, usable: bool) -> None:
        """`usable`: the broker went away, another takes over within seconds; else
        nothing usable answers (`why` says what), and the link tries again later."""
        ...


def broker_name(env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """(the socket's name, or None when host coordination is off; why, when off).

    `KONDADO_TUI_HOST_BUDGET`: unset or empty for the default name, `off`, or another
    name (printable ASCII, at most 100 characters)."""
    name, why = name_from_env(NAME_ENV, DEFAULT_NAME, env)
    if name is None and not why.startswith(NAME_ENV):
        why = "a host-wide budget needs Linux's abstract sockets"
    return name, why


@dataclass(frozen=True)
class Probe:
    """Who serves the broker's name right now, and what it says (`kondado-tui info`)."""

    state: str  # "serving", or what is wrong, in words
    pid: int | None = None
    uid: int | None = None
    welcome: Welcome | None = None


def probe(name: str, hello: Hello | None, timeout: float = HELLO_TIMEOUT) -> Probe:
    """Connect once: the process holding the name (kernel-verified), and, with a hello,
    what it tells a process of this scope (peers, limits). Serves nothing, takes no slot."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(address(name))
        except (ConnectionRefusedError, FileNotFoundError):
            return Probe("nobody serves it: the next kondado-tui to start will")
        except OSError as exc:
            return Probe(f"cannot connect ({exc.strerror or exc})")
        uid, pid = peer_credentials(sock)
        if hello is None:
            return Probe("serving", pid, uid)
        try:
            sock.sendall(encode(hello))
            line, _ = read_line(sock, LineBuffer(MAX_LINE), time.monotonic() + timeout)
            message = decode_to_process(line, time.time())
        except EOFError:
            return Probe("it closed the connection at once", pid, uid)
        except TimeoutError:
            return Probe("no answer from it", pid, uid)
        except (ProtocolError, OSError):
            return Probe("it answers something that is not the protocol", pid, uid)
        if isinstance(message, Refused):
            return Probe(f"it refuses ({message.why})", pid, uid)
        if not isinstance(message, Welcome):
            return Probe("it answers something that is not the protocol", pid, uid)
        return Probe("serving", pid, uid, message)
    finally:
        sock.close()


class _Unusable(Exception):
    """No usable broker (the message says why, in our words)."""


class _Broken(Exception):
    """The connection broke during the hello: try again while there is time."""


class HostLink:
    def __init__(
        self,
        name: str,
        hello: Callable[[], Hello],
        listener: LinkListener,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._hello = hello
        self._listener = listener
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._outbox = bytearray()
        self._sock: socket.socket | None = None  # the connection `_serve` exchanges on
        self._flushing = False  # the link's thread is writing the outbox (blocking)
        self._waiting: set[int] = set()  # wants sent, not granted or cancelled
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._closed = threading.Event()
        self._abandon: str | None = None
        self._broker: Broker | None = None
        self._thread: threading.Thread | None = None
        self.state = LinkState.CONNECTING
        self.why = ""
        self.broker_info: BrokerInfo | None = None
        self._retry = RETRY[0]
        self._flaps = 0
        self._lines = LineBuffer(MAX_LINE)
        self._pending_lines: list[bytes] = []  # read with the welcome, not handled yet

    # -- what the budget calls (any thread) ---------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name=THREAD, daemon=True)
        self._thread.start()

    def send(self, message: ToBroker) -> bool:
        """Send or queue a message; False (dropped) when not connected.

        A want goes through the link's thread, which times the broker's answer (the
        ping). Anything else is written here when nothing is queued before it and the
        socket takes it whole: the thread is not woken for a line it would only copy
        (a `done` after every request)."""
        data = encode(message)
        with self._lock:
            if self.state is not LinkState.CONNECTED:
                return False
            if isinstance(message, Want):
                self._waiting.add(message.id)
            else:
                if isinstance(message, Cancel):
                    self._waiting.discard(message.id)
                data = data[self._write_now(data) :]
                if not data:
                    return True
            self._outbox += data
        self._wake()
        return True

    def _write_now(self, data: bytes) -> int:
        """Bytes of `data` written on the socket from the caller's thread (the lock
        held): none when a line is queued or being written before it."""
        sock = self._sock
        if sock is None or self._outbox or self._flushing:
            return 0
        try:
            return sock.send(data)
        except OSError:  # full, or broken: the link's thread finds out and says so
            return 0

    def abandon(self, why: str) -> None:
        """The budget found this broker cannot be trusted: leave it, try again later."""
        with self._lock:
            self._abandon = why
        self._wake()

    def close(self, timeout: float = 2.0) -> None:
        self._closed.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._broker is not None:
            self._broker.stop()
            self._broker = None
        for sock in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                sock.close()
        self.state = LinkState.CLOSED

    @property
    def serving(self) -> bool:
        """This process runs the host's broker right now."""
        return self._broker is not None and self._broker.running

    # -- the thread -----------------------------------------------------------------------

    def _main(self) -> None:
        name_thread(THREAD)
        try:
            while not self._closed.is_set():
                try:
                    sock, welcome = self._join()
                    try:
                        self._connected(sock, welcome)
                        why = self._serve(sock)
                    finally:
                        with contextlib.suppress(OSError):
                            sock.close()
                except _Unusable as exc:
                    if self._closed.is_set():
                        break
                    self._unusable(str(exc))
                    continue
                if self._closed.is_set():
                    break
                self._lost(why)
        except Exception:  # a bug here must not take the process down: limit alone
            log.exception("the host budget link failed")
            self._set_down("the link to the host budget failed", usable=False)

    def _join(self) -> tuple[socket.socket, Welcome]:
        """Connect and be welcomed. A connection that breaks at once is tried again (a
        broker going away as we connect, another taking over); one that answers
        wrongly, or not at all, is not."""
        deadline = time.monotonic() + REACH_TIMEOUT
        while True:
            sock = self._reach(deadline)
            try:
                return sock, self._handshake(sock)
            except _Broken as exc:
                sock.close()
                if time.monotonic() > deadline:
                    raise _Unusable(str(exc)) from None
                self._closed.wait(0.05 * (0.5 + self._rng.random()))
            except BaseException:
                sock.close()
                raise

    def _reach(self, deadline: float) -> socket.socket:
        """Connect to the broker, becoming it first if nobody serves the name."""
        pause = 0.01
        while True:
            if self._closed.is_set():
                raise _Unusable("closed")
            if self._broker is not None and not self._broker.running:
                self._broker = None
            try:
                found, sock = reach(self.name, CONNECT_TIMEOUT)
            except Unreachable as exc:
                raise _Unusable(str(exc)) from None
            if found is Reach.CONNECTED and sock is not None:
                return sock
            if found is Reach.BOUND and sock is not None:
                self._serve_name(sock)  # nobody listened: we won the race to bind it
                continue
            if time.monotonic() > deadline:
                raise _Unusable("its name is held by a process that does not accept connections")
            self._closed.wait(pause * (0.5 + self._rng.random()))
            pause = min(0.2, pause * 2)

    def _serve_name(self, listener: socket.socket) -> None:
        broker = Broker(listener)
        broker.start()
        self._broker = broker
        log.info("serving the host budget broker on @%s", self.name)

    def _handshake(self, sock: socket.socket) -> Welcome:
        try:
            uid, pid = peer_credentials(sock)
            sock.settimeout(HELLO_TIMEOUT)
            sock.sendall(encode(self._hello()))
            lines = LineBuffer(MAX_LINE)
            line, more = read_line(sock, lines, time.monotonic() + HELLO_TIMEOUT)
            message = decode_to_process(line, time.time())
        except EOFError:
            raise _Broken("the broker closed the connection at once") from None
        except TimeoutError:
            raise _Unusable("no answer from the broker") from None
        except ProtocolError:
            raise _Unusable("the broker answered something that is not the protocol") from None
        except OSError as exc:
            raise _Broken(f"the connection failed ({exc.strerror or exc})") from None
        if isinstance(message, Refused):
            raise _Unusable(f"the broker refused this process ({message.why})")
        if not isinstance(message, Welcome):
            raise _Unusable("the broker answered something that is not the protocol")
        self.broker_info = BrokerInfo(pid, uid, pid == os.getpid())
        self._pending_lines = more
        self._lines = lines
        return message

    def _connected(self, sock: socket.socket, welcome: Welcome) -> None:
        with self._lock:
            self._outbox.clear()
            self._waiting.clear()
            self._abandon = None
            self.state = LinkState.CONNECTED
            self.why = ""
        info = self.broker_info
        assert info is not None
        self._listener.link_up(welcome, info)

    def _serve(self, sock: socket.socket) -> str:
        """Exchange messages until the connection ends; why it ended."""
        sock.setblocking(False)
        since = time.monotonic()
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ, "broker")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        heard = time.monotonic()
        pinged: float | None = None
        with self._lock:
            self._sock = sock
        try:
            for line in self._pending_lines:
                self._deliver(line)
            while True:
                with self._lock:
                    if self._abandon is not None:
                        raise _Unusable(self._abandon)
                    waiting = bool(self._waiting)
                    out = bytes(self._outbox)
                    self._outbox.clear()
                    self._flushing = bool(out)
                if self._closed.is_set():
                    return "closed"
                if out:
                    sock.setblocking(True)
                    sock.settimeout(HELLO_TIMEOUT)
                    try:
                        sock.sendall(out)
                    except TimeoutError:
                        raise _Unusable("the broker stopped reading") from None
                    finally:
                        sock.setblocking(False)
                        with self._lock:
                            self._flushing = False
                now = time.monotonic()
                timeout: float | None = None
                if waiting:  # only while a request waits: nothing at idle
                    if pinged is None and now - heard > PING_AFTER:
                        pinged = now
                        with self._lock:
                            self._outbox += encode(Ping())
                        continue
                    if pinged is not None and now - pinged > PING_TIMEOUT:
                        raise _Unusable("the broker stopped answering")
                    until = pinged + PING_TIMEOUT if pinged is not None else heard + PING_AFTER
                    timeout = max(0.01, until - now)
                for key, _ in selector.select(timeout):
                    if key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                        continue
                    try:
                        chunk = sock.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    if not chunk:
                        if time.monotonic() - since < 1.0:
                            self._flaps += 1
                            if self._flaps >= FLAPS:
                                raise _Unusable("the broker keeps closing the connection")
                        else:
                            self._flaps = 0
                        return "the broker went away"
                    heard, pinged = time.monotonic(), None
                    for line in self._lines.feed(chunk):
                        self._deliver(line)
                if time.monotonic() - since > HEALTHY_AFTER:
                    self._retry = RETRY[0]
        except ProtocolError:
            raise _Unusable("the broker sent something that is not the protocol") from None
        except OSError as exc:
            return f"the connection failed ({exc.strerror or exc})"
        finally:
            with self._lock:
                self._sock, self._flushing = None, False
            selector.close()

    def _deliver(self, line: bytes) -> None:
        message = decode_to_process(line, time.time())
        if isinstance(message, (Welcome, Refused)):
            raise ProtocolError("a welcome or a refusal in the middle")
        if isinstance(message, Granted):  # (one may cross its cancellation: no error)
            with self._lock:
                self._waiting.discard(message.id)
        self._listener.link_message(message)

    def _lost(self, why: str) -> None:
        log.info("host budget broker: %s; taking over or reconnecting", why)
        self._set_down(why, usable=True)

    def _unusable(self, why: str) -> None:
        log.warning("host budget unavailable (%s)", why)
        self._set_down(why, usable=False)
        if self._broker is not None:  # ours, and unusable even to us: let another serve
            self._broker.stop()
            self._broker = None
        wait = self._retry * (0.75 + 0.5 * self._rng.random())
        self._retry = min(RETRY[1], self._retry * 2)
        self._closed.wait(wait)

    def _set_down(self, why: str, *, usable: bool) -> None:
        with self._lock:
            self.state = LinkState.LOST if usable else LinkState.UNUSABLE
            self.why = why
            self._outbox.clear()
            self._waiting.clear()
        self._listener.link_down(why, usable=usable)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")


__all__ = [
    "DEFAULT_NAME",
    "NAME_ENV",
    "BrokerInfo",
    "HostLink",
    "LinkListener",
    "LinkState",
    "Probe",
    "broker_name",
    "probe",
]
