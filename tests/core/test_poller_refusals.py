"""Refusals of one pipeline (not found, no access) as a structured code, classified in
one place (`events.refusal_of`) whatever the API's wording, and kept in history so a
restart still shows "not found since ...". Against the simulator and the independent API
(`altapi`, other wording and HTTP statuses) over real loopback HTTP, in virtual time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from altapi import AltApi
from poller_fakes import FakeBudget, Recorder

from kondado_tui.core.api import KondadoClient
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.errors import BadAnswer, FailureKind, Rejected, Unreachable
from kondado_tui.core.events import PipelineFailed, Refusal, refusal_of
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.poller import Poller
from kondado_tui.core.sim import SimServer

MISSING = 424_242
FORBIDDEN = 120
GOOD = [101, 102, 103]


async def drive(poller: Poller, clock: ManualClock, seconds: float) -> None:
    until = clock.now() + seconds
    while clock.now() < until:
        wake_at = await poller.step()
        if wake_at > clock.now():
            clock.set(min(wake_at, until))


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, forbidden={FORBIDDEN}, chunked=False).start()
    yield api
    api.stop()


@pytest.mark.parametrize(
    ("exc", "credentials_work", "expected"),
    [
        (
            Rejected("the API refused: Pipeline not found", http_status=404),
            False,
            Refusal.NOT_FOUND,
        ),
        (Rejected("x", error="PIPELINE_NOT_FOUND", http_status=200), False, Refusal.NOT_FOUND),
        (Rejected("the API refused: No pipeline 12 in this account."), False, Refusal.NOT_FOUND),
        (Rejected("the API refused: no such pipeline"), False, Refusal.NOT_FOUND),
        (Rejected("the API refused: pipeline 12 does not exist"), False, Refusal.NOT_FOUND),
        (
            Rejected("pipelines/12/status: HTTP 404 Not Found", http_status=404),
            False,
            Refusal.NOT_FOUND,
        ),
        (Rejected("HTTP 404", http_status=404), False, Refusal.NOT_FOUND),  # no words at all
        # auth-looking: only a pipeline's own refusal once other pipelines answer
        (Rejected("the API refused: FORBIDDEN", http_status=403, auth=True), False, None),
        (
            Rejected("the API refused: FORBIDDEN", http_status=403, auth=True),
            True,
            Refusal.NO_ACCESS,
        ),
        (Rejected("the API refused: permission denied", auth=True), True, Refusal.NO_ACCESS),
        (
            Rejected("the API refused: Pipeline not found for this key", auth=True),
            True,
            Refusal.NOT_FOUND,
        ),
        (Rejected("the API refused: Pipeline is not active"), False, Refusal.REFUSED),
        (Unreachable("timed out"), False, None),
        (BadAnswer("an HTML page"), False, None),
    ],
)
def test_refusals_are_classified_from_status_and_any_wording(
    exc: Rejected, credentials_work: bool, expected: Refusal | None
) -> None:
    assert refusal_of(exc, credentials_work=credentials_work) is expected


def test_access_denied_and_refusal_agree() -> None:
    old_style = PipelineFailed(1, FailureKind.REJECTED, "no", 10.0, access_denied=True)
    assert old_style.refusal is Refusal.NO_ACCESS and old_style.since == 10.0
    new_style = PipelineFailed(1, FailureKind.REJECTED, "no", 10.0, refusal=Refusal.NO_ACCESS)
    assert new_style.access_denied
    gone = PipelineFailed(1, FailureKind.REJECTED, "no", 10.0, refusal=Refusal.NOT_FOUND)
    assert not gone.access_denied and gone.refusal.label == "not found"  # type: ignore[union-attr]
    passing = PipelineFailed(1, FailureKind.UNREACHABLE, "timed out", 10.0)
    assert passing.refusal is None and passing.since is None


async def test_the_simulator_s_unknown_pipeline_is_not_found_and_kept_over_a_restart(
    sim_factory: Callable[..., SimServer], tmp_path: Path
) -> None:
    clock = ManualClock()
    sim = sim_factory(rate_limit=False, clock=clock, pipelines=3)
    ids = [*sim.world.pipeline_ids, MISSING]
    path = tmp_path / "history.sqlite3"
    recorder = Recorder()
    store = HistoryStore(path, clock=clock)
    budget = FakeBudget(clock)
    async with KondadoClient(sim.base_url, sim.key, sim.token, gate=budget) as client:
        poller = Poller(client, budget, clock, ids, on_event=recorder, store=store)
        first = clock.now()
        await drive(poller, clock, 200)
    store.close()
    refusals = [f for f in recorder.failed() if f.pipeline_id == MISSING]
    assert len(refusals) >= 2  # asked again after its own backoff
    assert all(f.refusal is Refusal.NOT_FOUND and not f.access_denied for f in refusals)
    began = refusals[0].at
    assert began - first < 15
    assert all(f.since == began for f in refusals)  # one refusal, still going on
    assert set(poller.observations) == set(sim.world.pipeline_ids)

    # A restart: history says it was not found, and since when, before anything is asked.
    store = HistoryStore(path, clock=clock)
    stored = store.refusals()
    assert set(stored) == {MISSING}
    assert stored[MISSING].refusal is Refusal.NOT_FOUND and stored[MISSING].since == began
    into = [t for t in store.transitions(MISSING) if t.refusal is not None]
    assert [t.to_status for t in into] == ["not_found"] and into[0].at == began
    assert "not found" in (into[0].raw_msg or "").casefold()
    recorder = Recorder()
    async with KondadoClient(sim.base_url, sim.key, sim.token, gate=budget) as client:
        poller = Poller(client, budget, clock, ids, on_event=recorder, store=store)
        await poller.step()
    replayed = [f for f in recorder.failed() if f.pipeline_id == MISSING]
    assert replayed and replayed[0].refusal is Refusal.NOT_FOUND
    assert replayed[0].since == began
    store.close()


async def test_the_other_api_s_wording_gives_the_same_codes(alt: AltApi) -> None:
    """altapi: 403 FORBIDDEN for another account's pipeline, 404 PIPELINE_NOT_FOUND."""
    clock = ManualClock()
    budget = FakeBudget(clock)
    recorder = Recorder()
    store = HistoryStore(None, clock=clock)
    async with KondadoClient(alt.base_url, alt.key, alt.token, gate=budget) as client:
        poller = Poller(
            client, budget, clock, [*GOOD, FORBIDDEN, MISSING], on_event=recorder, store=store
        )
        await drive(poller, clock, 120)
    by_id = {f.pipeline_id: f for f in recorder.failed()}
    assert by_id[FORBIDDEN].refusal is Refusal.NO_ACCESS and by_id[FORBIDDEN].access_denied
    assert by_id[MISSING].refusal is Refusal.NOT_FOUND
    assert {p: r.refusal for p, r in store.refusals().items()} == {
        FORBIDDEN: Refusal.NO_ACCESS,
        MISSING: Refusal.NOT_FOUND,
    }


async def test_an_answer_ends_the_refusal_in_history(sim: SimServer) -> None:
    clock = ManualClock()
    store = HistoryStore(None, clock=clock)
    pid = sim.world.pipeline_ids[0]
    assert store.record_refusal(pid, Refusal.NO_ACCESS, "the API refused: FORBIDDEN", clock.now())
    clock.advance(30)
    last_refused = clock.now()
    assert not store.record_refusal(pid, Refusal.NO_ACCESS, "again", last_refused)
    clock.advance(30)
    budget = FakeBudget(clock)
    recorder = Recorder()
    async with KondadoClient(sim.base_url, sim.key, sim.token, gate=budget) as client:
        poller = Poller(client, budget, clock, [pid], on_event=recorder, store=store)
        await poller.step()
        await poller.step()
    assert recorder.observed(pid)
    assert store.refusals() == {}
    last = store.transitions(pid)[-1]
    assert last.from_status == "no_access" and last.refusal is None
    assert last.previous_seen_at == last_refused  # it came back after the last refusal
