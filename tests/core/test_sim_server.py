"""The simulated API over real loopback HTTP: endpoints, answer shapes, auth, rate limits."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from kondado_tui.core.api import KondadoClient, parse_status
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import RateLimited, Rejected
from kondado_tui.core.sim import DEMO_SPEED, Outcome, SimServer
from kondado_tui.core.sim.server import RATE_LIMIT_ANSWER

# One client for the module: building one per request costs ~40 ms (TLS context).
HTTP = httpx.Client(timeout=10.0)

RATE_LIMIT_BODY = {
    "success": False,
    "error": "RATE_LIMIT_EXCEEDED",
    "message": "Too many requests. Please try again in 60 seconds.",
}


def get(server: SimServer, path: str, **params: str) -> Any:
    query = {"key": server.key, "token": server.token, **params}
    response = HTTP.get(server.base_url + path, params=query)
    assert response.status_code == 200
    return response.json()


def post(server: SimServer, path: str, body: Any = None, token: str | None = None) -> Any:
    query = {"key": server.key, "token": token if token is not None else server.token}
    response = HTTP.post(server.base_url + path, params=query, json=body)
    assert response.status_code == 200
    return response.json()


def test_status_answers_the_documented_unwrapped_shape(sim: SimServer) -> None:
    pid = sim.world.pipeline_ids[0]
    answer = get(sim, f"/pipelines/{pid}/status")
    assert list(answer) == [str(pid)]
    entry = answer[str(pid)]
    assert set(entry) == {"status", "is_running", "is_active", "is_blocked", "raw_msg"}
    assert entry == sim.world.status(pid)
    assert parse_status(pid, answer).status == entry["status"]


def test_status_can_answer_the_wrapped_shape(sim_factory: Any) -> None:
    server = sim_factory(rate_limit=False, wrapped=True)
    pid = server.world.pipeline_ids[0]
    answer = get(server, f"/pipelines/{pid}/status")
    assert answer["success"] is True
    assert list(answer["data"]) == [str(pid)]
    assert parse_status(pid, answer).status == answer["data"][str(pid)]["status"]


def test_rate_limit_answer_is_exactly_the_documented_one() -> None:
    assert RATE_LIMIT_ANSWER == RATE_LIMIT_BODY


def test_status_through_the_client(sim: SimServer) -> None:
    pid = sim.world.pipeline_ids[0]

    async def ask() -> str:
        async with KondadoClient(sim.base_url, sim.key, sim.token) as client:
            return (await client.get_status(pid)).status

    assert asyncio.run(ask()) == sim.world.status(pid)["status"]


# -- auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"key": "KEY"},
        {"token": "TOKEN"},
        {"key": "KEY", "token": "wrong"},
        {"key": "wrong", "token": "TOKEN"},
    ],
)
def test_wrong_or_missing_credentials_are_refused_with_http_200(
    sim_factory: Any, params: dict[str, str]
) -> None:
    server = sim_factory(rate_limit=False, key="KEY", token="TOKEN")
    pid = server.world.pipeline_ids[0]
    for method, path in (
        ("GET", f"/pipelines/{pid}/status"),
        ("POST", f"/pipelines/{pid}/run"),
        ("POST", "/pipelines"),
    ):
        response = HTTP.request(method, server.base_url + path, params=params, json={})
        assert response.status_code == 200
        assert response.json() == {
            "success": False,
            "error": "INVALID_TOKEN",
            "message": "Invalid or deactivated API key/token. Create a new token in the "
            "Kondado app.",
        }
    assert {r.outcome for r in server.log} == {Outcome.AUTH_FAILED}
    assert server.world.duplicate_bodies == []


def test_a_new_token_refuses_the_old_one(sim_factory: Any) -> None:
    """Setting `token` is deactivating it in the app: the old one is refused at once."""
    server = sim_factory(rate_limit=False, key="KEY", token="OLD")
    pid = server.world.pipeline_ids[0]
    server.token = "NEW"
    old = HTTP.get(
        f"{server.base_url}/pipelines/{pid}/status", params={"key": "KEY", "token": "OLD"}
    )
    assert old.json()["error"] == "INVALID_TOKEN"
    assert str(pid) in get(server, f"/pipelines/{pid}/status")


async def test_the_client_reports_an_auth_failure(sim: SimServer) -> None:
    async with KondadoClient(sim.base_url, sim.key, "not-the-token") as client:
        with pytest.raises(Rejected) as caught:
            await client.get_status(sim.world.pipeline_ids[0])
    assert caught.value.auth is True
    assert caught.value.error == "INVALID_TOKEN"


def test_default_credentials_are_random(sim_factory: Any) -> None:
    first, second = sim_factory(rate_limit=False), sim_factory(rate_limit=False)
    assert first.token != second.token and len(first.token) >= 20
    assert first.key != second.key


# -- endpoints ----------------------------------------------------------------------------


@pytest.mark.parametrize("pid", ["1", "abc", "99999999999"])
def test_unknown_pipeline_is_a_failure_with_text(sim: SimServer, pid: str) -> None:
    for answer in (get(sim, f"/pipelines/{pid}/status"), post(sim, f"/pipelines/{pid}/run")):
        assert answer["success"] is False
        assert answer["error"] == "Pipeline not found"


def test_unknown_endpoint_is_404_json(sim: SimServer) -> None:
    for method, path in (
        ("GET", "/pipelines"),
        ("GET", "/pipelines/1/run"),
        ("DELETE", "/pipelines/1"),
        ("GET", "/"),
    ):
        response = HTTP.request(
            method, sim.base_url + path, params={"key": sim.key, "token": sim.token}
        )
        assert response.status_code == 404
        assert response.json()["success"] is False


def test_run_over_http_queues_the_pipeline(sim_factory: Any) -> None:
    clock = ManualClock()
    server = sim_factory(rate_limit=False, clock=clock, demo=True, speed=DEMO_SPEED)
    assert post(server, "/pipelines/2040/run") == {"success": True}
    assert get(server, "/pipelines/2040/status")["2040"]["status"] == "scheduled"
    clock.advance(10)
    assert get(server, "/pipelines/2040/status")["2040"]["status"] == "running"
    refused = post(server, "/pipelines/2053/run")  # Essentials plan
    assert refused["success"] is False and "Essentials" in refused["error"]
    assert [r.outcome for r in server.log] == [Outcome.OK] * 3 + [Outcome.REJECTED]


async def test_the_client_sees_a_refused_run(sim_factory: Any) -> None:
    server = sim_factory(rate_limit=False, demo=True)
    async with KondadoClient(server.base_url, server.key, server.token) as client:
        assert await client.run(2040) == "run queued"
        with pytest.raises(Rejected) as caught:
            await client.run(2053)
    assert "Essentials" in str(caught.value)
    assert caught.value.auth is False


def test_duplicate_over_http(sim_factory: Any) -> None:
    server = sim_factory(rate_limit=False, demo=True)
    body = {
        "pipeline_id": 2040,
        "src_collection_id": 5052,
        "dest_collection_id": 7002,
        "full_tables": {
            "": "orders_copy",
            "line_items": "li",
            "customers": "c",
            "fulfillments": "f",
        },
        "execute_immediately": "Y",
        "name": "Orders (outlet)",
    }
    raw = HTTP.post(
        server.base_url + "/pipelines", params={"key": server.key, "token": server.token}, json=body
    )
    answer = raw.json()
    new_id = answer["data"]["data"]["new_pipeline_id"]
    assert answer == {
        "success": True,
        "data": {"success": True, "data": {"new_pipeline_id": new_id}},
    }
    assert server.last_duplicate_body == body
    assert get(server, f"/pipelines/{new_id}/status")[str(new_id)]["status"] == ("building_tables")


async def test_the_client_duplicates_and_sees_refusals(sim_factory: Any) -> None:
    server = sim_factory(rate_limit=False, demo=True)
    body: dict[str, Any] = {
        "pipeline_id": 2061,
        "src_collection_id": 5012,
        "dest_collection_id": 7012,
        "full_tables": {"": "pedidos2", "itens": "itens2"},
        "execute_immediately": "N",
    }
    async with KondadoClient(server.base_url, server.key, server.token) as client:
        new_id = await client.duplicate(body)
        assert new_id in server.world.pipeline_ids
        with pytest.raises(Rejected) as caught:
            await client.duplicate({**body, "full_tables": {"": "x"}})
    assert "itens" in str(caught.value)


def test_duplicate_with_a_body_that_is_not_json(sim: SimServer) -> None:
    response = HTTP.post(
        sim.base_url + "/pipelines",
        params={"key": sim.key, "token": sim.token},
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.json() == {"success": False, "error": "Invalid JSON body"}
    assert sim.log[-1].outcome is Outcome.BAD_REQUEST


def test_an_oversized_body_is_refused(sim: SimServer) -> None:
    response = HTTP.post(
        sim.base_url + "/pipelines",
        params={"key": sim.key, "token": sim.token},
        content=b"x" * (2 << 20),
    )
    assert response.status_code == 413
    assert sim.world.duplicate_bodies == []


# -- rate limits (virtual time) -------------------------------------------------------------


def limited(clock: ManualClock, sim_factory: Any, **options: Any) -> SimServer:
    server: SimServer = sim_factory(clock=clock, seed=0, **options)
    return server


def ask(server: SimServer, key: str | None = None) -> dict[str, Any]:
    pid = server.world.pipeline_ids[0]
    params = {"key": key or server.key, "token": server.token}
    result: dict[str, Any] = HTTP.get(
        f"{server.base_url}/pipelines/{pid}/status", params=params
    ).json()
    return result


def test_one_request_per_second_then_a_lockout(sim_factory: Any) -> None:
    clock = ManualClock()
    server = limited(clock, sim_factory)
    assert "success" not in ask(server)
    clock.advance(0.5)
    assert ask(server) == RATE_LIMIT_BODY  # second request within the same second
    clock.advance(30)
    assert ask(server) == RATE_LIMIT_BODY  # still locked out
    clock.advance(29.9)
    assert ask(server) == RATE_LIMIT_BODY  # 59.9 s after the breach
    clock.advance(0.2)
    assert "success" not in ask(server)  # the lock-out lasted 60 s, no longer
    assert [r.rate_limited for r in server.log] == [False, True, True, True, False]
    assert [r.outcome for r in server.log][1] is Outcome.RATE_LIMITED


def test_requests_exactly_a_second_apart_are_fine(sim_factory: Any) -> None:
    clock = ManualClock()
    server = limited(clock, sim_factory)
    for _ in range(5):
        assert "success" not in ask(server)
        clock.advance(1.0)


def test_twenty_requests_per_minute(sim_factory: Any) -> None:
    clock = ManualClock()
    server = limited(clock, sim_factory)
    for _ in range(20):
        assert "success" not in ask(server)
        clock.advance(1.5)
    assert ask(server) == RATE_LIMIT_BODY  # the 21st within 60 s
    clock.advance(59.9)
    assert ask(server) == RATE_LIMIT_BODY
    clock.advance(0.2)
    assert "success" not in ask(server)


def test_limits_count_per_ip_whatever_the_key(sim_factory: Any) -> None:
    clock = ManualClock()
    server = limited(clock, sim_factory)
    assert ask(server, key="someone-else")["error"] == "INVALID_TOKEN"
    clock.advance(0.2)
    assert ask(server) == RATE_LIMIT_BODY  # same IP, another key


def test_limits_are_options(sim_factory: Any) -> None:
    clock = ManualClock()
    server = limited(clock, sim_factory, rps=3, rpm=5, lockout=10.0)
    for _ in range(3):
        assert "success" not in ask(server)
    assert ask(server) == RATE_LIMIT_BODY
    clock.advance(10.0)
    assert "success" not in ask(server)
    relaxed = limited(clock, sim_factory, rate_limit=False)
    assert all("success" not in ask(relaxed) for _ in range(30))


async def test_the_client_sees_rate_limited(sim_factory: Any) -> None:
    clock = ManualClock()
    server = limited(clock, sim_factory)
    pid = server.world.pipeline_ids[0]
    async with KondadoClient(server.base_url, server.key, server.token) as client:
        await client.get_status(pid)
        with pytest.raises(RateLimited) as caught:
            await client.get_status(pid)
    assert caught.value.retry_after == 60.0


def test_a_bug_in_request_handling_is_kept_for_the_tests(
    sim_factory: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    server = SimServer(sim_factory(rate_limit=False).world, rate_limit=False).start()
    try:
        server.answer = None  # type: ignore[assignment,method-assign]
        with pytest.raises(httpx.HTTPError):
            HTTP.get(f"{server.base_url}/pipelines/1/status")
    finally:
        server.stop()
    assert server.errors == ["TypeError: 'NoneType' object is not callable"]
    assert capfd.readouterr().err == ""
