"""What the health says before the API confirmed anything: no pipelines at all, or rows
showing states read from history (against the independent API, in virtual time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from altapi import AltApi
from test_poller import FakeBudget, Recorder

from kondado_tui.api import KondadoClient
from kondado_tui.clock import ManualClock
from kondado_tui.events import Connection
from kondado_tui.poller import Poller


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, chunked=False).start()
    yield api
    api.stop()


async def test_no_pipelines_says_so_instead_of_connecting(alt: AltApi) -> None:
    clock = ManualClock()
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [], on_event=recorder)
        assert await poller.step() == float("inf")  # nothing to ask: sleeps until told
        health = recorder.healths()[-1]
        assert health.connection is Connection.STARTING and health.pipelines == 0
        assert "no pipelines configured" in health.message
        assert "press a" in health.message and "kondado-tui add" in health.message
        assert not alt.received
        poller.set_pipelines([101])  # added one
        assert recorder.healths()[-1].pipelines == 1
        assert "no pipelines" not in recorder.healths()[-1].message
        await poller.step()
        assert poller.health.connection is Connection.OK
        poller.set_pipelines([])  # removed the last one
        assert recorder.healths()[-1].connection is Connection.STARTING
        assert "no pipelines configured" in recorder.healths()[-1].message
