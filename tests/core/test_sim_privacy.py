"""The simulator never writes the token anywhere: not its request log, not stderr."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import httpx
import pytest

from kondado_tui.core.sim import FaultMode, SimServer

TOKEN = "s3cret-Token-value-for-the-leak-test"


def traffic(server: SimServer) -> None:
    pid = server.world.pipeline_ids[0]
    params = {"key": server.key, "token": TOKEN}
    with httpx.Client(base_url=server.base_url, params=params, timeout=2) as http:
        http.get(f"/pipelines/{pid}/status")
        http.post(f"/pipelines/{pid}/run")
        http.post("/pipelines", json={"pipeline_id": pid})
        http.get("/nowhere")
        http.get(f"/pipelines/{pid}/status", params={**params, "token": TOKEN + "x"})
        for mode in FaultMode:
            server.set_fault(mode, count=1, delay=0.05)
            with contextlib.suppress(httpx.HTTPError):
                http.get(f"/pipelines/{pid}/status", timeout=0.3)
    # A request line the stdlib itself rejects (it would log it, URL and all).
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw:
        raw.sendall(f"BREW /pipelines/1/status?token={TOKEN} HTTP/1.1\r\n\r\n".encode())
        raw.recv(4096)
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as raw:
        raw.sendall(f"GET /pipelines/1/status?token={TOKEN} HTTP/9.9 junk\r\n\r\n".encode())
        raw.recv(4096)


def test_token_is_not_in_the_log_nor_stderr(
    sim_factory: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    server: SimServer = sim_factory(token=TOKEN, rate_limit=False)
    traffic(server)
    server.stop()
    out, err = capfd.readouterr()
    assert TOKEN not in out + err
    assert err == ""  # the stdlib's per-request lines are silenced
    assert len(server.log) >= 5 + len(FaultMode)
    text = repr(server.log)
    assert TOKEN not in text and "token=" not in text
    assert all("?" not in record.path for record in server.log)
    assert TOKEN not in repr(server)


def test_rate_limited_requests_leak_nothing_either(
    sim_factory: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    server: SimServer = sim_factory(token=TOKEN)
    for _ in range(3):
        httpx.get(
            f"{server.base_url}/pipelines/1/status", params={"key": server.key, "token": TOKEN}
        )
    assert any(r.rate_limited for r in server.log)
    _, err = capfd.readouterr()
    assert TOKEN not in err + repr(server.log)
