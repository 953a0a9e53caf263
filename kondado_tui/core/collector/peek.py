"""One-shot looks at what the account's collector knows, for `kondado-tui status` and
`kondado-tui history`.

Each attaches as a viewer (the same proof both ways), asks, and leaves; nothing is
asked of the API. `peek`: the current observations of some pipelines (`Peek`: no
interest registered, the collector's schedule unchanged); their age is the age of the
collector's observation. `recall`: the transitions the collector's history holds for
some pipelines (`HistoryAsk`). Never binds the account's name (a dashboard starting at
that instant must find its collector or become it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from kondado_tui.core.collector.attach import Attached, Collector, Connection, attach_only
from kondado_tui.core.collector.messages import (
    MAX_HISTORY,
    MAX_WATCH,
    Failure,
    HistoryAsk,
    HistoryPart,
    Peek,
    Peeked,
    Watch,
)
from kondado_tui.core.collector.shared import collector_name
from kondado_tui.core.collector.trust import account
from kondado_tui.core.config import Config
from kondado_tui.core.events import Health, HealthChanged, StatusObserved
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.localsock.framing import ProtocolError

PEEK_TIMEOUT = 5.0
"""The whole look (handshake and answers): past it, the caller does without."""
RECALL_TIME_EACH = 0.25
"""`recall` has this much more time per pipeline asked about (one history read each)."""
RECALL_IN_FLIGHT = 4
"""History questions waiting for their answer at once: each answer may be a few MiB,
and the collector keeps what it has not sent yet in a bounded outbox."""
RECALL_BURST, RECALL_RATE = 150, 50.0
"""Questions sent at once, then per second: well under what the collector allows one
connection (`serve.LIMITS`: more ends the connection)."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class Seen:
    """What the account's collector knows of the pipelines asked about."""

    collector: Collector
    observed: dict[int, StatusObserved] = field(default_factory=dict)
    health: Health | None = None  # how the API looks from the collector


@dataclass(frozen=True)
class Recalled:
    """The collector's history of the pipelines asked about."""

    collector: Collector
    transitions: list[Transition] = field(default_factory=list)  # each pipeline's, in order
    full: frozenset[int] = frozenset()
    """Pipelines whose answer held `MAX_HISTORY` transitions: older ones were not sent."""
    unanswered: dict[int, str] = field(default_factory=dict)  # pipeline: why not
    skipped: int = 0  # pipelines past `MAX_WATCH`, not asked about


@dataclass(frozen=True)
class NotSeen:
    """No answer from a collector. `why` is "" when the account simply has none (or
    sharing is off, or the config holds no credentials); else why the one there was
    not asked or not believed."""

    why: str = ""


async def peek(
    config: Config,
    ids: Sequence[int],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = PEEK_TIMEOUT,
) -> Seen | NotSeen:
    return await _one_shot(config, env, timeout, lambda c: _peek(c, ids))


async def recall(
    config: Config,
    ids: Sequence[int],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Recalled | NotSeen:
    """The newest `MAX_HISTORY` transitions of each pipeline in the collector's history.

    The collector answers history questions only about pipelines the connection
    watches: this one watches them *paused* while it asks, which holds them (never
    asked of the API, `interest.Interests.plan`) unless another dashboard watches them
    anyway; they leave the collector's list when the connection closes."""
    wanted = list(dict.fromkeys(ids))
    if timeout is None:
        timeout = PEEK_TIMEOUT + RECALL_TIME_EACH * min(len(wanted), MAX_WATCH)
    return await _one_shot(config, env, timeout, lambda c: _recall(c, wanted))


async def _one_shot(
    config: Config,
    env: Mapping[str, str] | None,
    timeout: float,
    work: Callable[[Connection], Awaitable[_T | NotSeen]],
) -> _T | NotSeen:
    """Attach to the account's collector, do `work` on the connection, close it; a
    collector that is not there, not believed, gone or too slow is a `NotSeen`."""
    api = config.api
    if not (api.key and api.token):
        return NotSeen()  # no proof possible: as if there were none
    name, _off = collector_name(config, env)
    if name is None:
        return NotSeen()
    secret = account(api.base_url, api.key, api.token).secret
    try:
        return await asyncio.wait_for(_attached(name, secret, work), timeout)
    except TimeoutError:
        return NotSeen("this account's collector did not answer in time")


async def _attached(
    name: str, secret: bytes, work: Callable[[Connection], Awaitable[_T | NotSeen]]
) -> _T | NotSeen:
    found = await attach_only(name, secret)
    if found is None:
        return NotSeen()
    if not isinstance(found, Attached):
        return NotSeen(found.why)
    connection = found.connection
    who = connection.collector
    try:
        return await work(connection)
    except (EOFError, ConnectionError, OSError):
        return NotSeen(f"the collector (pid {who.pid}) went away before answering")
    except ProtocolError:
        return NotSeen(f"the collector (pid {who.pid}) answered something that is not the protocol")
    finally:
        connection.close()


def _stopped(connection: Connection) -> NotSeen:
    return NotSeen(f"the collector (pid {connection.collector.pid}) stopped listening")


async def _peek(connection: Connection, ids: Sequence[int]) -> Seen | NotSeen:
    wanted = list(dict.fromkeys(ids))
    chunks = [tuple(wanted[i : i + MAX_WATCH]) for i in range(0, len(wanted), MAX_WATCH)]
    waiting = set()
    for req, chunk in enumerate(chunks, start=1):
        if not connection.send(Peek(req, chunk)):
            return _stopped(connection)
        waiting.add(req)
    observed: dict[int, StatusObserved] = {}
    health: Health | None = None
    while waiting:
        message = await connection.receive()
        if isinstance(message, HealthChanged):
            health = message.health
        elif isinstance(message, Peeked) and message.req in waiting:
            waiting.discard(message.req)
            for event in message.items:
                if event.pipeline_id in wanted:  # nothing it was not asked about
                    observed[event.pipeline_id] = event
    return Seen(connection.collector, observed, health)


async def _recall(connection: Connection, wanted: list[int]) -> Recalled | NotSeen:
    who = connection.collector
    if not connection.welcome.history:
        return NotSeen(f"this account's collector (pid {who.pid}) keeps no history")
    asked, skipped = wanted[:MAX_WATCH], max(0, len(wanted) - MAX_WATCH)
    if not connection.send(Watch(tuple(asked), paused=True)):
        return _stopped(connection)
    questions = iter(enumerate(asked, start=1))
    pending: dict[int, int] = {}  # req: the pipeline it asks about
    found: dict[int, list[Transition]] = {pid: [] for pid in asked}
    unanswered: dict[int, str] = {}
    pace = _Pace(time.monotonic())

    async def ask_next() -> bool:
        for req, pid in questions:
            await pace.wait()
            if not connection.send(HistoryAsk(req, pid, MAX_HISTORY)):
                return False
            pending[req] = pid
            return True
        return True  # nothing left to ask

    for _ in range(RECALL_IN_FLIGHT):
        if not await ask_next():
            return _stopped(connection)
    while pending:
        message = await connection.receive()
        if isinstance(message, HistoryPart) and message.req in pending:
            pid = pending[message.req]
            found[pid].extend(t for t in message.transitions if t.pipeline_id == pid)
            if not message.last:
                continue
        elif isinstance(message, Failure) and message.req in pending:
            unanswered[pending[message.req]] = message.error.message
        else:
            continue  # health, viewer counts: not asked for here
        del pending[message.req]
        if not await ask_next():
            return _stopped(connection)
    full = frozenset(pid for pid, items in found.items() if len(items) >= MAX_HISTORY)
    transitions = [t for pid in asked for t in found[pid]]
    return Recalled(who, transitions, full, unanswered, skipped)


@dataclass
class _Pace:
    """`RECALL_BURST` questions at once, then `RECALL_RATE` a second."""

    started: float
    sent: int = 0

    async def wait(self) -> None:
        self.sent += 1
        if self.sent > RECALL_BURST:
            due = self.started + (self.sent - RECALL_BURST) / RECALL_RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))


__all__ = ["PEEK_TIMEOUT", "NotSeen", "Recalled", "Seen", "peek", "recall"]
