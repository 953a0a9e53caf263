"""The collector's protocol: what crosses the socket, both ways, and what is refused.

Trust (names, proofs, seals) and the wire (every message round trip, strict checks,
cleaning on arrival, fuzzing): pure functions, no sockets."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kondado_tui.core.collector import trust
from kondado_tui.core.collector.messages import (
    HANDSHAKE_LINE,
    MAX_WATCH,
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
    Viewers,
    Watch,
    Welcome,
)
from kondado_tui.core.collector.wire import (
    ProtocolError,
    VersionMismatch,
    decode_handshake,
    decode_to_collector,
    decode_to_viewer,
    encode,
    encode_handshake,
    history_parts,
)
from kondado_tui.core.errors import (
    BadAnswer,
    FailureKind,
    KondadoError,
    Outcome,
    RateLimited,
    Rejected,
    Unreachable,
    ValidationError,
)
from kondado_tui.core.events import (
    BudgetShare,
    Connection,
    Health,
    HealthChanged,
    PipelineFailed,
    Refusal,
    StatusObserved,
)
from kondado_tui.core.history.timeline import HistorySummary, RunOutcome, RunSummary, Transition
from kondado_tui.core.models import Observation, PipelineStatus

NOW = time.time()
BASE = "https://k2.kondado.com.br"


# -- trust ------------------------------------------------------------------------------


def test_the_name_reveals_neither_key_nor_token_and_differs_per_account() -> None:
    mine = trust.account(BASE, "key-123", "token-abc")
    assert "key-123" not in mine.name() and "token-abc" not in mine.name()
    assert "key-123" not in repr(mine) and "token" not in repr(mine)
    assert mine.name().startswith(trust.DEFAULT_PREFIX + "/")
    others = {
        trust.account(BASE, "key-124", "token-abc").id,  # another key
        trust.account(BASE, "key-123", "token-abd").id,  # another token
        trust.account("http://127.0.0.1:8000", "key-123", "token-abc").id,  # another API
    }
    assert mine.id not in others and len(others) == 3
    assert trust.account(BASE + "/", "key-123", "token-abc") == mine  # the same endpoint


def test_proofs_are_mutual_fresh_and_directed() -> None:
    secret = trust.account(BASE, "k", "t").secret
    n1, n2 = trust.nonce(), trust.nonce()
    to_viewer = trust.proof(secret, trust.Direction.TO_VIEWER, n1, n2)
    assert trust.proves(secret, trust.Direction.TO_VIEWER, n1, n2, to_viewer)
    # reflected (the other direction), replayed (other nonces), or from another token
    assert not trust.proves(secret, trust.Direction.TO_COLLECTOR, n1, n2, to_viewer)
    assert not trust.proves(secret, trust.Direction.TO_VIEWER, n1, trust.nonce(), to_viewer)
    other = trust.account(BASE, "k", "other token").secret
    assert not trust.proves(other, trust.Direction.TO_VIEWER, n1, n2, to_viewer)


def test_a_sealed_line_cannot_be_forged_altered_replayed_or_reordered() -> None:
    secret = trust.account(BASE, "k", "t").secret
    n1, n2 = trust.nonce(), trust.nonce()
    sender, _ = trust.seals(secret, n1, n2)
    first, second = sender.seal(b'{"t":"a"}\n'), sender.seal(b'{"t":"b"}\n')

    def reader() -> trust.Seal:
        return trust.seals(secret, n1, n2)[0]

    honest = reader()
    assert honest.open(first) == b'{"t":"a"}\n' and honest.open(second) == b'{"t":"b"}\n'
    assert reader().open(second) is None  # out of order
    replay = reader()
    assert replay.open(first) is not None and replay.open(first) is None  # twice
    assert reader().open(first.replace(b'"a"', b'"z"')) is None  # altered
    assert reader().open(b"0" * 32 + b' {"t":"a"}\n') is None  # forged
    other_way = trust.seals(secret, n1, n2)[1]
    assert other_way.open(first) is None  # the other direction's key
    assert reader().open(b"garbage\n") is None


# -- the handshake ---------------------------------------------------------------------


def test_handshake_round_trip() -> None:
    n, p = trust.nonce(), "a" * 64
    for message in (Hello(n), Challenge(n, p), Prove(p), Refused("version")):
        line = encode_handshake(message)
        assert len(line) <= HANDSHAKE_LINE
        assert decode_handshake(line) == message


def test_a_handshake_of_another_version_is_told_apart() -> None:
    now = f'"v":{trust.PROTOCOL}'.encode()
    assert trust.PROTOCOL == 2  # 2: the beat; a change of the protocol bumps it
    hello = encode_handshake(Hello(trust.nonce())).replace(now, b'"v":1')  # before beats
    with pytest.raises(VersionMismatch):
        decode_handshake(hello)
    challenge = encode_handshake(Challenge(trust.nonce(), "b" * 64)).replace(now, b'"v":3')
    with pytest.raises(VersionMismatch):
        decode_handshake(challenge)
    with pytest.raises(VersionMismatch):  # true is not 1
        decode_handshake(hello.replace(b'"v":1', b'"v":true'))


@pytest.mark.parametrize(
    "line",
    [
        b'{"v":2,"t":"hello","nonce":"short"}\n',
        b'{"v":2,"t":"hello","nonce":"' + b"A" * 64 + b'"}\n',  # upper-case hex
        b'{"v":2,"t":"hello"}\n',
        b'{"v":2,"t":"hello","nonce":"' + b"a" * 64 + b'","x":1}\n',
        b'{"t":"prove","proof":1}\n',
        b'{"v":2,"t":"refused","why":"because"}\n',
        b'{"t":"status"}\n',  # a sealed message where a handshake is due
        b"[1,2]\n",
        b"\xff\xfe\n",
        b'{"v":2,"t":"hello","nonce":"' + b"a" * 600 + b'"}\n',  # over the line limit
    ],
)
def test_a_bad_handshake_line_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_handshake(line)


# -- messages, both ways ---------------------------------------------------------------

STATUS = PipelineStatus(2040, "error_building_tables", False, True, False, "boom\nat line 2")
OBSERVED = StatusObserved(2040, Observation(STATUS, NOW - 300.0), None, NOW - 900.0, True)
TRANSITION = Transition(2040, NOW - 60, "running", "error_building_tables", "boom", NOW - 70)
RUN = RunSummary(2040, NOW - 200, NOW - 60, RunOutcome.FAILED, "error_building_tables", "boom")
SUMMARY = HistorySummary(RUN, None, NOW - 3600, TRANSITION, TRANSITION, (12.0, 30.5))
HEALTH = Health(
    Connection.RATE_LIMITED,
    "locked out",
    retry_at=NOW + 40,
    last_success_at=NOW - 5,
    budget_per_minute=18,
    used_last_minute=7,
    next_poll_at=NOW + 3,
    max_age=600.0,
    lowered_to=9,
    share=BudgetShare(True, 3, 2, 0.5, True),
    pipelines=20,
    history_short="history not saved",
    history_problem="disk full",
    history_failing_since=NOW - 100,
)


@pytest.mark.parametrize(
    "message",
    [
        Watch((1, 2, 3), paused=True),
        Focus(7, pinned=True),
        Focus(None),
        Active(),
        Ask(9),
        Follow(9),
        Run(1, 9),
        Duplicate(2, {"pipeline_id": 9, "full_tables": {"": "orders"}}),
        HistoryAsk(3, 9, 200),
        SummariesAsk(4, (1, 2)),
        Peek(5, (1, 2)),
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_message_to_the_collector_round_trips(message: Any) -> None:
    assert decode_to_collector(encode(message)) == message


@pytest.mark.parametrize(
    "message",
    [
        Welcome(3, True),
        Welcome(1, False, AlertDuty("ab" * 32, (2040, 2041))),
        Welcome(1, False, AlertDuty("0" * 64, ())),
        Duty(AlertDuty("cd" * 32, (7,))),
        Duty(None),
        Viewers(2),
        Beat(),
        OBSERVED,
        PipelineFailed(2040, FailureKind.REJECTED, "not found", NOW, refusal=Refusal.NOT_FOUND),
        PipelineFailed(2040, FailureKind.UNREACHABLE, "timeout", NOW),
        HealthChanged(HEALTH),
        HealthChanged(Health(Connection.STARTING)),
        Ran(1, "queued"),
        Made(2, 4242),
        HistoryPart(3, SUMMARY, (TRANSITION,), True),
        HistoryPart(3, None, (), False),
        Summaries(4, ((2040, SUMMARY), (2041, HistorySummary()))),
        Peeked(5, (OBSERVED,)),
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_message_to_a_viewer_round_trips(message: Any) -> None:
    assert decode_to_viewer(encode(message), NOW) == message


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("RATE_LIMIT_EXCEEDED", 42.0),
        Rejected("no such pipeline", error="NOT_FOUND", http_status=404),
        Rejected("bad token", auth=True),
        Unreachable("timed out after sending", maybe_delivered=True),
        Unreachable("refused"),
        BadAnswer("cut answer", http_status=200, outcome=Outcome.UNKNOWN),
        ValidationError({"name": "empty", "dest": "not a number"}),
        KondadoError("the collector has no history"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_travel_typed(error: KondadoError) -> None:
    got = decode_to_viewer(encode(Failure(7, error)), NOW)
    assert isinstance(got, Failure) and got.req == 7
    back = got.error
    assert type(back) is type(error) and str(back) == str(error)
    assert getattr(back, "outcome", None) == getattr(error, "outcome", None)
    for attribute in ("retry_after", "auth", "http_status", "error", "problems"):
        assert getattr(back, attribute, None) == getattr(error, attribute, None), attribute


def test_every_text_is_cleaned_again_where_it_arrives() -> None:
    """A collector (or whoever forged a line) cannot make a viewer print escapes."""
    hostile = "\x1b[2J\x1b]52;c;aGk=\x07owned\u202e [bold red]x[/]"
    status = PipelineStatus(1, "active\x1b[31m", raw_msg=hostile)
    line = encode(StatusObserved(1, Observation(status, NOW), None, NOW))
    got = decode_to_viewer(line, NOW)
    assert isinstance(got, StatusObserved)
    text = got.observation.status.raw_msg or ""
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "[bold red]x[/]" in text  # kept as text: it is never parsed as markup
    assert "\x1b" not in got.observation.status.status
    health = decode_to_viewer(encode(HealthChanged(Health(Connection.OK, hostile))), NOW)
    assert isinstance(health, HealthChanged) and "\x1b" not in health.health.message


def test_observation_times_travel_as_observed() -> None:
    got = decode_to_viewer(encode(OBSERVED), NOW + 5000)
    assert isinstance(got, StatusObserved)
    assert got.observation.observed_at == OBSERVED.observation.observed_at
    assert got.since == OBSERVED.since and got.since_first_seen


def test_a_long_history_comes_in_parts_that_each_fit() -> None:
    long = "x" * 4000
    transitions = [
        Transition(1, NOW - 1000 + i, "active", "running", long + "\u2603" * 100)
        for i in range(500)
    ]
    lines = history_parts(9, SUMMARY, transitions)
    assert len(lines) > 1 and all(len(line) <= TO_VIEWER_LINE for line in lines)
    parts = [decode_to_viewer(line, NOW) for line in lines]
    assert all(isinstance(p, HistoryPart) and p.req == 9 for p in parts)
    assert [p.last for p in parts if isinstance(p, HistoryPart)][-1] is True
    assert sum(len(p.transitions) for p in parts if isinstance(p, HistoryPart)) == 500


def test_a_raw_msg_of_the_largest_kind_fits_a_line() -> None:
    worst = "\U0001f600" * 16_000  # escaped as surrogate pairs: 12 bytes a character
    status = PipelineStatus(1, "active", raw_msg=worst)
    line = encode(StatusObserved(1, Observation(status, NOW), None, NOW))
    assert len(line) <= TO_VIEWER_LINE


# -- strictness ------------------------------------------------------------------------


def _line(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode() + b"\n"


@pytest.mark.parametrize(
    "data",
    [
        {"t": "watch", "ids": [1, "2"], "paused": False},
        {"t": "watch", "ids": [0], "paused": False},  # not a pipeline id
        {"t": "watch", "ids": [2**63], "paused": False},
        {"t": "watch", "ids": list(range(1, MAX_WATCH + 2)), "paused": False},
        {"t": "watch", "ids": [1], "paused": 0},
        {"t": "watch", "ids": [1]},
        {"t": "focus", "id": True, "pinned": False},
        {"t": "run", "req": -1, "id": 3},
        {"t": "run", "req": 1, "id": 3.0},
        {"t": "dup", "req": 1, "body": [1]},
        {"t": "history", "req": 1, "id": 3, "limit": 10_000},
        {"t": "exec", "cmd": "rm -rf /"},
        {"t": "active", "extra": 1},
    ],
)
def test_a_viewer_line_with_wrong_fields_or_types_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        decode_to_collector(_line(data))


def test_a_beat_carries_nothing_and_goes_one_way() -> None:
    with pytest.raises(ProtocolError):  # a viewer has nothing to beat for
        decode_to_collector(_line({"t": "beat"}))
    with pytest.raises(ProtocolError):
        decode_to_viewer(_line({"t": "beat", "n": 1}), NOW)


def test_a_viewer_line_over_the_limit_is_refused() -> None:
    huge = _line({"t": "dup", "req": 1, "body": {"name": "x" * TO_COLLECTOR_LINE}})
    with pytest.raises(ProtocolError):
        decode_to_collector(huge)


@pytest.mark.parametrize(
    "patch",
    [
        {"at": NOW + 10 * 3600},  # observed in the future
        {"at": "yesterday"},
        {"since": None},
        {"id": -4},
        {"first": "yes"},
        {"s": {"st": "", "run": False, "act": True, "blk": False, "msg": None}},
        {"s": {"st": "active", "run": False, "act": True, "blk": False}},
        {"s": {"st": "active", "run": 1, "act": True, "blk": False, "msg": None}},
    ],
)
def test_a_status_with_wrong_fields_or_types_is_refused(patch: dict[str, Any]) -> None:
    data = json.loads(encode(OBSERVED))
    data.update(patch)
    with pytest.raises(ProtocolError):
        decode_to_viewer(_line(data), NOW)


def test_nan_and_infinity_are_refused() -> None:
    line = encode(HealthChanged(HEALTH)).replace(b'"max_age":600.0', b'"max_age":NaN')
    with pytest.raises(ProtocolError):
        decode_to_viewer(line, NOW)
    line = encode(HealthChanged(HEALTH)).replace(b'"max_age":600.0', b'"max_age":1e999')
    with pytest.raises(ProtocolError):
        decode_to_viewer(line, NOW)


def test_an_alert_command_s_mark_is_the_same_only_for_the_same_command_and_account() -> None:
    secret, other = trust.account("https://x", "k", "t").secret, b"other secret"
    mac = trust.alert_mac(secret, ("/bin/alert", "--to", "ops"), False)
    assert trust.is_hex(mac, trust.PROOF_HEX)
    assert mac == trust.alert_mac(secret, ["/bin/alert", "--to", "ops"], False)
    assert mac != trust.alert_mac(secret, ("/bin/alert", "--to", "ops"), True)
    assert mac != trust.alert_mac(secret, ("/bin/alert", "--to ops"), False)
    assert mac != trust.alert_mac(secret, ("/bin/alert", "--to", "ops", ""), False)
    assert mac != trust.alert_mac(other, ("/bin/alert", "--to", "ops"), False)
    assert "ops" not in mac


def test_a_welcome_without_alerts_is_a_collector_without_a_command() -> None:
    welcome = decode_to_viewer(b'{"t":"welcome","viewers":1,"history":true}\n', NOW)
    assert welcome == Welcome(1, True, None)
    assert b"alerts" not in encode(Welcome(1, True))  # absent, not null


@pytest.mark.parametrize(
    "alerts",
    [
        None,  # present means a duty: null is not one
        {"mac": "AB" * 32, "ids": [1]},  # upper case
        {"mac": "ab" * 31, "ids": [1]},  # short
        {"mac": "ab" * 33, "ids": [1]},  # long
        {"mac": "zz" * 32, "ids": [1]},  # not hex
        {"mac": 12, "ids": [1]},
        {"mac": "ab" * 32, "ids": [0]},  # not a pipeline id
        {"mac": "ab" * 32, "ids": ["1"]},
        {"mac": "ab" * 32, "ids": list(range(1, MAX_WATCH + 2))},  # longer than MAX_WATCH
        {"mac": "ab" * 32},  # missing ids
        {"mac": "ab" * 32, "ids": [1], "argv": ["curl"]},  # an extra field
        ["ab" * 32, [1]],
        "ab" * 32,
    ],
)
def test_a_welcome_with_a_bad_alert_duty_is_refused(alerts: Any) -> None:
    line = _line({"t": "welcome", "viewers": 1, "history": True, "alerts": alerts})
    with pytest.raises(ProtocolError):
        decode_to_viewer(line, NOW)
    if alerts is not None:
        with pytest.raises(ProtocolError):
            decode_to_viewer(_line({"t": "duty", "alerts": alerts}), NOW)


def test_the_optional_alerts_field_is_a_welcome_s_only() -> None:
    duty = {"mac": "ab" * 32, "ids": [1]}
    with pytest.raises(ProtocolError):
        decode_to_viewer(_line({"t": "viewers", "n": 1, "alerts": duty}), NOW)
    with pytest.raises(ProtocolError):
        decode_to_viewer(_line({"t": "duty"}), NOW)  # a duty message must say it


# -- fuzzing: whatever comes, it is a message or a ProtocolError -------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
known_kinds = st.sampled_from(
    [
        *("watch", "focus", "active", "ask", "follow", "run", "dup", "history", "summaries"),
        *("peek", "welcome", "viewers", "status", "failed", "health", "ran", "made", "error"),
        *("duty", "hpart", "peeked", "hello", "challenge", "prove", "refused"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), known_kinds)
def test_fuzzed_objects_are_messages_or_protocol_errors(data: dict[str, Any], kind: str) -> None:
    data["t"] = kind
    line = _line(data)
    for decode in (decode_to_collector, lambda b: decode_to_viewer(b, NOW), decode_handshake):
        with contextlib.suppress(ProtocolError):
            decode(line)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzed_bytes_are_messages_or_protocol_errors(raw: bytes) -> None:
    for decode in (decode_to_collector, lambda b: decode_to_viewer(b, NOW), decode_handshake):
        with contextlib.suppress(ProtocolError):
            decode(raw + b"\n")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([encode(OBSERVED), encode(HealthChanged(HEALTH)), encode(Watch((1, 2)))]))
def test_every_truncation_of_a_line_is_refused_or_a_message(line: bytes) -> None:
    for end in range(len(line) - 1):
        piece = line[:end] + b"\n"
        for decode in (decode_to_collector, lambda b: decode_to_viewer(b, NOW)):
            with contextlib.suppress(ProtocolError):
                decode(piece)
