"""Properties of the store and the derivations over arbitrary observation sequences."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.history.timeline import RunOutcome, Transition, derive_runs, ends_run, is_busy
from kondado_tui.core.models import KNOWN_STATUSES, Observation, PipelineStatus

T0 = 1_790_000_000.0
STATUSES = [*KNOWN_STATUSES, "paused_by_support"]

observations = st.lists(
    st.tuples(
        st.sampled_from(STATUSES),
        st.sampled_from([None, "", "boom", "other"]),
        st.floats(min_value=0.5, max_value=900.0),  # seconds since the previous poll
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(observations)
def test_transitions_are_the_changes_and_runs_tile_them(
    polls: list[tuple[str, str | None, float]],
) -> None:
    with HistoryStore(None, clock=ManualClock(T0)) as store:
        at = T0
        expected: list[tuple[float, str, str | None]] = []
        previous: tuple[str, str | None] | None = None
        for status, msg, gap in polls:
            at += gap
            state = (status, msg or None)
            changed = store.record(Observation(PipelineStatus(1, status, raw_msg=msg), at))
            assert changed == (state != previous)
            if changed:
                expected.append((at, *state))
            previous = state
        transitions = store.transitions(1)
        assert [(t.at, t.to_status, t.raw_msg) for t in transitions] == expected
        for before, after in itertools.pairwise(transitions):
            assert after.from_status == before.to_status
            assert after.previous_seen_at is not None and after.previous_seen_at < after.at

        runs = derive_runs(transitions)
        ends = [t for t in transitions if ends_run(t.to_status)]
        for run in runs:
            if run.ended_at is not None:
                assert run.started_at < run.ended_at
                assert run.outcome is not RunOutcome.RUNNING
        for first, second in itertools.pairwise(runs):
            assert first.ended_at is not None and first.ended_at < second.started_at
        assert all(r.finished for r in runs[:-1])
        if runs and not runs[-1].finished:
            assert not any(t.at > runs[-1].started_at for t in ends)
        # Every run starts with a busy state, and every end after a busy state closes one.
        assert all(is_busy(_status_at(transitions, r.started_at)) for r in runs)
        assert store.runs(1, limit=1000) == list(reversed(runs))
        if polls:
            ((last, since),) = store.last_observations().values()
            assert last.observed_at == at and since == expected[-1][0]


def _status_at(transitions: list[Transition], when: float) -> str:
    return next(t.to_status for t in transitions if t.at == when)
