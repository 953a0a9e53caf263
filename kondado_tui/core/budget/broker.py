"""The host budget broker: the `Arbiter` served on a Linux abstract Unix socket.

The first kondado-tui process on a host that finds nobody serving the well-known name
binds it (`link.HostLink` does) and runs this, on a thread of its own, so its own event
loop (a busy dashboard repainting) never delays another process's grant. It is a
client of itself through the same socket, like every other process.

The socket serving and its guards (bounded buffers, the hello deadline, the caps per
user, in all and per second, the kernel's uid and pid of each peer) are
`localsock.server.LineServer`'s; this is the budget's protocol on it: hello, then wants,
cancels, answers and lock-outs handed to the arbiter, and what it decides sent back.
"""

from __future__ import annotations

import random
import socket

from kondado_tui.core.budget.arbiter import Arbiter, Out, TooManyWants
from kondado_tui.core.budget.messages import (
    Cancel,
    Done,
    Hello,
    Lockout,
    Ping,
    Pong,
    Refused,
    Want,
)
from kondado_tui.core.budget.wire import MAX_LINE, decode_to_broker, encode
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.localsock.framing import ProtocolError, VersionMismatch
from kondado_tui.core.localsock.names import peer_credentials
from kondado_tui.core.localsock.server import Limits, LineServer, Peer

THREAD = "kondado-broker"  # its name in `top -H`, `ps -L` and /proc
HELLO_DEADLINE = 2.0
"""A connection that has not said hello by then is dropped (a slow-loris holds nothing)."""
MAX_PER_UID = 32
"""Connections one user may hold (a login's panes, cron jobs; a flood is refused)."""
LIMITS = Limits(
    max_line=MAX_LINE,
    hello_deadline=HELLO_DEADLINE,
    max_connections=256,
    max_per_uid=MAX_PER_UID,
    max_outbox=64 * 1024,
    # an honest process sends two or three lines per request, at most a few a second
    message_burst=60,
    messages_per_second=20.0,
)


class _Arbitrated:
    """The budget's protocol, on the server's thread."""

    def __init__(self, arbiter: Arbiter) -> None:
        self._arbiter = arbiter
        # When to decide next is a walk over every waiting request: done again only
        # after the arbiter's state changed (a ping or garbage changes nothing), and
        # `decide` runs only when that time came (every message that changes something
        # already had the arbiter decide).
        self._changed = True
        self._decide_at: float | None = None

    def received(self, server: LineServer, peer: Peer, line: bytes, now: float) -> None:
        try:
            message = decode_to_broker(line, now)
        except VersionMismatch:
            server.refuse(peer, encode(Refused("version")))
            return
        arbiter = self._arbiter
        try:
            if not peer.joined:
                if not isinstance(message, Hello):
                    raise ProtocolError("a message before the hello")
                server.join(peer)
                self._dispatch(server, arbiter.join(peer.id, peer.uid, peer.pid, message, now))
                return
            match message:
                case Hello():
                    raise ProtocolError("a second hello")
                case Want(id, priority):
                    self._dispatch(server, arbiter.want(peer.id, id, priority, now))
                case Cancel(id):
                    self._dispatch(server, arbiter.cancel(peer.id, id, now))
                case Done(id):
                    self._dispatch(server, arbiter.done(peer.id, id, now))
                case Lockout(wait):
                    self._dispatch(server, arbiter.lockout(peer.id, wait, now))
                case Ping():
                    server.send(peer.id, encode(Pong()))
        except TooManyWants as exc:
            raise ProtocolError(str(exc)) from None

    def left(self, server: LineServer, peer: Peer, now: float) -> None:
        if peer.joined:
            self._dispatch(server, self._arbiter.leave(peer.id, now))

    def next_decision_at(self, now: float) -> float | None:
        if self._changed:
            self._changed = False
            self._decide_at = self._arbiter.next_decision_at(now)
        return self._decide_at

    def decide(self, server: LineServer, now: float) -> None:
        if self._decide_at is not None and self._decide_at <= now:
            self._dispatch(server, self._arbiter.decide(now))

    def _dispatch(self, server: LineServer, out: list[Out]) -> None:
        self._changed = True
        for peer, message in out:
            server.send(peer, encode(message))


class Broker(LineServer):
    def __init__(
        self,
        listener: socket.socket,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            listener,
            _Arbitrated(Arbiter(clock.now(), rng)),
            LIMITS,
            thread_name=THREAD,
            what="host budget broker",
            clock=clock,
        )


__all__ = ["HELLO_DEADLINE", "MAX_PER_UID", "Broker", "peer_credentials"]
