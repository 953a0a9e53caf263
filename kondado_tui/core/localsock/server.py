"""A line server on an abstract socket: a selectors loop on a thread of its own.

Thin on purpose: accept, read lines, hand each to the `Handler`, write what it says.
The socket is non-blocking everywhere and every peer is distrusted (any local user can
connect): a bounded buffer per connection, a line limit, a hello deadline (a peer the
handler has not `join`ed by then is dropped: a slow-loris holds nothing), a cap on
connections per user and in all, a cap on messages a second; any breach ends that
connection only. Each peer's uid and pid come from the kernel (`SO_PEERCRED`), never
from what it says.

Threads: the handler is called on the server's thread, and calls `send`, `join`,
`refuse` and `drop` there. Another thread hands work over with `call` (the collector's
event loop sends its broadcasts that way).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.localsock.framing import LineBuffer, ProtocolError
from kondado_tui.core.localsock.names import peer_credentials
from kondado_tui.core.threads import name_thread

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one peer may cost the server."""

    max_line: int  # bytes in one line from a peer, newline included
    hello_deadline: float = 2.0  # seconds until the handler must have `join`ed it
    max_connections: int = 256
    max_per_uid: int = 32  # a login's panes and cron jobs; a flood is refused
    max_outbox: int = 64 * 1024  # bytes waiting for a peer: one that stops reading goes
    message_burst: int = 200  # lines a peer may send at once ...
    messages_per_second: float = 100.0  # ... then this many a second; more ends it
    recv_chunk: int = 4096


@dataclass
class Peer:
    """One connection, as the handler sees it."""

    id: int
    sock: socket.socket
    uid: int
    pid: int
    opened: float
    lines: LineBuffer
    outbox: bytearray = field(default_factory=bytearray)
    joined: bool = False  # the handler accepted its hello: no deadline any more
    closing: bool = False  # flush the outbox (a refusal), then close
    tokens: float = 0.0
    refilled: float = 0.0


class Handler(Protocol):
    """The protocol served: called on the server's thread."""

    def received(self, server: LineServer, peer: Peer, line: bytes, now: float) -> None:
        """One line from `peer`; raise `ProtocolError` to end that connection."""
        ...

    def left(self, server: LineServer, peer: Peer, now: float) -> None:
        """`peer`'s connection ended (`peer.joined`: after its hello was accepted)."""
        ...

    def next_decision_at(self, now: float) -> float | None:
        """When `decide` wants to run next (None: only when something arrives)."""
        ...

    def decide(self, server: LineServer, now: float) -> None:
        """After every turn of the loop: time-driven work (grants, deadlines)."""
        ...


class LineServer:
    def __init__(
        self,
        listener: socket.socket,
        handler: Handler,
        limits: Limits,
        *,
        thread_name: str,
        what: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._listener = listener
        self._handler = handler
        self.limits = limits
        self._thread_name = thread_name
        self._what = what  # for the log: "host budget broker", "collector"
        self._clock = clock
        self._peers: dict[int, Peer] = {}
        self._ids = 0
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._calls: deque[Callable[[], None]] = deque()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped: Counter[str] = Counter()  # why connections were ended (diagnostics)

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        self._listener.setblocking(False)
        self._wake_r.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, "listen")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: the name is free the moment the listener closes."""
        self._stopping.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._close_all()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def connections(self) -> int:
        return len(self._peers)

    def call(self, work: Callable[[], None]) -> None:
        """Run `work` on the server's thread soon (from any thread)."""
        self._calls.append(work)
        self._wake()

    # -- what the handler calls (the server's thread) -----------------------------------

    def peer(self, peer_id: int) -> Peer | None:
        return self._peers.get(peer_id)

    def join(self, peer: Peer) -> None:
        peer.joined = True

    def send(self, peer_id: int, data: bytes) -> None:
        peer = self._peers.get(peer_id)
        if peer is None:
            return
        peer.outbox += data
        if len(peer.outbox) > self.limits.max_outbox:
            self.drop(peer, "it stopped reading")
            return
        self._flush(peer)

    def refuse(self, peer: Peer, data: bytes) -> None:
        """Send `data` (a refusal), then close; whatever the peer says meanwhile is
        ignored."""
        peer.closing = True
        self.send(peer.id, data)

    def drop(self, peer: Peer, why: str) -> None:
        if self._peers.pop(peer.id, None) is None:
            return
        if why:
            self.dropped[why] += 1
            log.info("%s: dropped a connection of uid %d: %s", self._what, peer.uid, why)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(peer.sock)
        with contextlib.suppress(OSError):
            peer.sock.close()
        self._handler.left(self, peer, self._clock.now())

    # -- the loop -----------------------------------------------------------------------

    def _run(self) -> None:
        name_thread(self._thread_name)
        try:
            while not self._stopping.is_set():
                for key, events in self._selector.select(self._timeout()):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        peer = self._peers.get(key.data)
                        if peer is None:
                            continue
                        if events & selectors.EVENT_READ:
                            self._read(peer)
                        if events & selectors.EVENT_WRITE and peer.id in self._peers:
                            self._flush(peer)
                while self._calls:
                    self._calls.popleft()()
                now = self._clock.now()
                self._expire_hellos(now)
                self._handler.decide(self, now)
        except Exception:  # a bug: free the name so another process takes over
            log.exception("the %s failed; another process takes over", self._what)
        finally:
            self._close_all()

    def _timeout(self) -> float | None:
        now = self._clock.now()
        deadline = self.limits.hello_deadline
        times = [p.opened + deadline for p in self._peers.values() if not p.joined]
        when = self._handler.next_decision_at(now)
        if when is not None:
            times.append(when)
        if self._calls:
            return 0.0
        if not times:
            return None  # nothing to do until someone speaks: no wake-ups at idle
        return min(max(0.0, min(times) - now), 60.0)

    def _accept(self) -> None:
        limits = self.limits
        for _ in range(64):  # drain the backlog, a bounded amount per turn
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("%s: cannot accept (%s)", self._what, exc.strerror)
                    return
                raise
            try:
                uid, pid = peer_credentials(sock)
            except OSError:
                sock.close()
                continue
            same_user = sum(1 for p in self._peers.values() if p.uid == uid)
            if len(self._peers) >= limits.max_connections or same_user >= limits.max_per_uid:
                self.dropped["too many connections"] += 1
                sock.close()
                continue
            sock.setblocking(False)
            self._ids += 1
            now = self._clock.now()
            peer = Peer(
                self._ids,
                sock,
                uid,
                pid,
                now,
                LineBuffer(limits.max_line),
                tokens=limits.message_burst,
                refilled=now,
            )
            self._peers[peer.id] = peer
            self._selector.register(sock, selectors.EVENT_READ, peer.id)

    def _read(self, peer: Peer) -> None:
        try:
            chunk = peer.sock.recv(self.limits.recv_chunk)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(peer, "connection error")
            return
        if not chunk:
            self.drop(peer, "")
            return
        if peer.closing:
            return  # a refused peer: whatever it says now is ignored
        try:
            lines = peer.lines.feed(chunk)
            now = self._clock.now()
            self._spend(peer, len(lines), now)
            for line in lines:
                self._handler.received(self, peer, line, now)
                if peer.id not in self._peers or peer.closing:
                    return
        except ProtocolError as exc:
            self.drop(peer, str(exc))

    def _spend(self, peer: Peer, lines: int, now: float) -> None:
        limits = self.limits
        refill = (now - peer.refilled) * limits.messages_per_second
        peer.tokens = min(limits.message_burst, peer.tokens + refill)
        peer.refilled = now
        peer.tokens -= lines
        if peer.tokens < 0:
            raise ProtocolError("more messages than any honest process sends")

    def _flush(self, peer: Peer) -> None:
        while peer.outbox:
            try:
                sent = peer.sock.send(peer.outbox)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.drop(peer, "connection error")
                return
            del peer.outbox[:sent]
        if not peer.outbox and peer.closing:
            self.drop(peer, "refused")
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if peer.outbox else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(peer.sock, events, peer.id)

    def _expire_hellos(self, now: float) -> None:
        deadline = self.limits.hello_deadline
        for peer in list(self._peers.values()):
            if not peer.joined and now - peer.opened > deadline:
                self.drop(peer, "no hello")

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _close_all(self) -> None:
        peers = list(self._peers.values())
        self._peers.clear()
        for peer in peers:
            with contextlib.suppress(OSError):
                peer.sock.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(Exception):
            self._selector.close()


__all__ = ["Handler", "Limits", "LineServer", "Peer"]
