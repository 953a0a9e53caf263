"""The host budget broker: the `Arbiter` served on a Linux abstract Unix socket.

The first kondado-tui process on a host that finds nobody serving the well-known name
binds it (`link.HostLink` does) and runs this, on a thread of its own, so its own event
loop (a busy dashboard repainting) never delays another process's grant. It is a
client of itself through the same socket, like every other process.

Thin on purpose: accept, read lines, hand them to the arbiter, write what it says. The
socket is non-blocking everywhere and every peer is distrusted (any local user can
connect): a bounded buffer per connection, a line limit, a hello within
`HELLO_DEADLINE`, a cap on connections per user and in all, a cap on messages a second;
any breach ends that connection only. Each peer's uid and pid come from the kernel
(`SO_PEERCRED`), never from what it says.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import random
import selectors
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

from kondado_tui.core.budget.arbiter import Arbiter, Out, TooManyWants
from kondado_tui.core.budget.messages import (
    Cancel,
    Done,
    Hello,
    Lockout,
    Ping,
    Pong,
    Refused,
    ToBroker,
    Want,
)
from kondado_tui.core.budget.wire import (
    LineBuffer,
    ProtocolError,
    VersionMismatch,
    decode_to_broker,
    encode,
)
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.threads import name_thread

log = logging.getLogger(__name__)

THREAD = "kondado-broker"  # its name in `top -H`, `ps -L` and /proc
HELLO_DEADLINE = 2.0
"""A connection that has not said hello by then is dropped (a slow-loris holds nothing)."""
MAX_CONNECTIONS = 256
MAX_PER_UID = 32
"""Connections one user may hold (a login's panes, cron jobs; a flood is refused)."""
MAX_OUTBOX = 64 * 1024
"""Bytes waiting to be written to one peer: a peer that stops reading is dropped."""
MESSAGE_BURST = 200
MESSAGES_PER_SECOND = 100.0
"""Lines a peer may send: a burst, then this many a second; a flood ends the connection."""
RECV_CHUNK = 4096
_CRED = struct.Struct("3i")


@dataclass
class _Conn:
    id: int
    sock: socket.socket
    uid: int
    pid: int
    opened: float
    lines: LineBuffer = field(default_factory=LineBuffer)
    outbox: bytearray = field(default_factory=bytearray)
    joined: bool = False
    closing: bool = False  # flush the outbox (a refusal), then close
    tokens: float = MESSAGE_BURST
    refilled: float = 0.0


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """(uid, pid) of the process at the other end, as the kernel knows them."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    pid, uid, _gid = _CRED.unpack(raw)
    return uid, pid


class Broker:
    def __init__(
        self,
        listener: socket.socket,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self._listener = listener
        self._clock = clock
        self._arbiter = Arbiter(clock.now(), rng)
        self._conns: dict[int, _Conn] = {}
        self._ids = 0
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped: Counter[str] = Counter()  # why connections were ended (diagnostics)

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        self._listener.setblocking(False)
        self._wake_r.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, "listen")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name=THREAD, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: the name is free the moment the listener closes."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._close_all()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def connections(self) -> int:
        return len(self._conns)

    # -- the loop -----------------------------------------------------------------------

    def _run(self) -> None:
        name_thread(THREAD)
        try:
            while not self._stopping.is_set():
                for key, events in self._selector.select(self._timeout()):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                    else:
                        conn = self._conns.get(key.data)
                        if conn is None:
                            continue
                        if events & selectors.EVENT_READ:
                            self._read(conn)
                        if events & selectors.EVENT_WRITE and conn.id in self._conns:
                            self._flush(conn)
                now = self._clock.now()
                self._expire_hellos(now)
                self._dispatch(self._arbiter.decide(now))
        except Exception:  # a bug: free the name so another process takes over
            log.exception("the host budget broker failed; another process takes over")
        finally:
            self._close_all()

    def _timeout(self) -> float | None:
        now = self._clock.now()
        times = [c.opened + HELLO_DEADLINE for c in self._conns.values() if not c.joined]
        when = self._arbiter.next_decision_at(now)
        if when is not None:
            times.append(when)
        if not times:
            return None  # nothing to do until someone speaks: no wake-ups at idle
        return min(max(0.0, min(times) - now), 60.0)

    def _accept(self) -> None:
        for _ in range(64):  # drain the backlog, a bounded amount per turn
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("host budget broker: cannot accept (%s)", exc.strerror)
                    return
                raise
            try:
                uid, pid = peer_credentials(sock)
            except OSError:
                sock.close()
                continue
            same_user = sum(1 for c in self._conns.values() if c.uid == uid)
            if len(self._conns) >= MAX_CONNECTIONS or same_user >= MAX_PER_UID:
                self.dropped["too many connections"] += 1
                sock.close()
                continue
            sock.setblocking(False)
            self._ids += 1
            now = self._clock.now()
            conn = _Conn(self._ids, sock, uid, pid, now, refilled=now)
            self._conns[conn.id] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn.id)

    def _read(self, conn: _Conn) -> None:
        try:
            chunk = conn.sock.recv(RECV_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn, "connection error")
            return
        if not chunk:
            self._drop(conn, "")
            return
        if conn.closing:
            return  # a refused peer: whatever it says now is ignored
        try:
            lines = conn.lines.feed(chunk)
            now = self._clock.now()
            self._spend(conn, len(lines), now)
            for line in lines:
                self._handle(conn, decode_to_broker(line, now), now)
                if conn.id not in self._conns or conn.closing:
                    return
        except VersionMismatch:
            self._refuse(conn, "version")
        except (ProtocolError, TooManyWants) as exc:
            self._drop(conn, str(exc))

    def _spend(self, conn: _Conn, lines: int, now: float) -> None:
        conn.tokens = min(MESSAGE_BURST, conn.tokens + (now - conn.refilled) * MESSAGES_PER_SECOND)
        conn.refilled = now
        conn.tokens -= lines
        if conn.tokens < 0:
            raise ProtocolError("more messages than any honest process sends")

    def _handle(self, conn: _Conn, message: ToBroker, now: float) -> None:
        arbiter = self._arbiter
        if not conn.joined:
            if not isinstance(message, Hello):
                raise ProtocolError("a message before the hello")
            conn.joined = True
            self._dispatch(arbiter.join(conn.id, conn.uid, conn.pid, message, now))
            return
        match message:
            case Hello():
                raise ProtocolError("a second hello")
            case Want(id, priority):
                self._dispatch(arbiter.want(conn.id, id, priority, now))
            case Cancel(id):
                self._dispatch(arbiter.cancel(conn.id, id, now))
            case Done(id):
                self._dispatch(arbiter.done(conn.id, id, now))
            case Lockout(wait):
                self._dispatch(arbiter.lockout(conn.id, wait, now))
            case Ping():
                self._send(conn, encode(Pong()))

    def _dispatch(self, out: list[Out]) -> None:
        for peer, message in out:
            conn = self._conns.get(peer)
            if conn is not None:
                self._send(conn, encode(message))

    def _send(self, conn: _Conn, data: bytes) -> None:
        conn.outbox += data
        if len(conn.outbox) > MAX_OUTBOX:
            self._drop(conn, "it stopped reading")
            return
        self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        while conn.outbox:
            try:
                sent = conn.sock.send(conn.outbox)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(conn, "connection error")
                return
            del conn.outbox[:sent]
        if not conn.outbox and conn.closing:
            self._drop(conn, "refused")
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbox else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(conn.sock, events, conn.id)

    def _refuse(self, conn: _Conn, why: str) -> None:
        conn.closing = True
        self._send(conn, encode(Refused(why)))

    def _expire_hellos(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if not conn.joined and now - conn.opened > HELLO_DEADLINE:
                self._drop(conn, "no hello")

    def _drop(self, conn: _Conn, why: str) -> None:
        if self._conns.pop(conn.id, None) is None:
            return
        if why:
            self.dropped[why] += 1
            log.info("host budget broker: dropped a connection of uid %d: %s", conn.uid, why)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()
        if conn.joined:
            self._dispatch(self._arbiter.leave(conn.id, self._clock.now()))

    def _close_all(self) -> None:
        for conn in list(self._conns.values()):
            with contextlib.suppress(OSError):
                conn.sock.close()
        self._conns.clear()
        for sock in (self._listener, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(Exception):
            self._selector.close()


__all__ = ["HELLO_DEADLINE", "MAX_PER_UID", "Broker", "peer_credentials"]
