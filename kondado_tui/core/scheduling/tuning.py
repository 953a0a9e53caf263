"""The scheduler's numbers: how the budget is shared, how often each kind of row is asked,
how rhythms are learned (seconds unless named otherwise). One place to tune them."""

from __future__ import annotations

from kondado_tui.core.budget.rate_budget import BudgetPolicy
from kondado_tui.core.models import Priority

# Routine polling is a strict sweep (the row seen longest ago first) with at least this
# share of the automatic requests, and targeted polls (runs near their end, expected
# starts, the selected row) with the rest; the sweep takes every request nothing
# targeted wants. The share bounds every row's age whatever the targets want.
SWEEP_SHARE = 0.6
SWEEP_CREDIT_CAP = 2.0  # sweeps owed at most (a burst of targets cannot bank more)
SWEEP_MIN_GAP = 5.0  # the sweep never asks a row again sooner than this
ACTIVE_MEMORY = 6 * 3600.0  # a row seen changing this recently is watched, not only swept
# A long list leaves less for each row: targeted intervals stretch by cycle / this (never
# below 1; about 7.6 at 200 pipelines), so watching runs closely does not starve the
# sweep of the rows nothing predicts.
LOAD_REFERENCE_CYCLE = 100.0  # about 25 pipelines at 18 a minute
MIN_MAX_AGE = 60.0
SCHEDULED_INTERVAL = 10.0  # queued runs start within seconds to a minute
# A run of unknown length is asked every `elapsed / RUNNING_FRACTION`, within bounds:
# the delay to see its end stays a fraction of its length.
RUNNING_FRACTION = 4.0
RUNNING_INTERVALS = (8.0, 60.0)
RUNNING_EARLY_INTERVAL = 60.0  # before the shortest run seen so far could end
RUNNING_OVERDUE_INTERVAL = 15.0  # longer than any run seen so far: ends any moment
WINDOW_LOOKS = 10.0  # asks spread over an expected start or end window
START_WINDOW_INTERVALS = (8.0, 30.0)
BUILDING_INTERVAL = 30.0  # building tables takes minutes
TROUBLE_FACTOR = 0.6  # runs of a pipeline whose last run failed or warned
FOCUS_INTERVAL = 10.0  # the selected row, while it counts as interest (below)
# The selected row counts as interest only while someone is there: its detail screen is
# open, or a key was pressed (or the mouse clicked or scrolled) within this long. A cursor
# resting on the top row of a dashboard nobody touched for hours says nothing, yet took a
# fifth of the requests. Three minutes covers reading a row between key presses and
# waiting a little for what it shows, and is about one `max_age` at 20 pipelines: past
# it the sweep alone shows the row as fresh as the boost would. A key press costs at most
# 180 / FOCUS_INTERVAL = 18 extra requests (about a minute of the budget).
FOCUS_ATTENTION = 180.0
FOLLOW_STEPS: tuple[tuple[float, float], ...] = (
    # (until this long after follow() was called, ask every ...)
    (60.0, 3.0),
    (180.0, 6.0),
    (600.0, 15.0),
)
FOLLOW_LIMIT = FOLLOW_STEPS[-1][0]
FOLLOW_GIVE_UP = 180.0  # never seen busy this long after a run request: stop following

PIPELINE_BACKOFF_BASE = 30.0
PIPELINE_BACKOFF_CAP = 900.0

RHYTHM_MEMORY = 16  # runs remembered per pipeline
PHASE_MEMORY = 6  # the latest starts place the next one (older ones add period error)
MIN_PERIOD = 60.0
SCHEDULE_JITTER = 90.0  # a scheduled run starts up to this late (queueing)
MIN_START_SPREAD = 20.0
HALF_PERIOD_PROBES = 2  # empty half-way windows before the learned period is trusted
MIN_STARTS = 3  # starts explained by a period before it is believed
MAX_START_WINDOW = 1800.0  # a start seen less precisely than this says little

RUN_STATUSES = frozenset({"scheduled", "running"})
BUSY_STATUSES = frozenset({"scheduled", "running", "building_tables"})
QUIET_STATUSES = frozenset({"not_active", "too_many_consecutive_failed_builds__blocked"})


def background_rate(per_minute: float) -> float:
    """Requests a second the rate budget lets automatic traffic have (its window less
    the reserve kept for key presses)."""
    policy = BudgetPolicy(per_minute=max(1, int(per_minute)))
    return policy.cap(Priority.BACKGROUND) / policy.window
