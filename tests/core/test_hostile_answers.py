"""Every field of every answer, fed the hostile corpus over real HTTP (the simulator's
FIELDS, BODY and HUGE faults): what the client returns is safe to show and free of the
token, what it raises is an ApiError saying so in safe words, and it never reads more
than an answer may hold."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hostile_corpus import KEY, ODD_JSON, ODD_VALUES, TEXTS, TOKEN, leaks, seed_token, unsafe

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.errors import ApiError, BadAnswer, Rejected
from kondado_tui.core.guards.limits import MAX_ANSWER_BYTES, MAX_MESSAGE, MAX_WORD
from kondado_tui.core.models import PipelineStatus
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld

SimFactory = Callable[..., SimServer]
PID = 2040
STATUS_FIELDS = ("status", "raw_msg", "is_running", "is_active", "is_blocked", "owner")
HOSTILE = {**{f"text:{k}": v for k, v in TEXTS.items()}, **ODD_VALUES}


@pytest.fixture
def api(sim_factory: SimFactory) -> SimServer:
    seed_token()
    return sim_factory(world=SimWorld(demo=True), key=KEY, token=TOKEN, rate_limit=False)


def strings(value: Any) -> Iterator[str]:
    """Every text in a value: keys and values, however nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def assert_shown_safely(texts: Any, where: str) -> None:
    for text in strings(texts):
        assert unsafe(text) == [], (where, text[:300])
        assert leaks(text) == [], (where, text[:300])


def assert_status_safe(status: PipelineStatus, where: str) -> None:
    assert status.status.strip() and len(status.status) <= MAX_WORD + 40, where
    assert unsafe(status.status, newlines=False) == [], (where, status.status)
    assert_shown_safely([status.status, status.raw_msg or "", status.extra], where)
    assert status.raw_msg is None or len(status.raw_msg) <= MAX_MESSAGE + 40, where


def assert_error_safe(exc: ApiError, where: str) -> None:
    assert unsafe(str(exc), newlines=False) == [], (where, str(exc)[:300])
    extra = [getattr(exc, name, "") for name in ("excerpt", "error")]
    assert_shown_safely([str(exc), *extra], where)


async def outcome(call: Any, where: str) -> Any:
    """The call's answer, or the ApiError it raised, held to the guards: any other
    exception fails the test (it would be a crash: exit 70, a dead poller)."""
    try:
        result = await call
    except ApiError as exc:
        assert_error_safe(exc, where)
        return exc
    return result


async def test_every_status_field_holding_anything(api: SimServer) -> None:
    async with KondadoClient(api.base_url, KEY, TOKEN) as client:
        for field in STATUS_FIELDS:
            for name, value in HOSTILE.items():
                where = f"status.{field} = {name}"
                api.set_fault(FaultMode.FIELDS, fields={field: value}, count=1)
                result = await outcome(client.get_status(PID), where)
                if isinstance(result, PipelineStatus):
                    assert_status_safe(result, where)
                    continue
                assert isinstance(result, BadAnswer), where
                # only a status that says nothing, or nesting past the limit, refuses
                # the whole answer: any other field is kept, cleaned
                assert field == "status" or "nested deeper" in str(result), where


async def test_every_status_field_holding_odd_json(api: SimServer) -> None:
    async with KondadoClient(api.base_url, KEY, TOKEN) as client:
        for field in STATUS_FIELDS:
            for name, odd in ODD_JSON.items():
                where = f"status.{field} = {name}"
                body = f'{{"{PID}": {{"status": "active", "{field}": {odd}}}}}'
                if field == "status":
                    body = f'{{"{PID}": {{"status": {odd}}}}}'
                api.set_fault(FaultMode.BODY, body=body, count=1)
                result = await outcome(client.get_status(PID), where)
                assert isinstance(result, BadAnswer), (where, result)


@pytest.mark.parametrize(
    "body",
    [
        {"\x1b]52;c;cHduZWQ=\x07": {"status": "active"}},  # a hostile key, alone
        {"²": {"status": "active"}},  # digits Python reads as a number, int() does not
        {"9" * 5000: {"status": "active"}},  # past int()'s digit limit
        {"99999999999999999999999": {"status": "active"}},  # past the id range
        {str(PID + 1): {"status": "active"}},  # another pipeline's answer
        {TOKEN: {"status": TOKEN}},  # the token as key and status
        {"success": True, "data": {str(PID): {"status": "active"}, "x\u202e": {}}},
        {"success": True, "data": None},
        [],
        "a string",
        None,
    ],
    ids=lambda b: json.dumps(b, ensure_ascii=True)[:40],
)
async def test_the_id_key_and_the_shape(api: SimServer, body: Any) -> None:
    async with KondadoClient(api.base_url, KEY, TOKEN) as client:
        api.set_fault(FaultMode.BODY, body=json.dumps(body), count=1)
        result = await outcome(client.get_status(PID), json.dumps(body)[:60])
        if isinstance(result, PipelineStatus):
            assert_status_safe(result, "shape")


async def test_run_and_duplicate_answers_holding_anything(api: SimServer) -> None:
    body = {"pipeline_id": 2040}  # not a valid duplicate: the fault answers first
    async with KondadoClient(api.base_url, KEY, TOKEN) as client:
        for field in ("success", "message", "error"):
            for name, value in HOSTILE.items():
                where = f"run.{field} = {name}"
                api.set_fault(FaultMode.BODY, body=json.dumps({"success": True, field: value}))
                result = await outcome(client.run(PID), where)
                if isinstance(result, str):
                    assert_shown_safely(result, where)
        for field in ("new_pipeline_id", "success", "error", "message"):
            for name, value in HOSTILE.items():
                where = f"duplicate.{field} = {name}"
                answer = {"success": True, "data": {"success": True, "data": {field: value}}}
                api.set_fault(FaultMode.BODY, body=json.dumps(answer))
                result = await outcome(client.duplicate(body), where)
                if isinstance(result, int):
                    assert 0 < result < 2**63, where
        api.clear_fault()


@pytest.mark.parametrize("http_status", [200, 400, 401, 403, 404, 409, 429, 500, 502, 302])
async def test_error_bodies_holding_anything(api: SimServer, http_status: int) -> None:
    async with KondadoClient(api.base_url, KEY, TOKEN) as client:
        for name, value in HOSTILE.items():
            for field in ("error", "message"):
                where = f"HTTP {http_status} {field} = {name}"
                answer = {"success": False, "error": "E", field: value}
                api.set_fault(FaultMode.BODY, body=json.dumps(answer), http_status=http_status)
                result = await outcome(client.get_status(PID), where)
                assert isinstance(result, ApiError), where
                if isinstance(result, Rejected):
                    assert_shown_safely(result.error, where)
            # the same text as a whole non-JSON body (an HTML page, a proxy's words)
            if isinstance(value, str):
                api.set_fault(FaultMode.BODY, body=value, http_status=http_status)
                result = await outcome(client.get_status(PID), f"HTTP {http_status} body {name}")
                assert isinstance(result, ApiError)
        api.clear_fault()


async def test_a_long_message_is_cut_where_parsed_and_says_so(api: SimServer) -> None:
    long = "\n".join(f"at step {i}: timeout {TOKEN}" for i in range(16_000))  # ~0.9 MB
    assert len(long.encode()) < MAX_ANSWER_BYTES
    api.set_fault(FaultMode.FIELDS, fields={"raw_msg": long}, count=1)
    async with KondadoClient(api.base_url, KEY, TOKEN) as client:
        status = await client.get_status(PID)
    assert status.raw_msg is not None
    assert status.raw_msg_cut > 300_000  # counted after the token was masked
    assert status.raw_msg.endswith(f"… (cut: {status.raw_msg_cut} more characters)")
    assert_status_safe(status, "long raw_msg")


def _peak_during(run: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_huge_answer_is_not_read_past_the_limit(api: SimServer) -> None:
    import asyncio

    size = 200 * 1024 * 1024  # 200 MiB of valid JSON, streamed by the server

    async def ask() -> Any:
        async with KondadoClient(api.base_url, KEY, TOKEN) as client:
            return await outcome(client.get_status(PID), "huge")

    api.set_fault(FaultMode.HUGE, size=size, count=1)
    result, peak = _peak_during(lambda: asyncio.run(ask()))
    assert isinstance(result, BadAnswer) and "larger than 1 MiB" in str(result)
    assert peak < 8 * MAX_ANSWER_BYTES, f"{peak / 2**20:.1f} MiB at the peak"
    # What the server got out before the client hung up: the limit and socket buffers.
    # (Its thread records it once its next write fails: a moment after the hang-up.)
    for _ in range(200):
        if api.huge_sent:
            break
        time.sleep(0.05)
    assert api.huge_sent and api.huge_sent[-1] < 64 * 1024 * 1024, api.huge_sent


def test_a_compressed_bomb_is_inflated_no_further_than_the_limit(api: SimServer) -> None:
    import asyncio

    inflated = b'{"2040": {"status": "active", "raw_msg": "' + b"0" * (64 << 20) + b'"}}'
    bomb = gzip.compress(inflated, compresslevel=9)  # ~64 KiB on the wire
    del inflated

    async def ask() -> Any:
        async with KondadoClient(api.base_url, KEY, TOKEN) as client:
            return await outcome(client.get_status(PID), "bomb")

    api.set_fault(FaultMode.BODY, body=bomb, content_encoding="gzip", count=1)
    result, peak = _peak_during(lambda: asyncio.run(ask()))
    assert isinstance(result, BadAnswer) and "larger than 1 MiB" in str(result)
    assert peak < 8 * MAX_ANSWER_BYTES, f"{peak / 2**20:.1f} MiB at the peak"
    api.set_fault(FaultMode.BODY, body=b"\x1f\x8b garbage", content_encoding="gzip", count=1)
    result = asyncio.run(ask())
    assert isinstance(result, BadAnswer) and "compression is broken" in str(result)
    api.set_fault(FaultMode.BODY, body=b"{}", content_encoding="br", count=1)
    result = asyncio.run(ask())
    assert isinstance(result, BadAnswer) and "does not read" in str(result)
