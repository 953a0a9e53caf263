"""A one-shot look at what the account's collector knows, for `kondado-tui status`.

Attaches as a viewer (the same proof both ways), asks for the current observations of
some pipelines (`Peek`: no request to the API, no interest registered, the collector's
schedule unchanged), and leaves. The observations keep the collector's times: their
age is the age of the collector's observation. Never binds the account's name (a
dashboard starting at that instant must find its collector or become it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kondado_tui.core.collector.attach import Attached, Collector, attach_only
from kondado_tui.core.collector.messages import MAX_WATCH, Peek, Peeked
from kondado_tui.core.collector.shared import collector_name
from kondado_tui.core.collector.trust import account
from kondado_tui.core.config import Config
from kondado_tui.core.events import Health, HealthChanged, StatusObserved
from kondado_tui.core.localsock.framing import ProtocolError

PEEK_TIMEOUT = 5.0
"""The whole look (handshake and answers): past it, the caller asks the API itself."""


@dataclass(frozen=True)
class Seen:
    """What the account's collector knows of the pipelines asked about."""

    collector: Collector
    observed: dict[int, StatusObserved] = field(default_factory=dict)
    health: Health | None = None  # how the API looks from the collector


@dataclass(frozen=True)
class NotSeen:
    """No answer from a collector. `why` is "" when the account simply has none (or
    sharing is off); else why the one there was not asked or not believed."""

    why: str = ""


async def peek(
    config: Config,
    ids: Sequence[int],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = PEEK_TIMEOUT,
) -> Seen | NotSeen:
    name, _off = collector_name(config, env)
    if name is None:
        return NotSeen()
    api = config.api
    secret = account(api.base_url, api.key, api.token).secret
    try:
        return await asyncio.wait_for(_peek(name, secret, ids), timeout)
    except TimeoutError:
        return NotSeen("this account's collector did not answer in time")


async def _peek(name: str, secret: bytes, ids: Sequence[int]) -> Seen | NotSeen:
    found = await attach_only(name, secret)
    if found is None:
        return NotSeen()
    if not isinstance(found, Attached):
        return NotSeen(found.why)
    connection = found.connection
    who = found.connection.collector
    try:
        wanted = list(dict.fromkeys(ids))
        chunks = [tuple(wanted[i : i + MAX_WATCH]) for i in range(0, len(wanted), MAX_WATCH)]
        waiting = set()
        for req, chunk in enumerate(chunks, start=1):
            if not connection.send(Peek(req, chunk)):
                return NotSeen(f"the collector (pid {who.pid}) stopped listening")
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
        return Seen(who, observed, health)
    except (EOFError, ConnectionError, OSError):
        return NotSeen(f"the collector (pid {who.pid}) went away before answering")
    except ProtocolError:
        return NotSeen(f"the collector (pid {who.pid}) answered something that is not the protocol")
    finally:
        connection.close()


__all__ = ["PEEK_TIMEOUT", "NotSeen", "Seen", "peek"]
