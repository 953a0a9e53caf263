"""Dashboards of one account against the simulator, without a terminal: configs, shared
sessions, a collector in a process of its own (to kill), and a raw socket to the
account's name (for hostile peers). Used by tests/core/test_collector_*.py and
tests/ui/test_ui_viewer.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from kondado_tui.core.collector import trust, wire
from kondado_tui.core.collector.messages import Challenge, Hello, Prove
from kondado_tui.core.collector.shared import SharedSession, collector_name
from kondado_tui.core.config import Config, load_config
from kondado_tui.core.events import SessionEvent
from kondado_tui.core.sim import SimServer


def write_config(
    directory: Path,
    server: SimServer,
    ids: Iterable[int],
    *,
    name: str = "config",
    token: str | None = None,
    history: bool = True,
) -> Config:
    """A config for the simulator's account (another `token`: another account)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    text = (
        f'[api]\nbase_url = "{server.base_url}"\nkey = "{server.key}"\n'
        f'token = "{token if token is not None else server.token}"\n'
        f'ledger = "{directory / (name + "-ledger.sqlite3")}"\n'
    )
    if history:
        text += f'[history]\npath = "{directory / (name + "-history.sqlite3")}"\n'
    text += "".join(f"[[pipelines]]\nid = {pid}\n" for pid in ids)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_config(path, env={})


class Dashboard:
    """A shared session, polling (or viewing) in the background, recording its events."""

    def __init__(self, config: Config, *, alert_command: bool = False) -> None:
        self.config = config
        self.session = SharedSession.open(config, alert_command=alert_command)
        self.events: list[SessionEvent] = []
        self.session.subscribe(self.events.append)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Dashboard:
        await self.session.poller.start()
        self.task = asyncio.ensure_future(self.session.poller.run())
        return self

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.session.aclose()


async def until(condition: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(step)


# -- a collector in a process of its own --------------------------------------------------

COLLECTOR_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from kondado_tui.core.collector.shared import SharedSession
    from kondado_tui.core.config import load_config

    async def main() -> None:
        if len(sys.argv) > 2:  # beat this often (a test that stops this process)
            import kondado_tui.core.collector.serve as serve
            serve.BEAT_EVERY = float(sys.argv[2])
        session = SharedSession.open(load_config(Path(sys.argv[1]), env={}))
        await session.poller.start()
        print(f"ready role={session.role.value}", flush=True)
        await session.poller.run()

    asyncio.run(main())
    """
)


class CollectorProcess:
    """A dashboard without a terminal in another process (the same code the dashboard
    runs: `SharedSession`), so a test can SIGKILL it."""

    def __init__(self, config: Config, *, beat_every: float | None = None) -> None:
        beat = [] if beat_every is None else [str(beat_every)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", COLLECTOR_SCRIPT, str(config.path), *beat],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.proc.kill()
            raise AssertionError(f"the collector did not start: {line!r} {self.proc.stderr}")
        self.role = line.split("role=")[1].strip()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def collectors(configs: Iterable[Config]) -> Iterator[CollectorProcess]:
    for config in configs:
        yield CollectorProcess(config)


# -- raw sockets (hostile peers) ---------------------------------------------------------


def address_of(config: Config) -> bytes:
    name, _ = collector_name(config)
    assert name is not None
    return b"\0" + name.encode()


def raw_connection(config: Config, timeout: float = 3.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(address_of(config))
    return sock


def read_all(sock: socket.socket, timeout: float = 3.0) -> bytes:
    """Everything the other end sends until it closes (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(TimeoutError, OSError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def closed_by_peer(sock: socket.socket, timeout: float = 3.0) -> bool:
    """The other end closed the connection within `timeout` (whatever it sent first)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (TimeoutError, BlockingIOError):
        return False
    except OSError:
        return True
    return False


def secret_of(config: Config) -> bytes:
    api = config.api
    return trust.account(api.base_url, api.key, api.token).secret


def read_line(sock: socket.socket, buffer: bytearray, timeout: float = 3.0) -> bytes:
    sock.settimeout(timeout)
    while b"\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buffer += chunk
    end = buffer.index(b"\n") + 1
    line = bytes(buffer[:end])
    del buffer[:end]
    return line


def prove(sock: socket.socket, secret: bytes) -> tuple[trust.Seal, trust.Seal, bytearray]:
    """A viewer's handshake by hand (the test holds the token): (the seal to open the
    collector's lines with, the seal for ours, what was read past the welcome)."""
    mine = trust.nonce()
    sock.sendall(wire.encode_handshake(Hello(mine)))
    buffer = bytearray()
    challenge = wire.decode_handshake(read_line(sock, buffer))
    assert isinstance(challenge, Challenge)
    assert trust.proves(secret, trust.Direction.TO_VIEWER, mine, challenge.nonce, challenge.proof)
    proof = trust.proof(secret, trust.Direction.TO_COLLECTOR, mine, challenge.nonce)
    sock.sendall(wire.encode_handshake(Prove(proof)))
    from_collector, to_collector = trust.seals(secret, mine, challenge.nonce)
    welcome = from_collector.open(read_line(sock, buffer))
    assert welcome is not None and b'"welcome"' in welcome
    return from_collector, to_collector, buffer
