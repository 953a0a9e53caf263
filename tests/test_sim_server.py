"""The simulated API over real loopback HTTP: endpoints, answer shapes, auth, rate limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kondado_tui.api import KondadoClient, parse_status
from kondado_tui.clock import ManualClock
from kondado_tui.errors import RateLimited, Rejected
from kondado_tui.sim import Outcome, SimServer
from kondado_tui.sim.server import RATE_LIMIT_ANSWER

RATE_LIMIT_BODY = {
    "success": False,
    "error": "RATE_LIMIT_EXCEEDED",
    "message": "Too many requests. Please try again in 60 seconds.",
}


def get(server: SimServer, path: str, **params: str) -> Any:
    query = {"key": server.key, "token": server.token, **params}
    response = httpx.get(server.base_url + path, params=query)
    assert response.status_code == 200
    return response.json()


def post(server: SimServer, path: str, body: Any = None, token: str | None = None) -> Any:
    query = {"key": server.key, "token": token if token is not None else server.token}
    response = httpx.post(server.base_url + path, params=query, json=body)
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
