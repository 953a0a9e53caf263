"""Status answer shapes an independent implementation of the API could send."""

from __future__ import annotations

import pytest

from kondado_tui.core.api import parse_status
from kondado_tui.core.errors import BadAnswer


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "running", "is_running": True, "raw_msg": None},
        {"success": True, "data": {"status": "running", "is_running": True}},
    ],
)
def test_flat_entry_without_the_id_key(payload: object) -> None:
    status = parse_status(2040, payload)
    assert status.status == "running" and status.is_running


def test_answer_about_another_pipeline_is_refused() -> None:
    with pytest.raises(BadAnswer, match="answered about pipeline 2041 instead"):
        parse_status(2040, {"2041": {"status": "active"}})
    with pytest.raises(BadAnswer):
        parse_status(2040, {"success": True, "data": {"2041": {"status": "active"}}})


def test_single_entry_under_another_label_is_still_read() -> None:
    assert parse_status(7, {"pipeline": {"status": "active"}}).status == "active"


def test_a_redirect_is_named_and_not_followed() -> None:
    import asyncio

    import httpx

    from kondado_tui.core.api import KondadoClient

    seen: list[str] = []

    def moved(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            301,
            headers={
                "Location": f"https://new.example/v2{request.url.path}?{request.url.query.decode()}"
            },
        )

    async def go() -> str:
        client = KondadoClient(
            "https://k2.example", "k", "SECRET-redirect-77", transport=httpx.MockTransport(moved)
        )
        try:
            with pytest.raises(BadAnswer) as bad:
                await client.get_status(5)
            return str(bad.value)
        finally:
            await client.aclose()

    message = asyncio.run(go())
    assert len(seen) == 1
    assert "redirected (HTTP 301) to https://new.example/v2/pipelines/5/status" in message
    assert "SECRET-redirect-77" not in message and "token" not in message


@pytest.mark.parametrize(("http_status", "auth"), [(404, False), (200, True), (403, True)])
def test_not_found_naming_the_key_is_not_a_credentials_failure(
    http_status: int, auth: bool
) -> None:
    from kondado_tui.core.api import _raise_if_failed
    from kondado_tui.core.errors import Rejected

    body = {
        "success": False,
        "error": "NOT_FOUND",
        "message": "Pipeline 999 not found for this key",
    }
    with pytest.raises(Rejected) as refused:
        _raise_if_failed(body, http_status)
    assert refused.value.auth is auth
