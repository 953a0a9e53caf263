"""The collector's protocol: versioned, one JSON object a line, every field checked.

A connection opens with three plain lines (`trust` says why they prove anything):

    viewer    -> collector  {"v":2,"t":"hello","nonce":N1}
    collector -> viewer     {"v":2,"t":"challenge","nonce":N2,"proof":P1}
    viewer    -> collector  {"t":"prove","proof":P2}

either side may answer instead `{"v":2,"t":"refused","why":"version"|"proof"|"busy"}`
and close (a refusal is read whatever its version, so a peer of another version learns
why). Version 2 added `{"t":"beat"}`, what the collector sends when it has said nothing
for a while: a version 1 viewer is refused at the hello rather than cut off at the first
beat. After that every line is sealed (`trust.Seal`) and is one of the messages
below: what a viewer wants (`ToCollector`) and what the collector tells it
(`ToViewer`). The poller's own events travel as they are (`StatusObserved`,
`PipelineFailed`, `HealthChanged`), so a viewer's screens get what an embedded poller
would give them.

Both ends distrust what they read, as the budget's wire does: a line longer than the
direction's limit ends the connection, so does a missing or extra field, a value of the
wrong type or out of range, or a list longer than its limit. Every text that arrives is
cleaned again on arrival (`api.remote_text`: escapes, format characters, secrets, cut to
its limit); nothing is ever executed or rendered as markup. Times are wall times: an
observation's own time is sent, never the time it was received.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kondado_tui.core.collector.messages import (
    HANDSHAKE_LINE,
    MAX_HISTORY,
    MAX_REQ,
    MAX_SUMMARIES,
    MAX_TEXT,
    MAX_WATCH,
    REFUSALS,
    TO_COLLECTOR_LINE,
    TO_VIEWER_LINE,
    Active,
    AlertDuty,
    Ask,
    Beat,
    Challenge,
    Duplicate,
    Duty,
    Failure,
    Focus,
    Follow,
    Hello,
    HistoryAsk,
    HistoryPart,
    Made,
    Peek,
    Peeked,
    Prove,
    Ran,
    Refused,
    Run,
    Summaries,
    SummariesAsk,
    ToCollector,
    ToViewer,
    Viewers,
    Watch,
    Welcome,
)
from kondado_tui.core.collector.trust import PROOF_HEX, PROTOCOL, is_hex
from kondado_tui.core.collector.values import (
    OBSERVED_FIELDS,
    cut_for_wire,
    error_json,
    failed_json,
    health_json,
    observed_json,
    pipeline_id,
    read_error,
    read_failed,
    read_health,
    read_observed,
    read_summary,
    read_text,
    read_transition,
    summary_json,
    transition_json,
)
from kondado_tui.core.events import (
    HealthChanged,
    PipelineFailed,
    StatusObserved,
)
from kondado_tui.core.guards.strict_json import problem as json_problem
from kondado_tui.core.history.timeline import (
    HistorySummary,
    Transition,
)
from kondado_tui.core.localsock.framing import (
    ProtocolError,
    VersionMismatch,
    check_bool,
    check_dict,
    check_fields,
    check_int,
    check_list,
    check_optional,
    check_version,
    fail,
    json_line,
    json_object,
)

# -- encoding -----------------------------------------------------------------------------

R = TypeVar("R")


def encode_handshake(message: Hello | Challenge | Prove | Refused) -> bytes:
    match message:
        case Hello(nonce):
            data: dict[str, Any] = {"v": PROTOCOL, "t": "hello", "nonce": nonce}
        case Challenge(nonce, proof):
            data = {"v": PROTOCOL, "t": "challenge", "nonce": nonce, "proof": proof}
        case Prove(proof):
            data = {"t": "prove", "proof": proof}
        case Refused(why):
            data = {"v": PROTOCOL, "t": "refused", "why": why}
    return json_line(data, HANDSHAKE_LINE)


def encode(message: ToCollector | ToViewer) -> bytes:
    """One message as one line (unsealed). Texts are cut to what the protocol carries;
    a history answer is cut in parts by the sender (`history_parts`)."""
    limit = TO_VIEWER_LINE if isinstance(message, _TO_VIEWER) else TO_COLLECTOR_LINE
    return json_line(_as_json(message), limit, f"a {type(message).__name__}")


def _as_json(message: ToCollector | ToViewer) -> dict[str, Any]:
    match message:
        case Watch(ids, paused):
            return {"t": "watch", "ids": list(ids[:MAX_WATCH]), "paused": paused}
        case Focus(id, pinned):
            return {"t": "focus", "id": id, "pinned": pinned}
        case Active():
            return {"t": "active"}
        case Ask(id):
            return {"t": "ask", "id": id}
        case Follow(id):
            return {"t": "follow", "id": id}
        case Run(req, id):
            return {"t": "run", "req": req, "id": id}
        case Duplicate(req, body):
            return {"t": "dup", "req": req, "body": dict(body)}
        case HistoryAsk(req, id, limit):
            return {"t": "history", "req": req, "id": id, "limit": limit}
        case SummariesAsk(req, ids):
            return {"t": "summaries", "req": req, "ids": list(ids[:MAX_SUMMARIES])}
        case Peek(req, ids):
            return {"t": "peek", "req": req, "ids": list(ids[:MAX_WATCH])}
        case Welcome(viewers, history, alerts):
            welcome: dict[str, Any] = {"t": "welcome", "viewers": viewers, "history": history}
            if alerts is not None:  # absent, not null: a collector without a command
                welcome["alerts"] = _duty_json(alerts)
            return welcome
        case Duty(alerts):
            return {"t": "duty", "alerts": None if alerts is None else _duty_json(alerts)}
        case Viewers(count):
            return {"t": "viewers", "n": count}
        case Beat():
            return {"t": "beat"}
        case StatusObserved():
            return {"t": "status", **observed_json(message)}
        case PipelineFailed():
            return {"t": "failed", **failed_json(message)}
        case HealthChanged(health):
            return {"t": "health", **health_json(health)}
        case Ran(req, answer):
            return {"t": "ran", "req": req, "answer": cut_for_wire(answer, MAX_TEXT)}
        case Made(req, id):
            return {"t": "made", "req": req, "id": id}
        case Failure(req, error):
            return {"t": "error", "req": req, "error": error_json(error)}
        case HistoryPart(req, summary, transitions, last):
            return {
                "t": "hpart",
                "req": req,
                "summary": None if summary is None else summary_json(summary),
                "items": [transition_json(t) for t in transitions],
                "last": last,
            }
        case Summaries(req, items):
            return {
                "t": "summaries",
                "req": req,
                "items": [[pid, summary_json(s)] for pid, s in items[:MAX_SUMMARIES]],
            }
        case Peeked(req, items):
            return {"t": "peeked", "req": req, "items": [observed_json(o) for o in items]}
    raise TypeError(f"not a collector message: {type(message).__name__}")


_TO_VIEWER = (
    Welcome,
    Duty,
    Viewers,
    Beat,
    StatusObserved,
    PipelineFailed,
    HealthChanged,
    Ran,
    Made,
    Failure,
    HistoryPart,
    Summaries,
    Peeked,
)


def _duty_json(duty: AlertDuty) -> dict[str, Any]:
    return {"mac": duty.mac, "ids": list(duty.ids[:MAX_WATCH])}


def history_parts(
    req: int, summary: HistorySummary | None, transitions: list[Transition]
) -> list[bytes]:
    """A history answer as lines that each fit (`HistoryPart`s, the last one `last`)."""
    lines: list[bytes] = []
    batch: list[Transition] = []
    size = 0
    room = TO_VIEWER_LINE // 2  # leaves room for the summary and the envelope
    for item in transitions[-MAX_HISTORY:]:
        cost = len(json_line(transition_json(item), TO_VIEWER_LINE))
        if batch and size + cost > room:
            lines.append(encode(HistoryPart(req, summary, tuple(batch), False)))
            summary, batch, size = None, [], 0
        batch.append(item)
        size += cost
    lines.append(encode(HistoryPart(req, summary, tuple(batch), True)))
    return lines


# -- decoding -----------------------------------------------------------------------------


def decode_handshake(line: bytes) -> Hello | Challenge | Prove | Refused:
    """A handshake line; `VersionMismatch` for a hello or challenge of another version
    (the reader answers `Refused("version")`)."""
    data = json_object(line, HANDSHAKE_LINE)
    kind = data.get("t")
    if kind == "refused":
        check_fields(data, {"v", "t", "why"})
        why = data["why"]
        if why not in REFUSALS:
            fail("an unknown refusal")
        return Refused(why)
    if kind == "hello":
        check_version(data, PROTOCOL)
        check_fields(data, {"v", "t", "nonce"})
        return Hello(_nonce(data["nonce"]))
    if kind == "challenge":
        check_version(data, PROTOCOL)
        check_fields(data, {"v", "t", "nonce", "proof"})
        return Challenge(_nonce(data["nonce"]), _proof(data["proof"]))
    if kind == "prove":
        check_fields(data, {"t", "proof"})
        return Prove(_proof(data["proof"]))
    fail("not a handshake")


def decode_to_collector(payload: bytes) -> ToCollector:
    """A line a viewer sent (its seal already opened), checked."""
    data, read = _message(payload, TO_COLLECTOR_LINE, _TO_COLLECTOR)
    return read(data)


def decode_to_viewer(payload: bytes, now: float) -> ToViewer:
    """A line the collector sent (its seal already opened), checked, every text cleaned."""
    data, read = _message(payload, TO_VIEWER_LINE, _TO_VIEWER_READERS)
    return read(data, now)


def _message(
    payload: bytes, limit: int, readers: dict[str, tuple[frozenset[str], R]]
) -> tuple[dict[str, Any], R]:
    """The object on the line, with exactly the fields of its kind, and its reader."""
    data = json_object(payload, limit)
    kind = data.get("t")
    reader = readers.get(kind) if isinstance(kind, str) else None
    if reader is None:
        fail("an unknown message")
    fields, read = reader
    optional = _OPTIONAL.get(str(kind), frozenset()) & data.keys()
    check_fields(data, fields | optional | {"t"})
    return data, read


_OPTIONAL: dict[str, frozenset[str]] = {"welcome": frozenset({"alerts"})}
"""Fields a message may leave out (added to version 2 after it was first written)."""


def _nonce(value: Any) -> str:
    if not is_hex(value, 64):
        fail("a nonce is not 64 hex digits")
    return str(value)


def _proof(value: Any) -> str:
    if not is_hex(value, PROOF_HEX):
        fail("a proof is not 64 hex digits")
    return str(value)


def _req(value: Any) -> int:
    return check_int(value, 0, MAX_REQ)


def _ids(value: Any, limit: int) -> tuple[int, ...]:
    return tuple(pipeline_id(v) for v in check_list(value, limit))


def _duty(value: Any) -> AlertDuty:
    data = check_dict(value)
    check_fields(data, {"mac", "ids"})
    if not is_hex(data["mac"], PROOF_HEX):
        fail("an alert command's mark is not 64 hex digits")
    return AlertDuty(str(data["mac"]), _ids(data["ids"], MAX_WATCH))


def _body(value: Any) -> Mapping[str, Any]:
    body = check_dict(value)
    if json_problem(body) is not None:
        fail("a duplicate body JSON cannot carry")
    return body


_TO_COLLECTOR: dict[str, tuple[frozenset[str], Callable[[dict[str, Any]], ToCollector]]] = {
    "watch": (
        frozenset({"ids", "paused"}),
        lambda d: Watch(_ids(d["ids"], MAX_WATCH), check_bool(d["paused"])),
    ),
    "focus": (
        frozenset({"id", "pinned"}),
        lambda d: Focus(check_optional(d["id"], pipeline_id), check_bool(d["pinned"])),
    ),
    "active": (frozenset(), lambda d: Active()),
    "ask": (frozenset({"id"}), lambda d: Ask(pipeline_id(d["id"]))),
    "follow": (frozenset({"id"}), lambda d: Follow(pipeline_id(d["id"]))),
    "run": (frozenset({"req", "id"}), lambda d: Run(_req(d["req"]), pipeline_id(d["id"]))),
    "dup": (frozenset({"req", "body"}), lambda d: Duplicate(_req(d["req"]), _body(d["body"]))),
    "history": (
        frozenset({"req", "id", "limit"}),
        lambda d: HistoryAsk(
            _req(d["req"]), pipeline_id(d["id"]), check_int(d["limit"], 0, MAX_HISTORY)
        ),
    ),
    "summaries": (
        frozenset({"req", "ids"}),
        lambda d: SummariesAsk(_req(d["req"]), _ids(d["ids"], MAX_SUMMARIES)),
    ),
    "peek": (frozenset({"req", "ids"}), lambda d: Peek(_req(d["req"]), _ids(d["ids"], MAX_WATCH))),
}


# what arrives at a viewer: every text cleaned again here


_ViewerReader = Callable[[dict[str, Any], float], ToViewer]
_TO_VIEWER_READERS: dict[str, tuple[frozenset[str], _ViewerReader]] = {
    "welcome": (
        frozenset({"viewers", "history"}),  # and "alerts", optional (_OPTIONAL)
        lambda d, now: Welcome(
            check_int(d["viewers"], 0, 100_000),
            check_bool(d["history"]),
            _duty(d["alerts"]) if "alerts" in d else None,
        ),
    ),
    "duty": (frozenset({"alerts"}), lambda d, now: Duty(check_optional(d["alerts"], _duty))),
    "viewers": (frozenset({"n"}), lambda d, now: Viewers(check_int(d["n"], 0, 100_000))),
    "beat": (frozenset(), lambda d, now: Beat()),
    "status": (OBSERVED_FIELDS, read_observed),
    "failed": (frozenset({"id", "kind", "msg", "at", "ref", "since"}), read_failed),
    "health": (
        frozenset(
            {
                "conn",
                "msg",
                "retry",
                "ok_at",
                "paused",
                "bpm",
                "used",
                "next",
                "max_age",
                "shared",
                "note",
                "low",
                "share",
                "n",
                "hist",
                "hs",
                "hp",
                "hf",
            }
        ),
        read_health,
    ),
    "ran": (
        frozenset({"req", "answer"}),
        lambda d, now: Ran(_req(d["req"]), read_text(d["answer"], MAX_TEXT, multiline=True)),
    ),
    "made": (frozenset({"req", "id"}), lambda d, now: Made(_req(d["req"]), pipeline_id(d["id"]))),
    "error": (
        frozenset({"req", "error"}),
        lambda d, now: Failure(_req(d["req"]), read_error(d["error"])),
    ),
    "hpart": (
        frozenset({"req", "summary", "items", "last"}),
        lambda d, now: HistoryPart(
            _req(d["req"]),
            check_optional(d["summary"], lambda v: read_summary(v, now)),
            tuple(read_transition(t, now) for t in check_list(d["items"], MAX_HISTORY)),
            check_bool(d["last"]),
        ),
    ),
    "summaries": (
        frozenset({"req", "items"}),
        lambda d, now: Summaries(
            _req(d["req"]),
            tuple(_summary_item(item, now) for item in check_list(d["items"], MAX_SUMMARIES)),
        ),
    ),
    "peeked": (
        frozenset({"req", "items"}),
        lambda d, now: Peeked(
            _req(d["req"]), tuple(_peeked(item, now) for item in check_list(d["items"], MAX_WATCH))
        ),
    ),
}


def _summary_item(value: Any, now: float) -> tuple[int, HistorySummary]:
    item = check_list(value, 2)
    if len(item) != 2:
        fail("a summary is not [id, summary]")
    return pipeline_id(item[0]), read_summary(item[1], now)


def _peeked(value: Any, now: float) -> StatusObserved:
    data = check_dict(value)
    check_fields(data, OBSERVED_FIELDS)
    return read_observed(data, now)


__all__ = [
    "ProtocolError",
    "VersionMismatch",
    "decode_handshake",
    "decode_to_collector",
    "decode_to_viewer",
    "encode",
    "encode_handshake",
    "history_parts",
]
