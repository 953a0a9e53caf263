"""A refusal that looks like bad credentials, against the independent API (`altapi`) over
real loopback HTTP, in virtual time: one pipeline the token may not see must not stop
the dashboard, while truly wrong credentials still stop polling (and are retried with a
pipeline that worked before)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from altapi import AltApi
from poller_fakes import FakeBudget, Recorder

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import FailureKind
from kondado_tui.core.events import Connection
from kondado_tui.core.poller import Poller

GOOD = list(range(101, 110))
FORBIDDEN = 120


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, forbidden={FORBIDDEN}, chunked=False).start()
    yield api
    api.stop()


async def drive(poller: Poller, clock: ManualClock, until: float) -> None:
    while clock.now() < until:
        wake_at = await poller.step()
        if wake_at > clock.now():
            clock.set(min(wake_at, until))


def status_calls(alt: AltApi) -> list[int]:
    return [int(r.path.split("/")[2]) for r in alt.calls("GET", "/pipelines/")]


async def test_a_pipeline_the_token_cannot_see_fails_alone(alt: AltApi) -> None:
    clock = ManualClock()
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        # never seen before, and first in the list: it is asked first
        poller = Poller(client, budget, clock, [FORBIDDEN, *GOOD], on_event=recorder)
        start = clock.now()
        await drive(poller, clock, start + 250)
    assert status_calls(alt)[0] == FORBIDDEN
    assert set(poller.observations) == set(GOOD)
    for pid in GOOD:
        assert len(recorder.observed(pid)) >= 3  # polled all along
    assert all(h.connection is not Connection.REJECTED for h in recorder.healths())
    assert poller.health.connection is Connection.OK
    failures = recorder.failed()
    assert failures and {f.pipeline_id for f in failures} == {FORBIDDEN}
    assert all(f.access_denied and f.kind is FailureKind.REJECTED for f in failures)
    assert "cannot see pipeline 120" in failures[0].message
    assert "permission" in failures[0].message
    assert alt.token not in failures[0].message
    # it backs off alone: asked at about 0, 30, 90 and 210 s
    assert 3 <= status_calls(alt).count(FORBIDDEN) <= 4
    tracked = poller.scheduler.tracked(FORBIDDEN)
    assert tracked is not None and tracked.backoff.failures >= 3


async def test_wrong_credentials_stop_polling_and_retry_with_a_pipeline_that_worked(
    alt: AltApi,
) -> None:
    clock = ManualClock()
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [*GOOD[:4], FORBIDDEN], on_event=recorder)
        await drive(poller, clock, clock.now() + 60)
        assert poller.health.connection is Connection.OK
        worked_last = max(poller.observations, key=lambda p: poller.observations[p].observed_at)
        alt.force_auth_failure = "401"  # the token was deactivated
        failed_before = len(recorder.failed())
        sent = len(alt.received)
        await drive(poller, clock, clock.now() + 60)
        health = poller.health
        assert health.connection is Connection.REJECTED
        assert "check `key` and `token`" in health.message
        assert len(alt.received) - sent == 2  # one refusal, one check: then it waits
        assert len(recorder.failed()) == failed_before  # not blamed on pipelines
        assert health.retry_at is not None and health.retry_at - clock.now() > 200
        # the retry asks the pipeline that answered last, never the one that never worked
        retries_from = len(alt.received)
        await drive(poller, clock, health.retry_at + 1)
        assert status_calls(alt)[-(len(alt.received) - retries_from) :] == [worked_last]
        assert poller.health.connection is Connection.REJECTED
        alt.force_auth_failure = ""  # reactivated
        retry_at = poller.health.retry_at
        assert retry_at is not None
        await drive(poller, clock, retry_at + 30)
        assert poller.health.connection is Connection.OK
        assert set(poller.observations) == set(GOOD[:4])


async def test_a_refused_key_press_is_judged_while_paused(alt: AltApi) -> None:
    clock = ManualClock()
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [*GOOD[:3]], on_event=recorder)
        await drive(poller, clock, clock.now() + 30)
        poller.pause()
        poller.set_pipelines([*GOOD[:3], FORBIDDEN])
        sent = len(alt.received)
        poller.request_now(FORBIDDEN)  # the user presses f on it
        await drive(poller, clock, clock.now() + 120)
        assert len(alt.received) - sent == 2  # that pipeline, then one check: paused again
        assert poller.health.paused and poller.health.connection is Connection.OK
        assert [f.pipeline_id for f in recorder.failed()] == [FORBIDDEN]
        assert recorder.failed()[0].access_denied
