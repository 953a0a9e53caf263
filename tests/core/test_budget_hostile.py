"""Another local user against the host budget: a squatter on the broker's name (deaf,
silent, garbage, refusing, withholding, or granting everything), and hostile clients
against an honest broker (garbage, huge lines, slow-loris, floods). Nobody crashes or
hangs; everyone falls back to safe local limiting and says so. Real sockets and time."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from squatters import SocketSquatter

import kondado_tui.core.budget.host_budget as host_budget_module
from kondado_tui.core.budget import HostBudget, RateBudget
from kondado_tui.core.budget.broker import MAX_PER_UID
from kondado_tui.core.budget.host_budget import FALLBACK_PER_MINUTE, Mode
from kondado_tui.core.budget.messages import (
    Granted,
    Hello,
    Limits,
    Peers,
    Pong,
    Refused,
    Want,
    Welcome,
    Window,
)
from kondado_tui.core.budget.scope import scope_for
from kondado_tui.core.budget.wire import (
    MAX_LINE,
    LineBuffer,
    decode_to_broker,
    decode_to_process,
    encode,
)
from kondado_tui.core.models import Priority

BG, INTER = Priority.BACKGROUND, Priority.INTERACTIVE
SCOPE = scope_for("https://k2.kondado.com.br", "key", "token")


def address(name: str) -> bytes:
    return b"\0" + name.encode()


class Squatter(SocketSquatter):
    """Someone else's process holding the broker's name, playing `mode`."""

    def __init__(self, name: str, mode: str) -> None:
        self.mode = mode
        self.wants = 0
        super().__init__(address(name), listen=mode != "deaf")

    def serve(self, conn: socket.socket) -> None:
        lines = LineBuffer(1 << 20)
        conn.settimeout(0.1)
        while not self.stop.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            for line in lines.feed(chunk):
                self._answer(conn, line)

    def _answer(self, conn: socket.socket, line: bytes) -> None:
        now = time.time()
        message = decode_to_broker(line, now)
        reply: list[bytes] = []
        if self.mode == "silent":
            return
        if self.mode == "garbage":
            reply = [b'HTTP/1.1 200 OK\r\n\r\n{"t": "welcome", "slots": "lots"}\n']
        elif self.mode == "refusing":
            reply = [encode(Refused("version"))]
        elif isinstance(message, Hello):
            limits = Limits(18, 18, None)
            reply = [encode(Welcome((), limits, Peers(1, 1, 1.0)))]
        elif isinstance(message, Want):
            self.wants += 1
            if self.mode == "generous":
                reply = [encode(Granted(message.id, 10_000 + message.id, now))]
        else:
            reply = [encode(Pong())]
        with contextlib.suppress(OSError):
            conn.sendall(b"".join(reply))


@pytest.fixture
def squat(host_budget_name: str) -> Iterator[Callable[[str], Squatter]]:
    made: list[Squatter] = []

    def start(mode: str) -> Squatter:
        squatter = Squatter(host_budget_name, mode)
        made.append(squatter)
        return squatter

    yield start
    for squatter in made:
        squatter.close()


@pytest.fixture
def budgets() -> Iterator[list[HostBudget]]:
    made: list[HostBudget] = []
    yield made
    for budget in made:
        budget.close()


def make(budgets: list[HostBudget], name: str) -> HostBudget:
    budget = HostBudget(18, SCOPE, name, RateBudget(FALLBACK_PER_MINUTE))
    budgets.append(budget)
    return budget


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.02)


# -- a squatter on the name --------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, why",
    [
        ("deaf", "held by a process that does not accept connections"),
        ("silent", "no answer from the broker"),
        ("garbage", "answered something that is not the protocol"),
        ("refusing", "refused this process (version)"),
    ],
)
async def test_a_squatter_means_limiting_alone_and_saying_so(
    squat: Callable[[str], Squatter],
    budgets: list[HostBudget],
    host_budget_name: str,
    mode: str,
    why: str,
) -> None:
    squat(mode)
    notes: list[str] = []
    a, b = make(budgets, host_budget_name), make(budgets, host_budget_name)
    a.notices = notes.append
    asked = time.monotonic()
    await asyncio.wait_for(a.acquire(INTER), 10.0)  # served, alone, within seconds
    assert time.monotonic() - asked < 6.0
    await until(lambda: a.mode is Mode.ALONE and b.mode is Mode.ALONE)
    assert why in a.note
    assert f"limiting this process to {FALLBACK_PER_MINUTE}/min" in a.note
    await until(lambda: bool(notes))  # told on the link's thread, just after the switch
    assert a.warning == a.note and notes == [a.note]
    assert not a.sharing.host_wide and why in a.sharing.why_alone
    assert a.limit_per_minute == FALLBACK_PER_MINUTE


async def test_a_squatter_that_never_grants_is_found_out(
    squat: Callable[[str], Squatter],
    budgets: list[HostBudget],
    host_budget_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(host_budget_module.WITHHELD_AFTER, INTER, 2.0)
    squatter = squat("withholding")
    a = make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST)  # it says all the right things
    await asyncio.wait_for(a.acquire(INTER), 15.0)
    assert squatter.wants >= 1
    assert a.mode is Mode.ALONE and "withholds slots" in a.note


async def test_a_broker_granting_everything_cannot_make_us_breach_alone(
    squat: Callable[[str], Squatter], budgets: list[HostBudget], host_budget_name: str
) -> None:
    squat("generous")
    a = make(budgets, host_budget_name)
    await until(lambda: a.mode is Mode.HOST)
    stamps = []
    for _ in range(5):
        await asyncio.wait_for(a.acquire(BG), 10.0)
        stamps.append(time.monotonic())
    # its grants are instant, our own floor still spaces them
    assert min(b - a for a, b in itertools.pairwise(stamps)) >= 1.0 - 0.02


def test_the_floor_holds_for_a_whole_window_whatever_the_broker_grants() -> None:
    """The floor alone (no socket): the configured rate in any 61 s, 1 s apart."""
    from kondado_tui.core.budget.ledger import LedgerState
    from kondado_tui.core.budget.policy import BudgetPolicy

    floor = BudgetPolicy(per_minute=18, spacing=1.0, window_margin=1.0, reserve=0)
    stamps: list[float] = []
    now = 0.0
    for _ in range(60):
        now = floor.earliest(LedgerState(tuple(stamps)), BG, now)
        stamps.append(now)
    for i, t in enumerate(stamps):
        assert sum(1 for u in stamps[: i + 1] if u > t - 61.0) <= 18


# -- hostile clients against an honest broker ---------------------------------------------


def raw(name: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5.0)
    sock.connect(address(name))
    return sock


def closed_by_peer(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


def hello_line() -> bytes:
    return encode(Hello(SCOPE.host, SCOPE.key, 18, Window()))


async def test_hostile_clients_end_their_own_connections_only(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    honest = make(budgets, host_budget_name)
    await until(lambda: honest.mode is Mode.HOST and honest.sharing.serving)
    name = host_budget_name
    attackers: list[socket.socket] = []
    try:
        garbage = raw(name)
        garbage.sendall(b"\x00\xff not json at all\n")
        huge = raw(name)
        huge.sendall(hello_line())
        with contextlib.suppress(OSError):
            huge.sendall(b'{"t": "want", "id": 1, "p": 2, "x": "' + b"A" * 200_000)
        nested = raw(name)
        nested.sendall(b"[" * 3000 + b"\n")
        loris = raw(name)
        loris.sendall(b'{"v": 1, "t": "hel')  # and never more
        flood = raw(name)
        flood.sendall(hello_line() + b'{"t":"ping"}\n' * 1000)
        greedy = raw(name)
        greedy.sendall(hello_line() + b"".join(encode(Want(i, INTER)) for i in range(1, 20)))
        attackers += [garbage, huge, nested, loris, flood, greedy]
        many = []
        for _ in range(MAX_PER_UID + 5):
            with contextlib.suppress(OSError):
                many.append(raw(name))
        attackers += many
        # the honest process keeps being served at the usual pace meanwhile
        stamps = []
        for _ in range(3):
            await asyncio.wait_for(honest.acquire(INTER), 5.0)
            stamps.append(time.monotonic())
            honest.request_done()
        assert all(b - a < 2.0 for a, b in itertools.pairwise(stamps))
        for sock in (garbage, huge, nested, flood, greedy):
            assert await asyncio.to_thread(closed_by_peer, sock), sock
        assert await asyncio.to_thread(closed_by_peer, loris, 4.0)  # no hello in 2 s
        refused = sum(1 for s in many if closed_by_peer(s, 0.2))
        assert refused >= 5  # over the per-user cap
        assert honest.mode is Mode.HOST and honest.sharing.serving
        await asyncio.wait_for(honest.acquire(INTER), 5.0)
    finally:
        for sock in attackers:
            sock.close()


async def test_a_client_of_another_version_is_told_so(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    honest = make(budgets, host_budget_name)
    await until(lambda: honest.mode is Mode.HOST)
    sock = raw(host_budget_name)
    try:
        sock.sendall(hello_line().replace(b'"v":1', b'"v":2'))
        answer = LineBuffer(MAX_LINE).feed(sock.recv(4096))
        assert decode_to_process(answer[0], time.time()) == Refused("version")
        assert closed_by_peer(sock)
    finally:
        sock.close()


async def test_what_crosses_the_socket_holds_no_secret(
    budgets: list[HostBudget], host_budget_name: str
) -> None:
    """A nosy client sees times, counts and opaque ids: never the key, the token, the
    endpoint or a pipeline."""
    key, token = "my-key-4711", "my-secret-token-0815"
    scope = scope_for("https://k2.kondado.com.br", key, token)
    budget = HostBudget(18, scope, host_budget_name, RateBudget(6))
    budgets.append(budget)
    await until(lambda: budget.mode is Mode.HOST)
    sock = raw(host_budget_name)
    try:
        other = scope_for("https://k2.kondado.com.br", "nosy", "nosy")
        sock.sendall(encode(Hello(other.host, other.key, 18, Window())))
        await budget.acquire(BG)
        budget.report_rate_limited(60.0)
        await asyncio.sleep(1.0)
        sock.settimeout(1.0)
        seen = b""
        with contextlib.suppress(TimeoutError):
            while chunk := sock.recv(65536):
                seen += chunk
    finally:
        sock.close()
    assert b'"slot"' in seen and b'"limits"' in seen  # it did hear of our request
    for secret in (key, token, "k2.kondado", "kondado.com", scope.key):
        assert secret.encode() not in seen
