"""Every injected fault, seen through the real client: each maps to the right typed error."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import httpx
import pytest

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.errors import ApiError, BadAnswer, FailureKind, Unreachable
from kondado_tui.core.sim import FaultMode, Outcome, SimServer


async def status_error(server: SimServer, timeout: float = 5.0) -> ApiError:
    pid = server.world.pipeline_ids[0]
    async with KondadoClient(server.base_url, server.key, server.token, timeout=timeout) as client:
        with pytest.raises(ApiError) as caught:
            await client.get_status(pid)
    return caught.value


@pytest.mark.parametrize(
    ("mode", "error", "kind", "words"),
    [
        (FaultMode.HTTP_500_HTML, Unreachable, FailureKind.UNREACHABLE, "HTTP 500"),
        (FaultMode.HTML_200, BadAnswer, FailureKind.BAD_ANSWER, "HTML"),
        (FaultMode.MALFORMED_JSON, BadAnswer, FailureKind.BAD_ANSWER, "not valid JSON"),
        (FaultMode.RESET, Unreachable, FailureKind.UNREACHABLE, "GET /pipelines/"),
    ],
)
async def test_fault_becomes_a_typed_error(
    sim: SimServer, mode: FaultMode, error: type[ApiError], kind: FailureKind, words: str
) -> None:
    sim.set_fault(mode)
    caught = await status_error(sim)
    assert type(caught) is error
    assert caught.kind is kind
    assert words in str(caught)
    assert sim.token not in str(caught)
    assert sim.log[-1].outcome is Outcome.FAULT
    assert sim.log[-1].fault is mode


async def test_5xx_status_code_is_configurable(sim: SimServer) -> None:
    sim.set_fault(FaultMode.HTTP_500_HTML, http_status=503)
    caught = await status_error(sim)
    assert "HTTP 503" in str(caught) and "HTML" in str(caught)
    assert sim.log[-1].http_status == 503


def test_html_faults_really_send_html(sim: SimServer) -> None:
    url = f"{sim.base_url}/pipelines/{sim.world.pipeline_ids[0]}/status"
    sim.set_fault(FaultMode.HTTP_500_HTML, count=1)
    response = httpx.get(url, params={"key": sim.key, "token": sim.token})
    assert response.status_code == 500
    assert response.text.lstrip().lower().startswith("<!doctype html")
    sim.set_fault(FaultMode.HTML_200, count=1)
    response = httpx.get(url, params={"key": sim.key, "token": sim.token})
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


async def test_no_answer_times_the_client_out(sim: SimServer) -> None:
    sim.set_fault(FaultMode.NO_ANSWER)
    started = time.monotonic()
    caught = await status_error(sim, timeout=0.3)
    assert time.monotonic() - started < 3
    assert type(caught) is Unreachable
    assert "no answer" in str(caught)


async def test_slow_answer_arrives_late_but_right(sim: SimServer) -> None:
    sim.set_fault(FaultMode.SLOW, delay=0.4)
    pid = sim.world.pipeline_ids[0]
    started = time.monotonic()
    async with KondadoClient(sim.base_url, sim.key, sim.token, timeout=5) as client:
        status = await client.get_status(pid)
    assert time.monotonic() - started >= 0.4
    assert status.status == sim.world.status(pid)["status"]
    assert sim.log[-1].outcome is Outcome.OK
    assert sim.log[-1].fault is FaultMode.SLOW


async def test_slower_than_the_client_timeout_is_unreachable(sim: SimServer) -> None:
    sim.set_fault(FaultMode.SLOW, delay=2.0)
    caught = await status_error(sim, timeout=0.3)
    assert type(caught) is Unreachable


async def test_a_fault_for_the_next_n_requests_only(sim: SimServer) -> None:
    sim.set_fault(FaultMode.MALFORMED_JSON, count=2)
    pid = sim.world.pipeline_ids[0]
    async with KondadoClient(sim.base_url, sim.key, sim.token) as client:
        for _ in range(2):
            with pytest.raises(BadAnswer):
                await client.get_status(pid)
        await client.get_status(pid)  # the fault is used up
    assert [r.outcome for r in sim.log] == [Outcome.FAULT, Outcome.FAULT, Outcome.OK]


async def test_clear_fault_and_recovery_on_the_same_client(sim: SimServer) -> None:
    pid = sim.world.pipeline_ids[0]
    async with KondadoClient(sim.base_url, sim.key, sim.token) as client:
        for mode in FaultMode:
            if mode in (FaultMode.SLOW, FaultMode.NO_ANSWER, FaultMode.FIELDS):
                continue  # a delay, a timeout, the normal answer when no field is given
            sim.set_fault(mode)
            with pytest.raises(ApiError):
                await client.get_status(pid)
            sim.clear_fault()
            await client.get_status(pid)  # the pool recovers from a broken connection


def test_count_must_be_positive(sim: SimServer) -> None:
    with pytest.raises(ValueError, match="count"):
        sim.set_fault(FaultMode.RESET, count=0)


async def test_faults_switch_from_another_thread_while_requests_run(sim: SimServer) -> None:
    pid = sim.world.pipeline_ids[0]
    flips = threading.Event()

    def flip() -> None:
        for n in range(100):
            if n % 2:
                sim.set_fault(FaultMode.MALFORMED_JSON)
            else:
                sim.clear_fault()
        sim.clear_fault()
        flips.set()

    async with KondadoClient(sim.base_url, sim.key, sim.token) as client:
        flipper = threading.Thread(target=flip)
        flipper.start()
        for _ in range(20):
            with contextlib.suppress(BadAnswer):
                await client.get_status(pid)
        flipper.join()
        await client.get_status(pid)
    assert flips.is_set()
    assert len(sim.log) == 21


async def test_stop_is_quick_while_a_connection_is_held(sim_factory: object) -> None:
    server: SimServer = sim_factory(rate_limit=False)  # type: ignore[operator]
    server.set_fault(FaultMode.NO_ANSWER)
    pid = server.world.pipeline_ids[0]
    async with KondadoClient(server.base_url, server.key, server.token, timeout=30) as client:
        pending = asyncio.ensure_future(client.get_status(pid))
        await asyncio.sleep(0.3)  # the request is being held
        started = time.monotonic()
        await asyncio.to_thread(server.stop)
        assert time.monotonic() - started < 1.5
        with pytest.raises(Unreachable):
            await asyncio.wait_for(pending, 5)


def test_stop_is_quick_during_a_slow_answer(sim_factory: object) -> None:
    server: SimServer = sim_factory(rate_limit=False)  # type: ignore[operator]
    server.set_fault(FaultMode.SLOW, delay=30)
    url = f"{server.base_url}/pipelines/{server.world.pipeline_ids[0]}/status"

    def ask() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, params={"key": "k", "token": "t"}, timeout=30)

    worker = threading.Thread(target=ask)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    server.stop()
    worker.join(5)
    assert time.monotonic() - started < 2
    assert not worker.is_alive()
