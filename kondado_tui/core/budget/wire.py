"""The budget broker's protocol on the socket: one JSON object per line, strictly checked.

Both ends distrust each other: any local user can bind the broker's name first or
connect to it. So every line is bounded (`MAX_LINE`), every message is checked field by
field (types, ranges, list lengths, times near the reader's own clock: every process on
a host reads the same wall clock), and anything else is a `ProtocolError`, which ends
that connection. Nothing received is ever executed, formatted into markup or logged
verbatim.
"""

from __future__ import annotations

from typing import Any

from kondado_tui.core.budget.messages import (
    Cancel,
    Done,
    Granted,
    Hello,
    Limits,
    Lockout,
    Peers,
    Ping,
    Pong,
    Refused,
    SlotSeen,
    ToBroker,
    ToProcess,
    Want,
    Welcome,
    Window,
)
from kondado_tui.core.budget.policy import API_PER_MINUTE
from kondado_tui.core.budget.scope import is_scope_id
from kondado_tui.core.budget.throttle import Throttle
from kondado_tui.core.localsock.framing import (
    LineBuffer,
    ProtocolError,
    VersionMismatch,
    check_bool,
    check_dict,
    check_fields,
    check_int,
    check_number,
    check_optional,
    check_time,
    check_version,
    fail,
    json_line,
    json_object,
)
from kondado_tui.core.models import Priority

PROTOCOL = 1
MAX_LINE = 4096
"""Bytes in one line, newline included; a longer line ends the connection."""
MAX_STAMPS = 64
"""Request times in one list (two minutes at the API's limit is 40)."""
MAX_ID = 2**53
TIME_SLACK = 3600.0
"""A time further than this from the reader's clock is not believed."""
MAX_WAIT = 3600.0
_WHY = frozenset({"version", "busy", "protocol"})


# -- encoding -----------------------------------------------------------------------------


def encode(message: ToBroker | ToProcess) -> bytes:
    return json_line(_as_json(message), MAX_LINE, f"a {type(message).__name__}")


def _as_json(message: ToBroker | ToProcess) -> dict[str, Any]:
    match message:
        case Hello(host, key, per_minute, window):
            return {
                "v": PROTOCOL,
                "t": "hello",
                "host": host,
                "key": key,
                "rpm": per_minute,
                "win": {
                    "s": list(window.stamps[-MAX_STAMPS:]),
                    "k": list(window.key_stamps[-MAX_STAMPS:]),
                    "lock": window.lockout_end,
                    "ht": _throttle_json(window.host_throttle),
                    "kt": _throttle_json(window.key_throttle),
                },
            }
        case Want(id, priority):
            return {"t": "want", "id": id, "p": priority.value}
        case Cancel(id):
            return {"t": "cancel", "id": id}
        case Done(id):
            return {"t": "done", "id": id}
        case Lockout(wait):
            return {"t": "lockout", "wait": wait}
        case Ping():
            return {"t": "ping"}
        case Welcome(slots, limits, peers):
            return {
                "v": PROTOCOL,
                "t": "welcome",
                "slots": [[s.slot, s.at, int(s.on_key)] for s in slots[-MAX_STAMPS:]],
                "limits": _limits_json(limits),
                "peers": _peers_json(peers),
            }
        case Granted(id, slot, at):
            return {"t": "grant", "id": id, "slot": slot, "at": at}
        case SlotSeen(slot, at, on_key):
            return {"t": "slot", "slot": slot, "at": at, "key": on_key}
        case Limits():
            return {"t": "limits", **_limits_json(message)}
        case Peers():
            return {"t": "peers", **_peers_json(message)}
        case Pong():
            return {"t": "pong"}
        case Refused(why):
            return {"t": "refused", "why": why}
    raise TypeError(f"not a budget message: {type(message).__name__}")


def _throttle_json(throttle: Throttle) -> list[float] | None:
    if throttle.rate is None or throttle.hold is None:
        return None
    return [throttle.rate, throttle.hold, throttle.since, throttle.probe_every]


def _limits_json(limits: Limits) -> dict[str, Any]:
    return {
        "hpm": limits.host_per_minute,
        "kpm": limits.key_per_minute,
        "lock": limits.lockout_end,
        "ht": _throttle_json(limits.host_throttle),
        "kt": _throttle_json(limits.key_throttle),
    }


def _peers_json(peers: Peers) -> dict[str, Any]:
    return {"procs": peers.processes, "logins": peers.logins, "share": peers.share}


# -- decoding -----------------------------------------------------------------------------


def decode_to_broker(line: bytes, now: float) -> ToBroker:
    """A line a process sent the broker, checked; `ProtocolError` for anything else."""
    data = _object(line)
    kind = data.get("t")
    if kind == "hello":
        _version(data)
        check_fields(data, {"v", "t", "host", "key", "rpm", "win"})
        host, key = data["host"], data["key"]
        if not (is_scope_id(host) and is_scope_id(key)):
            fail("a scope id is not 32 hex digits")
        win = data["win"]
        if not isinstance(win, dict):
            fail("the window is not an object")
        check_fields(win, {"s", "k", "lock", "ht", "kt"})
        window = Window(
            stamps=_times(win["s"], now),
            key_stamps=_times(win["k"], now),
            lockout_end=check_optional(win["lock"], lambda v: _time(v, now)),
            host_throttle=_throttle(win["ht"], now),
            key_throttle=_throttle(win["kt"], now),
        )
        return Hello(host, key, check_int(data["rpm"], 1, API_PER_MINUTE), window)
    if kind == "want":
        check_fields(data, {"t", "id", "p"})
        return Want(_id(data["id"]), Priority(check_int(data["p"], 0, 2)))
    if kind in ("cancel", "done"):
        check_fields(data, {"t", "id"})
        return (Cancel if kind == "cancel" else Done)(_id(data["id"]))
    if kind == "lockout":
        check_fields(data, {"t", "wait"})
        return Lockout(check_number(data["wait"], 0.0, MAX_WAIT))
    if kind == "ping":
        check_fields(data, {"t"})
        return Ping()
    fail("an unknown message")


def decode_to_process(line: bytes, now: float) -> ToProcess:
    """A line the broker sent a process, checked; `ProtocolError` for anything else."""
    data = _object(line)
    kind = data.get("t")
    if kind == "welcome":
        _version(data)
        check_fields(data, {"v", "t", "slots", "limits", "peers"})
        raw = data["slots"]
        if not isinstance(raw, list) or len(raw) > MAX_STAMPS:
            fail("the slots are not a short list")
        slots = []
        for item in raw:
            if not isinstance(item, list) or len(item) != 3:
                fail("a slot is not [id, time, on key]")
            on_key = bool(check_int(item[2], 0, 1))
            slots.append(SlotSeen(_id(item[0]), _time(item[1], now), on_key))
        limits = _limits(check_dict(data["limits"]), now)
        return Welcome(tuple(slots), limits, _peers(check_dict(data["peers"])))
    if kind == "grant":
        check_fields(data, {"t", "id", "slot", "at"})
        return Granted(_id(data["id"]), _id(data["slot"]), _time(data["at"], now))
    if kind == "slot":
        check_fields(data, {"t", "slot", "at", "key"})
        return SlotSeen(_id(data["slot"]), _time(data["at"], now), check_bool(data["key"]))
    if kind == "limits":
        return _limits(data, now)
    if kind == "peers":
        return _peers(data)
    if kind == "pong":
        check_fields(data, {"t"})
        return Pong()
    if kind == "refused":
        check_fields(data, {"t", "why"})
        why = data["why"]
        if why not in _WHY:
            fail("an unknown refusal")
        return Refused(why)
    fail("an unknown message")


def _limits(data: dict[str, Any], now: float) -> Limits:
    check_fields(data, _LIMIT_FIELDS, kind="limits")
    return Limits(
        host_per_minute=check_int(data["hpm"], 1, API_PER_MINUTE),
        key_per_minute=check_int(data["kpm"], 1, API_PER_MINUTE),
        lockout_end=check_optional(data["lock"], lambda v: _time(v, now)),
        host_throttle=_throttle(data["ht"], now),
        key_throttle=_throttle(data["kt"], now),
    )


_LIMIT_FIELDS = frozenset({"hpm", "kpm", "lock", "ht", "kt"})
_PEER_FIELDS = frozenset({"procs", "logins", "share"})


def _peers(data: dict[str, Any]) -> Peers:
    check_fields(data, _PEER_FIELDS, kind="peers")
    processes = check_int(data["procs"], 1, 100_000)
    logins = check_int(data["logins"], 1, processes)
    share = check_number(data["share"], 0.0, 1.0)
    if share <= 0.0:
        fail("a share of nothing")
    return Peers(processes, logins, share)


def _throttle(value: Any, now: float) -> Throttle:
    if value is None:
        return Throttle()
    if not isinstance(value, list) or len(value) != 4:
        fail("a throttle is not [rate, hold, since, probe]")
    rate = check_int(value[0], 1, API_PER_MINUTE)
    hold = check_int(value[1], 1, API_PER_MINUTE)
    since = check_number(value[2], 0.0, now + TIME_SLACK)
    probe = check_number(value[3], 60.0, 7 * 86400.0)
    return Throttle(rate, hold, since, probe)


# -- the checks (`localsock.framing`'s, with this protocol's limits) -----------------------


def _object(line: bytes) -> dict[str, Any]:
    return json_object(line, MAX_LINE)


def _version(data: dict[str, Any]) -> None:
    check_version(data, PROTOCOL)


def _id(value: Any) -> int:
    return check_int(value, 0, MAX_ID)


def _time(value: Any, now: float) -> float:
    return check_time(value, now, TIME_SLACK)


def _times(value: Any, now: float) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) > MAX_STAMPS:
        fail("the request times are not a short list")
    return tuple(_time(v, now) for v in value)


__all__ = [
    "MAX_LINE",
    "PROTOCOL",
    "LineBuffer",
    "ProtocolError",
    "VersionMismatch",
    "decode_to_broker",
    "decode_to_process",
    "encode",
]
