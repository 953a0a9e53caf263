"""Find the account's collector, or become it; and the viewer's end of the connection.

`find_or_become` tries the account's name: a process that answers and proves it holds
the account is its collector (`Attached`); nobody serving the name means this process
binds it and becomes the collector (`Became`, with the listening socket); anything else
(a process that binds the name but cannot prove it holds the token, speaks another
version, answers garbage or nothing) is not trusted (`Untrusted`, saying why): the
caller then polls on its own. The name is free again the instant its holder dies, so a
viewer whose collector went away calls this again: one of them wins the bind, the
others attach to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pwd
import random
import socket
import time
from dataclasses import dataclass

from kondado_tui.core.collector import trust, wire
from kondado_tui.core.collector.messages import (
    HANDSHAKE_LINE,
    TO_VIEWER_LINE,
    Challenge,
    Hello,
    Prove,
    Refused,
    ToCollector,
    ToViewer,
    Welcome,
)
from kondado_tui.core.localsock.framing import LineBuffer, ProtocolError, VersionMismatch
from kondado_tui.core.localsock.names import (
    Reach,
    Unreachable,
    address,
    peer_credentials,
    reach,
)

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 2.0
REACH_TIMEOUT = 3.0
"""Connect to a collector, or become one, within this; else the name is held by a
process that does not serve it."""
MAX_WRITE_BUFFER = 4 * 1024 * 1024
"""Bytes waiting to go to the collector: one that stops reading is left."""


@dataclass(frozen=True)
class Collector:
    """The process serving the account's name, as the kernel knows it."""

    pid: int
    uid: int

    @property
    def login(self) -> str:
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return f"uid {self.uid}"


class Connection:
    """A proven connection to the collector: sealed lines both ways."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        seals: tuple[trust.Seal, trust.Seal],
        collector: Collector,
        welcome: Welcome,
        lines: LineBuffer,
        pending: list[bytes],
    ) -> None:
        self._reader, self._writer = reader, writer
        self._from_collector, self._to_collector = seals
        self.collector = collector
        self.welcome = welcome
        self._lines = lines
        self._pending = pending  # read with the welcome, not handled yet

    def send(self, message: ToCollector) -> bool:
        """Queue a message; False when the connection is gone or the collector stopped
        reading (then it is closed)."""
        if self._writer.is_closing():
            return False
        self._writer.write(self._to_collector.seal(wire.encode(message)))
        if self._writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("collector: it stopped reading; leaving it")
            self.close()
            return False
        return True

    async def receive(self) -> ToViewer:
        """The next message; EOFError when the connection ended, `ProtocolError` when
        the collector sent something the protocol does not allow (or a broken seal)."""
        while not self._pending:
            chunk = await self._reader.read(65536)
            if not chunk:
                raise EOFError("the collector closed the connection")
            self._pending = self._lines.feed(chunk)
        line = self._pending.pop(0)
        payload = self._from_collector.open(line)
        if payload is None:
            raise ProtocolError("a line whose seal does not hold")
        return wire.decode_to_viewer(payload, time.time())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()


@dataclass(frozen=True)
class Attached:
    connection: Connection


@dataclass(frozen=True)
class Became:
    listener: socket.socket


@dataclass(frozen=True)
class Untrusted:
    why: str
    collector: Collector | None = None
    silent: bool = False  # the name's holder does not answer at all (stopped, hung)


Found = Attached | Became | Untrusted


async def find_or_become(
    name: str,
    secret: bytes,
    *,
    timeout: float = REACH_TIMEOUT,
    rng: random.Random | None = None,
) -> Found:
    """Attach to the collector serving `name`, or bind it; see the module's docstring."""
    rng = rng or random.Random()
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        try:
            found, sock = await asyncio.to_thread(reach, name, 1.0)
        except Unreachable as exc:
            return Untrusted(str(exc))
        if found is Reach.BOUND and sock is not None:
            return Became(sock)
        if found is Reach.CONNECTED and sock is not None:
            return await _attach(sock, secret)
        if time.monotonic() > deadline:
            return Untrusted(
                "its name is held by a process that does not accept connections", silent=True
            )
        await asyncio.sleep(pause * (0.5 + rng.random()))
        pause = min(0.2, pause * 2)


async def attach_only(name: str, secret: bytes) -> Attached | Untrusted | None:
    """Attach to the collector serving `name` if one does; never bind it (None: nobody
    serves it). For a one-shot look (`kondado-tui status`) that must not hold the name
    even for an instant: a dashboard starting then would find nobody answering."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(1.0)
    try:
        await asyncio.to_thread(sock.connect, address(name))
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        return None
    except OSError as exc:
        sock.close()
        return Untrusted(f"cannot reach this account's collector ({exc.strerror or exc})")
    found = await _attach(sock, secret)
    assert not isinstance(found, Became)
    return found


async def _attach(sock: socket.socket, secret: bytes) -> Found:
    try:
        uid, pid = peer_credentials(sock)
    except OSError as exc:
        sock.close()
        return Untrusted(f"cannot ask who holds the name ({exc.strerror or exc})")
    collector = Collector(pid, uid)
    sock.setblocking(False)
    try:
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=TO_VIEWER_LINE)
    except OSError as exc:
        sock.close()
        return Untrusted(f"cannot talk to it ({exc.strerror or exc})", collector)
    try:
        return await asyncio.wait_for(
            _handshake(reader, writer, secret, collector), HANDSHAKE_TIMEOUT
        )
    except TimeoutError:
        writer.close()
        return Untrusted(
            f"the process holding this account's name (pid {pid}, {collector.login}) "
            "does not answer",
            collector,
            silent=True,
        )


async def _handshake(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    secret: bytes,
    collector: Collector,
) -> Found:
    who = f"pid {collector.pid}, {collector.login}"
    lines = LineBuffer(TO_VIEWER_LINE)
    pending: list[bytes] = []

    async def next_line() -> bytes:
        nonlocal pending
        while not pending:
            chunk = await reader.read(4096)
            if not chunk:
                raise EOFError
            pending = lines.feed(chunk)
        return pending.pop(0)

    mine = trust.nonce()
    try:
        writer.write(wire.encode_handshake(Hello(mine)))
        first = await next_line()
        if len(first) > HANDSHAKE_LINE:
            raise ProtocolError("a handshake line longer than the protocol allows")
        try:
            answer = wire.decode_handshake(first)
        except VersionMismatch:
            writer.write(wire.encode_handshake(Refused("version")))
            await writer.drain()
            writer.close()
            return Untrusted(
                f"the collector of this account ({who}) speaks another version of the protocol",
                collector,
            )
        if isinstance(answer, Refused):
            writer.close()
            why = "another version of the protocol" if answer.why == "version" else answer.why
            return Untrusted(f"the collector of this account ({who}) refused: {why}", collector)
        if not isinstance(answer, Challenge):
            raise ProtocolError("not a challenge")
        if not trust.proves(secret, trust.Direction.TO_VIEWER, mine, answer.nonce, answer.proof):
            log.warning(
                "collector: the process holding this account's name (%s) cannot prove it "
                "holds the token; not trusting it",
                who,
            )
            writer.close()
            return Untrusted(
                f"the process holding this account's name ({who}) cannot prove it holds "
                "the account's token",
                collector,
            )
        proof = trust.proof(secret, trust.Direction.TO_COLLECTOR, mine, answer.nonce)
        writer.write(wire.encode_handshake(Prove(proof)))
        seals = trust.seals(secret, mine, answer.nonce)
        sealed = await next_line()
        payload = seals[0].open(sealed)
        if payload is None:
            if isinstance(wire.decode_handshake(sealed), Refused):  # our proof, refused
                writer.close()
                return Untrusted(
                    f"the collector of this account ({who}) refused this process's proof",
                    collector,
                )
            raise ProtocolError("the welcome's seal does not hold")
        welcome = wire.decode_to_viewer(payload, time.time())
        if not isinstance(welcome, Welcome):
            raise ProtocolError("not a welcome")
    except (EOFError, ConnectionError):
        writer.close()
        return Untrusted(f"the process holding this account's name ({who}) hung up", collector)
    except ProtocolError:
        writer.close()
        return Untrusted(
            f"the process holding this account's name ({who}) answers something that "
            "is not the protocol",
            collector,
        )
    return Attached(Connection(reader, writer, seals, collector, welcome, lines, pending))


__all__ = [
    "Attached",
    "Became",
    "Collector",
    "Connection",
    "Found",
    "Untrusted",
    "attach_only",
    "find_or_become",
]
