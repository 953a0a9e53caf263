"""Which pipeline to ask next, and when each one becomes due. Pure logic, no I/O.

Every method takes the current time, so the scheduler runs in virtual time in tests and
in the freshness benchmark. Each turn the poller asks `plan(now)`: the pipeline to ask
(when the rate budget has a slot) and, when nothing is due, until when to sleep.

How the requests are shared (docs/polling.md says the same in prose):

- A strict *sweep* asks the row seen longest ago. It is owed at least `SWEEP_SHARE` of the
  automatic requests and takes every slot nothing targeted wants, paced evenly at the
  budget's rate (a burst would fill the budget's window and hold back what becomes due).
  That alone bounds every row's age: `max_age` is the sweep's cycle at its share plus
  one budget window. Rows whose next change is predicted far off (disabled or blocked,
  or idle with a learned rhythm before its next start) are swept last, within `max_age`.
- *Targeted* polls get the rest, most overdue against their interval first: busy
  statuses (scheduled, running, building tables) change soon; a learned `Rhythm` (start
  times and run durations seen so far) places looks around the next predicted start and
  the predicted end of a run in progress, where a failure shows; a row seen changing
  lately but with no rhythm yet gets a round robin's look. A long list stretches these
  intervals.
- The selected pipeline (`focus`) gets a short interval while someone is there: a key
  press or click within `FOCUS_ATTENTION` (`user_active`), or its detail screen open
  (`pinned`); a cursor left alone counts for nothing once that lapses. `follow` (after a run or a
  duplicate) asks every few seconds for a minute and then tapers until the pipeline
  settles; `request_now` makes a pipeline the very next one asked.
- Failures back off: one pipeline's errors only delay that pipeline (`Backoff`); the
  poller keeps a global `Backoff` (with jitter) for transport and credential failures.

Modules: `tuning` (the numbers), `backoff`, `rhythm` (learning each pipeline's
schedule), `tracked` (what is known of one pipeline), `index` (the heap index that lets
`plan` choose without walking the list), `scheduler` (the `Scheduler`).
"""

from __future__ import annotations

from kondado_tui.core.scheduling.backoff import Backoff
from kondado_tui.core.scheduling.rhythm import Rhythm, Window
from kondado_tui.core.scheduling.scheduler import LOCAL, Scheduler
from kondado_tui.core.scheduling.tracked import Pick, Tracked
from kondado_tui.core.scheduling.tuning import (
    ACTIVE_MEMORY,
    BUILDING_INTERVAL,
    BUSY_STATUSES,
    FOCUS_ATTENTION,
    FOCUS_INTERVAL,
    FOLLOW_GIVE_UP,
    FOLLOW_LIMIT,
    FOLLOW_STEPS,
    HALF_PERIOD_PROBES,
    LOAD_REFERENCE_CYCLE,
    MAX_START_WINDOW,
    MIN_MAX_AGE,
    MIN_PERIOD,
    MIN_START_SPREAD,
    MIN_STARTS,
    PHASE_MEMORY,
    PIPELINE_BACKOFF_BASE,
    PIPELINE_BACKOFF_CAP,
    QUIET_STATUSES,
    RHYTHM_MEMORY,
    RUN_STATUSES,
    RUNNING_EARLY_INTERVAL,
    RUNNING_FRACTION,
    RUNNING_INTERVALS,
    RUNNING_OVERDUE_INTERVAL,
    SCHEDULE_JITTER,
    SCHEDULED_INTERVAL,
    START_WINDOW_INTERVALS,
    SWEEP_CREDIT_CAP,
    SWEEP_MIN_GAP,
    SWEEP_SHARE,
    TROUBLE_FACTOR,
    WINDOW_LOOKS,
    background_rate,
)

__all__ = [
    "ACTIVE_MEMORY",
    "BUILDING_INTERVAL",
    "BUSY_STATUSES",
    "FOCUS_ATTENTION",
    "FOCUS_INTERVAL",
    "FOLLOW_GIVE_UP",
    "FOLLOW_LIMIT",
    "FOLLOW_STEPS",
    "HALF_PERIOD_PROBES",
    "LOAD_REFERENCE_CYCLE",
    "LOCAL",
    "MAX_START_WINDOW",
    "MIN_MAX_AGE",
    "MIN_PERIOD",
    "MIN_STARTS",
    "MIN_START_SPREAD",
    "PHASE_MEMORY",
    "PIPELINE_BACKOFF_BASE",
    "PIPELINE_BACKOFF_CAP",
    "QUIET_STATUSES",
    "RHYTHM_MEMORY",
    "RUNNING_EARLY_INTERVAL",
    "RUNNING_FRACTION",
    "RUNNING_INTERVALS",
    "RUNNING_OVERDUE_INTERVAL",
    "RUN_STATUSES",
    "SCHEDULED_INTERVAL",
    "SCHEDULE_JITTER",
    "START_WINDOW_INTERVALS",
    "SWEEP_CREDIT_CAP",
    "SWEEP_MIN_GAP",
    "SWEEP_SHARE",
    "TROUBLE_FACTOR",
    "WINDOW_LOOKS",
    "Backoff",
    "Pick",
    "Rhythm",
    "Scheduler",
    "Tracked",
    "Window",
    "background_rate",
]
