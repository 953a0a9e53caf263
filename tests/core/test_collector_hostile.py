"""Another local user against an account's collector: a process without the token
cannot attach; a squatter on the name cannot pose as a collector (the dashboard polls on
its own and says so); hostile peers (truncated, oversized, wrong-version, garbage, wrong
types, floods, a peer that never reads) end their own connection only, and the collector
keeps serving its honest viewer. Real sockets, the simulator over HTTP, real time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from collector_helpers import (
    Dashboard,
    address_of,
    closed_by_peer,
    prove,
    raw_connection,
    read_all,
    read_line,
    secret_of,
    until,
    write_config,
)
from squatters import SocketSquatter

import kondado_tui.core.collector.serve as serve_module
from kondado_tui.core.collector import trust, wire
from kondado_tui.core.collector.messages import (
    TO_COLLECTOR_LINE,
    Challenge,
    Hello,
    Peek,
    Prove,
    Refused,
    Watch,
)
from kondado_tui.core.events import Role, StatusObserved
from kondado_tui.core.localsock.server import Limits
from kondado_tui.core.sim import SimServer, SimWorld


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(world=SimWorld(pipelines=8, seed=4, speed=20.0), rate_limit=False)


# -- who may attach ---------------------------------------------------------------------


async def test_a_process_without_the_token_gets_nothing(tmp_path: Path, server: SimServer) -> None:
    ids = server.world.pipeline_ids
    collector = await Dashboard(write_config(tmp_path / "a", server, ids[:3])).start()
    try:
        await until(lambda: len(collector.session.known) == 3, 15)

        def stranger() -> bytes:
            sock = raw_connection(collector.config)
            try:
                mine = trust.nonce()
                sock.sendall(wire.encode_handshake(Hello(mine)))
                buffer = bytearray()
                challenge = wire.decode_handshake(read_line(sock, buffer))
                assert isinstance(challenge, Challenge)  # the collector proved itself ...
                guess = trust.proof(
                    secrets.token_bytes(32), trust.Direction.TO_COLLECTOR, mine, challenge.nonce
                )
                sock.sendall(wire.encode_handshake(Prove(guess)))
                # ... ours is refused; asking for statuses anyway changes nothing
                with contextlib.suppress(OSError):  # it may have hung up already
                    sock.sendall(wire.encode(Watch(tuple(ids))) + wire.encode(Peek(1, tuple(ids))))
                return bytes(buffer) + read_all(sock)
            finally:
                sock.close()

        said = await asyncio.to_thread(stranger)
        assert wire.decode_handshake(said) == Refused("proof")  # one line, then closed
        assert b"status" not in said and b"peeked" not in said

        # nor can it skip the handshake and speak as a proven viewer
        def skipper() -> bytes:
            sock = raw_connection(collector.config)
            try:
                with contextlib.suppress(OSError):
                    sock.sendall(b"0" * 32 + b" " + wire.encode(Watch(tuple(ids))))
                return read_all(sock)
            finally:
                sock.close()

        assert await asyncio.to_thread(skipper) == b""
        # another account (same key, another token) has another name: it never attaches
        other = await Dashboard(
            write_config(tmp_path / "b", server, ids[:3], token="other")
        ).start()
        try:
            assert other.session.role is Role.SERVING  # its own account's collector
            assert address_of(other.config) != address_of(collector.config)
        finally:
            await other.close()
    finally:
        await collector.close()


FAKE_WORDS = "all is well, says the squatter"


def fake_status(pipeline_id: int) -> bytes:
    """What a squatter would like a dashboard to show: one of its own pipelines, fresh."""
    status = {"st": "active", "run": False, "act": True, "blk": False, "msg": FAKE_WORDS}
    line = {"t": "status", "id": pipeline_id, "at": time.time(), "since": None, "first": False}
    return json.dumps({**line, "s": status}).encode() + b"\n"


class Squatter(SocketSquatter):
    """Someone else's process on the account's name (read from /proc/net/unix)."""

    def __init__(self, address: bytes, mode: str, pipeline_id: int = 1) -> None:
        self.mode = mode
        self.pipeline_id = pipeline_id  # the one it pretends to have news of
        super().__init__(address)

    def serve(self, conn: socket.socket) -> None:
        buffer = bytearray()
        with contextlib.suppress(OSError, EOFError):
            line = read_line(conn, buffer, 5.0)
            hello = wire.decode_handshake(line)
            assert isinstance(hello, Hello)
            fake = fake_status(self.pipeline_id)
            welcome = b'{"t":"welcome","viewers":1,"history":false}\n'
            if self.mode == "forged proof":  # it cannot compute the proof: it guesses
                forged = Challenge(trust.nonce(), secrets.token_hex(32))
                conn.sendall(wire.encode_handshake(forged))
                read_line(conn, buffer, 5.0)
                conn.sendall(b"0" * 32 + b" " + welcome + b"0" * 32 + b" " + fake)
            elif self.mode == "replayed proof":  # a proof it saw, for other nonces
                seen = trust.proof(b"x" * 32, trust.Direction.TO_VIEWER, hello.nonce, "1" * 64)
                conn.sendall(wire.encode_handshake(Challenge("2" * 64, seen)))
            elif self.mode == "garbage":
                conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + fake)
            elif self.mode == "another version":  # a collector of before the beat
                conn.sendall(b'{"v":1,"t":"challenge","nonce":"' + b"a" * 64 + b'"}\n')
            elif self.mode == "silent":
                self.stop.wait(10)


@pytest.fixture
def squat() -> Iterator[Callable[..., Squatter]]:
    made: list[Squatter] = []

    def start(address: bytes, mode: str, pipeline_id: int = 1) -> Squatter:
        squatter = Squatter(address, mode, pipeline_id)
        made.append(squatter)
        return squatter

    yield start
    for squatter in made:
        squatter.close()


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("forged proof", "cannot prove it holds the account's token"),
        ("replayed proof", "cannot prove it holds the account's token"),
        ("garbage", "not the protocol"),
        ("another version", "another version"),
        ("silent", "does not answer"),
    ],
)
async def test_a_squatter_cannot_pose_as_a_collector(
    tmp_path: Path,
    server: SimServer,
    squat: Callable[..., Squatter],
    mode: str,
    words: str,
) -> None:
    ids = server.world.pipeline_ids[:3]
    config = write_config(tmp_path, server, ids)
    squat(address_of(config), mode, ids[0])
    board = await Dashboard(config).start()
    try:
        link = board.session.poller.health.collector
        assert link is not None and link.role is Role.ALONE, link
        assert words in link.why
        await until(lambda: set(board.session.known) == set(ids), 15)  # it polls itself
        assert all(f"/{pid}/" in "".join(r.path for r in server.log) for pid in ids)
        shown = [e for e in board.events if isinstance(e, StatusObserved)]
        assert not any(e.observation.status.raw_msg == FAKE_WORDS for e in shown)
    finally:
        await board.close()


async def test_polling_alone_becomes_the_collector_once_the_squatter_leaves(
    tmp_path: Path,
    server: SimServer,
    squat: Callable[..., Squatter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kondado_tui.core.collector.shared as shared

    monkeypatch.setattr(shared, "ALONE_RETRY", (0.5, 1.0))
    ids = server.world.pipeline_ids[:2]
    config = write_config(tmp_path, server, ids)
    squatter = squat(address_of(config), "forged proof")
    board = await Dashboard(config).start()
    try:
        assert board.session.role is Role.ALONE
        squatter.close()
        await until(lambda: board.session.role is Role.SERVING, 10)
        viewer = await Dashboard(write_config(tmp_path / "b", server, ids)).start()
        try:
            assert viewer.session.role is Role.VIEWING
        finally:
            await viewer.close()
    finally:
        await board.close()


# -- hostile peers against an honest collector -----------------------------------------


@pytest.fixture
def small_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that never reads fills the collector's buffer for it sooner."""
    small = Limits(**{**serve_module.LIMITS.__dict__, "max_outbox": 64 * 1024})
    monkeypatch.setattr(serve_module, "LIMITS", small)


async def test_hostile_peers_end_their_own_connection_only(
    tmp_path: Path, server: SimServer, small_outbox: None
) -> None:
    ids = server.world.pipeline_ids
    collector = await Dashboard(write_config(tmp_path / "a", server, ids[:4])).start()
    viewer = await Dashboard(write_config(tmp_path / "b", server, ids[2:6])).start()
    config, secret = collector.config, secret_of(collector.config)
    try:
        await until(lambda: set(viewer.session.known) == set(ids[2:6]), 15)

        def attack(name: str) -> bool:
            """One hostile peer; True when the collector closed its connection."""
            sock = raw_connection(config)
            try:
                if name == "truncated":
                    sock.sendall(b'{"v":2,"t":"hel')
                    sock.shutdown(socket.SHUT_WR)
                elif name == "oversized":
                    with contextlib.suppress(OSError):
                        sock.sendall(b"x" * (TO_COLLECTOR_LINE + 10))
                elif name == "wrong version":
                    sock.sendall(b'{"v":99,"t":"hello","nonce":"' + b"a" * 64 + b'"}\n')
                    assert b'"why":"version"' in read_all(sock)
                    return True
                elif name == "garbage":
                    sock.sendall(bytes(range(256)) * 4 + b"\n")
                elif name == "nothing at all":  # a slow-loris: the hello deadline ends it
                    return closed_by_peer(sock, 5.0)
                else:  # these hold the token: a proven viewer gone bad
                    _, seal, _ = prove(sock, secret)
                    if name == "wrong types":
                        sock.sendall(seal.seal(b'{"t":"watch","ids":["1"],"paused":0}\n'))
                    elif name == "bad seal":
                        sock.sendall(b"f" * 32 + b" " + wire.encode(Watch((ids[0],))))
                    elif name == "flood":
                        line = b"".join(seal.seal(wire.encode(Peek(1, ()))) for _ in range(2000))
                        with contextlib.suppress(OSError):
                            sock.sendall(line)
                    elif name == "never reads":
                        sock.sendall(seal.seal(wire.encode(Watch(tuple(ids[:4])))))
                        for n in range(3000):
                            with contextlib.suppress(OSError):
                                sock.sendall(seal.seal(wire.encode(Peek(n, tuple(ids[:4])))))
                            if n % 300 == 299:
                                time.sleep(0.5)  # within the message rate
                        time.sleep(1.0)
                        sock.setblocking(False)
                        with contextlib.suppress(OSError):  # what it let pile up
                            while sock.recv(1 << 20):
                                pass
                return closed_by_peer(sock, 5.0)
            finally:
                sock.close()

        for name in (
            "truncated",
            "oversized",
            "wrong version",
            "garbage",
            "nothing at all",
            "wrong types",
            "bad seal",
            "flood",
            "never reads",
        ):
            assert await asyncio.to_thread(attack, name), name
            assert collector.session.role is Role.SERVING
        serving = collector.session.backend.serving  # type: ignore[union-attr]
        assert serving is not None and serving.viewers == 1  # the honest one, still there
        assert serving.dropped["it stopped reading"] >= 1
        assert serving.dropped["more messages than any honest process sends"] >= 1
        # ... and still served: a change reaches it
        marks = {pid: e.observation.observed_at for pid, e in viewer.session.known.items()}
        for pid in ids[2:6]:
            viewer.session.poller.request_now(pid)
        await until(
            lambda: any(
                e.observation.observed_at > marks[pid] for pid, e in viewer.session.known.items()
            ),
            10,
        )
    finally:
        await viewer.close()
        await collector.close()


def test_the_squatters_fake_status_line_would_not_decode_unsealed() -> None:
    """What a squatter sends after a forged handshake is not even a sealed line."""
    line = b"0" * 32 + b' {"t":"status"}\n'
    seal = trust.seals(b"k" * 32, "1" * 64, "2" * 64)[0]
    assert seal.open(line) is None
    assert json.loads(line[33:]) == {"t": "status"}
