"""The loop that asks: one status request at a time, the most urgent pipeline first.

The rate budget decides *when* a request may leave (the client asks it every time);
`schedule.Scheduler` decides *which* pipeline to ask and when each becomes due. The
poller glues them: it waits for the next due pipeline and the next budget slot, asks,
and turns every answer and every failure into an event (`kondado_tui.core.events`). It never
raises for an API failure and an unexpected exception does not end it either.

`step()` is one turn of the loop and returns when to take the next; `run()` repeats it,
sleeping on the injected clock but waking early when the user asks for something. The
freshness benchmark drives `step()` in virtual time, so it measures this very code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from kondado_tui.core.clock import Clock
from kondado_tui.core.errors import (
    ApiError,
    BadAnswer,
    FailureKind,
    RateLimited,
    Rejected,
    Unreachable,
)
from kondado_tui.core.events import (
    Connection,
    Health,
    HealthChanged,
    PipelineFailed,
    PollerEvent,
    Refusal,
    StatusObserved,
    refusal_of,
)
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.history.store import HistoryState
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import Observation, PipelineStatus, Priority
from kondado_tui.core.scheduling import LOCAL, RHYTHM_MEMORY, Backoff, Pick, Scheduler

log = logging.getLogger(__name__)

NETWORK_BACKOFF = (2.0, 120.0)  # base and cap: timeouts, refused, reset, 5xx
AUTH_BACKOFF = (300.0, 1800.0)  # credentials refused: someone has to fix the config
INTERNAL_BACKOFF = (1.0, 60.0)  # a bug of ours: keep going, slowly
BACKOFF_JITTER = 0.5  # many monitors behind one proxy must not retry in step
BAD_ANSWER_STREAK = 3  # unreadable answers in a row before blaming the connection
SLOT_SLACK = 0.02  # a slot this close is taken now (clock rounding)
PLAN_REUSE = 0.25  # a choice made this recently still stands (no user action since)
MAX_NAP = 30.0  # sleep in pieces: a suspended laptop's clock jumps
HISTORY_DAYS = 14.0  # of recorded transitions read at start-up to learn rhythms
STARTING_MESSAGE = "starting: no pipeline asked yet"
FROM_HISTORY_MESSAGE = (
    "starting: showing the last known states from history; none confirmed since start-up"
)
NO_PIPELINES_MESSAGE = "no pipelines configured: press a to add one, or `kondado-tui add ID`"


class PollBudget(Protocol):
    """What the poller needs of `budget.RateBudget` (the client holds the same object)."""

    @property
    def per_minute(self) -> int: ...

    @property
    def shared(self) -> bool: ...

    @property
    def note(self) -> str: ...

    @property
    def locked_until(self) -> float | None: ...

    def used_last_minute(self) -> int: ...

    def next_slot_at(self, priority: Priority = Priority.BACKGROUND) -> float: ...


class StatusClient(Protocol):
    """What the poller needs of `api.KondadoClient`."""

    async def get_status(
        self, pipeline_id: int, priority: Priority = Priority.BACKGROUND
    ) -> PipelineStatus: ...

    async def run(self, pipeline_id: int, priority: Priority = Priority.INTERACTIVE) -> str: ...

    async def duplicate(
        self, body: dict[str, Any], priority: Priority = Priority.INTERACTIVE
    ) -> int: ...


class HistoryLike(Protocol):
    """What the poller needs of `store.HistoryStore` (all blocking)."""

    def record(self, obs: Observation) -> bool: ...

    def last_observations(
        self, ids: Iterable[int] | None = None
    ) -> dict[int, tuple[Observation, float]]: ...

    def first_sightings(self, ids: Iterable[int] | None = None) -> set[int]: ...

    def transitions(
        self,
        pipeline_id: int | None = None,
        since: float | None = None,
        *,
        limit: int | None = None,
    ) -> list[Transition]: ...

    def record_refusal(
        self, pipeline_id: int, refusal: Refusal, message: str, at: float
    ) -> bool: ...

    def refusals(self, ids: Iterable[int] | None = None) -> Mapping[int, RefusalLike]: ...

    @property
    def state(self) -> HistoryState: ...


class RefusalLike(Protocol):
    """What the poller reads of `store.StoredRefusal`."""

    @property
    def refusal(self) -> Refusal: ...

    @property
    def message(self) -> str: ...

    @property
    def since(self) -> float: ...

    @property
    def last_at(self) -> float: ...


class Poller:
    def __init__(
        self,
        client: StatusClient,
        budget: PollBudget,
        clock: Clock,
        pipeline_ids: Iterable[int],
        on_event: Callable[[PollerEvent], None],
        store: HistoryLike | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._budget = budget
        self._clock = clock
        self._on_event = on_event
        self._store = store
        rng = rng or random.Random()
        self._scheduler = Scheduler(budget.per_minute, pipeline_ids, clock.now())
        self._observations: dict[int, Observation] = {}
        self._network = Backoff(*NETWORK_BACKOFF, jitter=BACKOFF_JITTER, rng=rng)
        self._auth = Backoff(*AUTH_BACKOFF, jitter=0.1, rng=rng)
        self._internal = Backoff(*INTERNAL_BACKOFF, jitter=BACKOFF_JITTER, rng=rng)
        self._bad_streak = 0
        self._bad_ids: set[int] = set()  # pipelines whose answers were unreadable, in a row
        # An auth-looking refusal is judged by asking a pipeline that worked: until then
        # it is a doubt, and the pipelines refused are suspects (pid -> refusal, when).
        self._doubt: Rejected | None = None
        self._suspects: dict[int, tuple[Rejected, float]] = {}
        self._retry_at: float | None = None  # global: nothing is asked before then
        # Pipelines the API refuses to describe: how, and since when (until one answers);
        # and the refusals history has not been told yet.
        self._refused: dict[int, tuple[Refusal, float]] = {}
        self._unstored: list[PipelineFailed] = []
        self._connection = Connection.STARTING
        self._message = STARTING_MESSAGE
        self._from_history: set[int] = set()  # seeded rows the API has not confirmed yet
        self._history: HistoryState | None = None  # as of the last write (or start-up)
        # Rows still in the status they were first seen in: their `since` is a lower bound.
        self._first_seen: set[int] = set()
        self._last_success_at: float | None = None
        self._next_poll_at: float | None = None
        self._paused = False
        self._started = False
        self._published: Health | None = None
        self._planned: tuple[float, Pick] | None = None  # (when, what) chosen to go next
        self._wake = asyncio.Event()

    # -- what front ends read ----------------------------------------------------------

    @property
    def health(self) -> Health:
        retry_at = self._retry_at
        if self._connection is Connection.RATE_LIMITED:
            retry_at = self._budget.locked_until or retry_at
        connection, message = self._connection, self._message
        count = len(self._scheduler.pipeline_ids)
        history = self._history
        if count == 0 and connection in (Connection.STARTING, Connection.OK):
            connection, message = Connection.STARTING, NO_PIPELINES_MESSAGE  # nothing to ask
        elif (
            connection is Connection.STARTING
            and message == STARTING_MESSAGE
            and (self._from_history)
        ):
            message = FROM_HISTORY_MESSAGE
        return Health(
            connection=connection,
            message=message,
            retry_at=retry_at,
            last_success_at=self._last_success_at,
            paused=self._paused,
            budget_per_minute=self._budget.per_minute,
            used_last_minute=self._budget.used_last_minute(),
            next_poll_at=None if self._paused else self._next_poll_at,
            max_age=self._scheduler.max_age,
            shared_ledger=self._budget.shared,
            ledger_note=self._budget.note,
            lowered_to=self._lowered_to(),
            share=getattr(self._budget, "sharing", None),
            pipelines=count,
            from_history=len(self._from_history),
            history_short=history.short if history else "",
            history_problem=history.problem if history else "",
            history_failing_since=history.failing_since if history else None,
        )

    def _lowered_to(self) -> int | None:
        """The rate allowed now, when lock-outs nobody here explains lowered it."""
        limit = getattr(self._budget, "limit_per_minute", None)
        if isinstance(limit, int) and limit < self._budget.per_minute:
            return limit
        return None

    @property
    def observations(self) -> dict[int, Observation]:
        return dict(self._observations)

    @property
    def max_age(self) -> float:
        """Every pipeline is asked at least this often while the API answers."""
        return self._scheduler.max_age

    @property
    def pipeline_ids(self) -> list[int]:
        return self._scheduler.pipeline_ids

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    # -- what the user asks for --------------------------------------------------------

    def set_pipelines(self, ids: Iterable[int]) -> None:
        self._scheduler.set_pipelines(ids, self._clock.now())
        kept = set(self._scheduler.pipeline_ids)
        self._observations = {p: o for p, o in self._observations.items() if p in kept}
        self._from_history &= kept
        self._refused = {p: r for p, r in self._refused.items() if p in kept}
        self._publish()
        self._replan()

    def focus(self, pipeline_id: int | None, *, pinned: bool = False, watcher: str = LOCAL) -> None:
        """The row under the cursor; `pinned`: its detail screen is open. It is asked
        every few seconds while it counts as interest: pinned, or within a few minutes
        of `user_active` (`Scheduler.focus`). Moving the cursor is not activity by itself.
        `watcher`: whose cursor (a collector's viewers each have theirs)."""
        self._scheduler.focus(pipeline_id, pinned=pinned, watcher=watcher)
        self._replan()

    def user_active(self, *, watcher: str = LOCAL) -> None:
        """Someone pressed a key or used the mouse just now. Cheap enough for every key:
        the loop is woken only when the selected row just became interesting again, and
        when the activity ends nothing fires (the plan ages it on the clock)."""
        if self._scheduler.user_active(self._clock.now(), watcher):
            self._replan()

    def forget_watcher(self, watcher: str) -> None:
        """A collector's viewer went: its cursor no longer counts."""
        self._scheduler.forget_watcher(watcher)
        self._replan()

    def hold(self, ids: Iterable[int]) -> None:
        """Ask these only when a person asks (`request_now`): every dashboard watching
        them paused, while others still want the rest of the list."""
        self._scheduler.hold(ids)
        self._replan()

    def adopt(self, known: Iterable[StatusObserved]) -> None:
        """What a collector that went away had told this process: its observations, as
        old as they are (their own times), so taking over asks again only what is due and
        history older than them is not shown over them. Before `start`."""
        listed = set(self._scheduler.pipeline_ids)
        for event in known:
            pid = event.pipeline_id
            if pid not in listed or pid in self._observations:
                continue
            observation = event.observation
            self._scheduler.seed(observation.status, observation.observed_at, event.since)
            self._observations[pid] = observation
            if event.since_first_seen:
                self._first_seen.add(pid)

    def request_now(self, pipeline_id: int) -> None:
        """A person asked for this pipeline: next, ahead of background polls (INTERACTIVE,
        the budget's reserve), and once even while paused or backing off."""
        self._scheduler.request_now(pipeline_id, self._clock.now(), Priority.INTERACTIVE)
        self._replan()

    def follow(self, pipeline_id: int) -> None:
        self._scheduler.follow(pipeline_id, self._clock.now())
        self._replan()

    def pause(self) -> None:
        self._paused = True
        self._publish()
        self._replan()

    def resume(self) -> None:
        """Poll again; a pending global retry (network, credentials) is tried right away."""
        self._paused = False
        self._retry_at = None
        self._publish()
        self._replan()

    async def run_pipeline(self, pipeline_id: int) -> str:
        """Queue a run (as the user, ahead of polls), then follow the pipeline closely.

        Raises the typed error to the caller, after noting what it says about the API.
        """
        try:
            answer = await self._client.run(pipeline_id, Priority.INTERACTIVE)
        except ApiError as exc:
            self._note_action_failure(exc)
            raise
        self._action_succeeded()
        self.follow(pipeline_id)
        self.request_now(pipeline_id)
        return answer

    async def duplicate(self, body: dict[str, Any]) -> int:
        """Create a pipeline from another; the new one is added to the list and followed."""
        try:
            new_id = await self._client.duplicate(body, Priority.INTERACTIVE)
        except ApiError as exc:
            self._note_action_failure(exc)
            raise
        self._action_succeeded()
        if new_id not in self._scheduler.pipeline_ids:
            self.set_pipelines([*self._scheduler.pipeline_ids, new_id])
        self.follow(new_id)
        self.request_now(new_id)
        return new_id

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled. Never raises for API failures."""
        while True:
            try:
                wake_at = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not end monitoring: report, back off
                wake_at = self._internal_error(exc)
            await self._sleep_until(wake_at)

    async def step(self) -> float:
        """One turn: ask the most urgent pipeline if it and the budget are ready.

        Returns the wall time to take the next turn (math.inf: only when woken).
        """
        await self.start()
        self._plan_with_share()
        now = self._clock.now()
        wake_at, pick = self._plan(now)
        if pick is not None:
            await self._ask(pick)
            now = self._clock.now()
            wake_at, _ = self._plan(now)  # kept for the next turn; also the health's next
        await self._store_refusals()
        self._internal.reset()
        self._publish()
        return wake_at

    def _plan(self, now: float) -> tuple[float, Pick | None]:
        """(when to take the next turn, the pipeline to ask now if one should go now)."""
        planned, self._planned = self._planned, None
        if planned is not None and abs(planned[0] - now) <= PLAN_REUSE:
            return now, planned[1]  # planned at the end of the last turn, nothing changed
        held = self._paused or (self._retry_at is not None and now < self._retry_at)
        # A person's explicit request still goes, once, while polling is held.
        pick, due = self._scheduler.plan(now, only=Priority.INTERACTIVE if held else None)
        if pick is None and self._paused:
            self._next_poll_at = None
            return math.inf, None
        if pick is None and self._retry_at is not None and now < self._retry_at:
            self._next_poll_at = self._retry_at
            return self._retry_at, None
        if pick is None:
            self._next_poll_at = due
            return (math.inf if due is None else due), None
        slot = self._budget.next_slot_at(pick.priority)
        if slot > now + SLOT_SLACK:
            self._next_poll_at = slot
            return slot, None  # look again then: something more urgent may have come up
        # it goes now, or waits its turn in the host broker's queue: say when it may
        estimate = getattr(self._budget, "slot_estimate", None)
        self._next_poll_at = max(now, estimate(pick.priority)) if estimate else now
        self._planned = (now, pick)
        return now, pick

    def _budget_changed(self) -> None:
        self._plan_with_share()
        self._publish()
        self._replan()

    def _plan_with_share(self) -> None:
        """Plan with what this process can expect of the budget: its share of the host's
        (other logins' dashboards take theirs) at the rate allowed now. `max_age` and the
        staleness marks stay honest when the budget is shared or lowered."""
        planning = getattr(self._budget, "planning_per_minute", None)
        if not isinstance(planning, (int, float)):
            return
        planning = round(float(planning), 1)
        if planning != self._scheduler.per_minute:
            self._scheduler.per_minute = planning
            self._planned = None

    def _replan(self) -> None:
        """Something the plan depends on changed: choose again, and now."""
        self._planned = None
        self._wake.set()

    async def _ask(self, pick: Pick) -> None:
        pid = pick.pipeline_id
        self._scheduler.asking(pid, pick.priority, self._clock.now())
        try:
            status = await self._yielding(self._client.get_status(pid, pick.priority), pick)
        except _SteppedAside:
            return  # a person asked for something more urgent first: it goes now
        except RateLimited as exc:
            self._rate_limited(exc)
        except Rejected as exc:
            if exc.auth:
                self._doubt_credentials(exc, pid, pick.priority)
            else:
                self._answered()
                self._pipeline_failed(pid, exc)
        except Unreachable as exc:
            self._unreachable(exc)
        except (BadAnswer, ApiError) as exc:
            self._pipeline_failed(pid, exc)
            self._bad_ids.add(pid)
            self._bad_streak += 1
            if self._bad_streak >= BAD_ANSWER_STREAK:
                now = self._clock.now()
                self._retry_at = self._network.fail(now)
                self._set_connection(
                    Connection.BAD_ANSWER,
                    f"the API's answers cannot be read: {exc.message}",
                )
        else:
            await self._observed(status)

    async def _yielding(self, request: Awaitable[PipelineStatus], pick: Pick) -> PipelineStatus:
        """Await an automatic request, stepping aside while it still waits for its slot
        when a person asks for something more urgent: the host's broker may make it wait
        for other logins' turns, and a key press must not queue behind it."""
        waiting = getattr(self._budget, "waiting", None)
        if pick.priority is Priority.INTERACTIVE or waiting is None:
            return await request
        task = asyncio.ensure_future(request)
        woken = False
        try:
            while True:
                waker = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({task, waker}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waker.cancel()
                if task.done():
                    return task.result()
                woken = True
                self._wake.clear()
                urgent = Priority(pick.priority.value - 1)
                more_urgent, _ = self._scheduler.plan(self._clock.now(), only=urgent)
                if more_urgent is not None and waiting(task):
                    task.cancel()  # no slot taken yet: nothing is lost
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    if task.cancelled():
                        raise _SteppedAside
                    return task.result()  # granted meanwhile: it went after all
        finally:
            if woken:
                self._wake.set()  # the step after this one plans anew
            if not task.done():
                task.cancel()

    async def _observed(self, status: PipelineStatus) -> None:
        pid = status.pipeline_id
        if pid not in self._scheduler.pipeline_ids:
            return  # removed from the list while we asked
        at = self._clock.now()
        observation = Observation(status, at)
        since = self._scheduler.observed(status, at)
        previous = self._observations.get(pid)
        if previous is None:
            self._first_seen.add(pid)
        elif since == at:
            self._first_seen.discard(pid)  # a change seen between two looks
        self._observations[pid] = observation
        self._from_history.discard(pid)
        self._refused.pop(pid, None)
        self._answered()
        self._credentials_work()
        self._last_success_at = at
        self._emit(
            StatusObserved(
                pid, observation, previous, since, since_first_seen=pid in self._first_seen
            )
        )
        store = self._store
        if store is not None:

            def write() -> HistoryState:
                store.record(observation)
                return store.state  # read in the same trip: never waits on the lock here

            try:
                self._history = await asyncio.to_thread(write)
            except Exception as exc:  # history is a convenience: monitoring goes on
                log.warning("history: could not record an observation: %s", _describe(exc))

    async def start(self) -> None:
        """Read history, once: `step` does it first unless the front end already did.

        A front end calls it before polling so the table opens on the last known states
        (emitted first, before any request), from the one read that also seeds what is
        asked first."""
        if self._started:
            return
        self._started = True
        watch = getattr(self._budget, "watch", None)
        if watch is not None:  # who shares the budget changed: say so, plan with it
            watch(self._budget_changed)
        await self._start()

    async def _start(self) -> None:
        """Seed what history knows, so the table opens on the last known (aged) state."""
        store = self._store
        if store is None:
            return
        ids = self._scheduler.pipeline_ids
        wanted = set(ids)

        def read() -> tuple[dict[int, tuple[Observation, float]], set[int], HistoryState]:
            return store.last_observations(ids), store.first_sightings(ids), store.state

        try:
            # One trip to a thread, not two: at start-up the loop is busy painting, and
            # each trip waits for its turn (the table's first states came that much later).
            seeds, first_seen, self._history = await asyncio.to_thread(read)
            self._first_seen |= first_seen
        except Exception as exc:
            log.warning("history: could not read the last observations: %s", _describe(exc))
            return
        for pid, (observation, since) in seeds.items():
            if pid in self._observations or pid not in wanted:
                continue
            self._scheduler.seed(observation.status, observation.observed_at, since)
            self._observations[pid] = observation
            self._from_history.add(pid)
            self._emit(
                StatusObserved(
                    pid, observation, None, since, since_first_seen=pid in self._first_seen
                )
            )
        self._publish()  # "from history" from the first paint, not after the first answer
        # The rhythms only change which pipeline is asked first: read after the states
        # are out, so they do not delay the first paint.
        since_when = self._clock.now() - HISTORY_DAYS * 86400.0
        for pid in ids:
            try:
                history = await asyncio.to_thread(
                    store.transitions, pid, since_when, limit=RHYTHM_MEMORY * 4
                )
            except Exception as exc:
                log.warning("history: could not read transitions: %s", _describe(exc))
                break
            self._scheduler.learn(pid, history)
        try:
            refused = await asyncio.to_thread(store.refusals, ids)
        except Exception as exc:
            log.warning("history: could not read the refusals: %s", _describe(exc))
            return
        for pid, stored in refused.items():
            if pid in self._refused or pid not in wanted:
                continue
            # Refused when last asked: say so (and since when) until it is asked again.
            self._refused[pid] = (stored.refusal, stored.since)
            self._emit(
                PipelineFailed(
                    pid,
                    FailureKind.REJECTED,
                    stored.message,
                    stored.last_at,
                    refusal=stored.refusal,
                    since=stored.since,
                )
            )

    # -- failures and health -----------------------------------------------------------

    def _answered(self) -> None:
        """The API answered in a way we understand: whatever was wrong globally is over."""
        self._network.reset()
        self._auth.reset()
        if self._connection is Connection.BAD_ANSWER:
            # The unreadable answers were the API's (a maintenance page), not those
            # pipelines': ask them again now instead of after their own backoff (up to
            # 15 minutes of stale rows once the API was fine again).
            now = self._clock.now()
            for pid in self._bad_ids:
                self._scheduler.request_now(pid, now, Priority.BACKGROUND)
        self._bad_ids.clear()
        self._bad_streak = 0
        self._retry_at = None
        self._set_connection(Connection.OK, "")

    def _action_succeeded(self) -> None:
        self._answered()
        self._credentials_work()
        self._publish()

    def _doubt_credentials(
        self, exc: Rejected, pid: int | None, priority: Priority = Priority.FOLLOW
    ) -> None:
        """A refusal that looks like wrong credentials may concern one pipeline only (a
        token that cannot see it, another account's pipeline). Unless the credentials
        already failed with nothing answered since, suspect the pipeline, hold it back
        alone and ask one that worked before: its answer decides (`_credentials_work`,
        or a second refusal in `_auth_refused`)."""
        if self._connection is Connection.REJECTED or self._doubt is not None:
            self._auth_refused(exc)  # refused twice with no answer between: the credentials
            return
        probe = self._scheduler.probe_candidate(exclude=() if pid is None else (pid,))
        if probe is None:
            self._auth_refused(exc)  # nothing else to ask
            return
        now = self._clock.now()
        self._doubt = exc
        if pid is not None:
            self._scheduler.failed(pid, now, exc.message)
            self._suspects[pid] = (exc, now)
        # a person's check is judged at once, even while paused; the rest as follow-ups
        urgent = Priority.INTERACTIVE if priority is Priority.INTERACTIVE else Priority.FOLLOW
        self._scheduler.request_now(probe, now, urgent)
        log.info(
            "pipeline %s refused (%s): checking the credentials with pipeline %d",
            pid if pid is not None else "action",
            exc.message,
            probe,
        )

    def _credentials_work(self) -> None:
        """Something answered with these credentials: the refusals in doubt were about
        those pipelines only. Each one backs off alone and its row says why."""
        self._doubt = None
        suspects, self._suspects = self._suspects, {}
        listed = set(self._scheduler.pipeline_ids)
        for pid, (exc, at) in suspects.items():
            if pid not in listed:
                continue
            refusal = refusal_of(exc, credentials_work=True) or Refusal.NO_ACCESS
            if refusal is Refusal.NOT_FOUND:
                what = f"pipeline {pid} does not exist for this token: check the ID"
            else:
                what = (
                    f"this token cannot see pipeline {pid}: check the ID, or the "
                    "token's access in the Kondado app"
                )
            message = (
                f"{exc.message} — other pipelines answer with the same key and token, so {what}"
            )
            log.info("pipeline %d: %s", pid, message)
            self._refuse(PipelineFailed(pid, exc.kind, message, at, refusal=refusal))

    def _pipeline_failed(self, pid: int, exc: ApiError) -> None:
        now = self._clock.now()
        self._scheduler.failed(pid, now, exc.message)
        log.info("pipeline %d: %s", pid, exc.message)
        refusal = refusal_of(exc)
        if refusal is None:
            self._emit(PipelineFailed(pid, exc.kind, exc.message, now))
        else:
            self._refuse(PipelineFailed(pid, exc.kind, exc.message, now, refusal=refusal))

    def _refuse(self, failure: PipelineFailed) -> None:
        """Tell front ends (with since when this refusal has lasted) and history."""
        pid, refusal = failure.pipeline_id, failure.refusal
        assert refusal is not None
        known = self._refused.get(pid)
        since = known[1] if known is not None and known[0] is refusal else failure.at
        self._refused[pid] = (refusal, since)
        failure = dataclasses.replace(failure, since=since)
        self._unstored.append(failure)
        self._emit(failure)

    async def _store_refusals(self) -> None:
        pending, self._unstored = self._unstored, []
        store = self._store
        if store is None or not pending:
            return

        def write() -> HistoryState:
            for failure in pending:
                assert failure.refusal is not None
                store.record_refusal(
                    failure.pipeline_id, failure.refusal, failure.message, failure.at
                )
            return store.state

        try:
            self._history = await asyncio.to_thread(write)
        except Exception as exc:  # history is a convenience: monitoring goes on
            log.warning("history: could not record a refusal: %s", _describe(exc))

    def _rate_limited(self, exc: RateLimited) -> None:
        now = self._clock.now()
        # The client already told the budget, which holds every request back until then.
        until = self._budget.locked_until or now + exc.retry_after
        self._retry_at = until
        self._set_connection(
            Connection.RATE_LIMITED,
            f"{exc.message} — nothing is sent until the lock-out ends "
            "(another program may be using the same key or IP)",
        )

    def _auth_refused(self, exc: Rejected) -> None:
        """The credentials were refused: wait, then try them with a pipeline that worked
        before (one that never worked says nothing about them)."""
        now = self._clock.now()
        for pid in self._suspects:
            self._scheduler.forgive(pid)  # not their fault after all
        self._suspects.clear()
        self._doubt = None
        self._retry_at = self._auth.fail(now)
        probe = self._scheduler.probe_candidate()
        if probe is not None:
            self._scheduler.request_now(probe, now, Priority.FOLLOW)
        self._set_connection(
            Connection.REJECTED,
            f"{exc.message} — check `key` and `token` in the configuration (a token can be "
            "deactivated in the Kondado app); polling waits, then tries again",
        )

    def _unreachable(self, exc: Unreachable) -> None:
        self._retry_at = self._network.fail(self._clock.now())
        self._set_connection(Connection.UNREACHABLE, exc.message)

    def _note_action_failure(self, exc: ApiError) -> None:
        """A run or duplicate failed: a transport, credential or rate problem is global."""
        if isinstance(exc, RateLimited):
            self._rate_limited(exc)
        elif isinstance(exc, Rejected) and exc.auth:
            self._doubt_credentials(exc, None, Priority.INTERACTIVE)
        elif isinstance(exc, Unreachable):
            self._unreachable(exc)
        else:
            return
        self._publish()
        self._replan()

    def _internal_error(self, exc: Exception) -> float:
        text = _describe(exc)
        log.error("poller: unexpected error, carrying on: %s", text)
        retry_at = self._internal.fail(self._clock.now())
        self._message = f"internal error in the poller ({text}); trying again"
        self._next_poll_at = retry_at
        try:
            self._publish()
        except Exception as again:
            log.error("poller: cannot report the error: %s", _describe(again))
        return retry_at

    def _set_connection(self, connection: Connection, message: str) -> None:
        if connection is not self._connection or message != self._message:
            level = logging.INFO if connection is Connection.OK else logging.WARNING
            log.log(level, "connection %s%s", connection.value, f": {message}" if message else "")
        self._connection = connection
        self._message = message

    def _publish(self) -> None:
        health = self.health
        if health != self._published:
            self._published = health
            self._emit(HealthChanged(health))

    def _emit(self, event: PollerEvent) -> None:
        try:
            self._on_event(event)
        except Exception as exc:  # a front end's bug must not stop the polling
            log.error("poller: an event listener failed: %s", _describe(exc))

    # -- sleeping ----------------------------------------------------------------------

    async def _sleep_until(self, when: float) -> None:
        """Sleep on the clock until `when`, or until a user action wakes the loop."""
        if self._wake.is_set():
            self._wake.clear()
            return
        delay = min(when - self._clock.now(), MAX_NAP)
        if delay <= 0:
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
        self._wake.clear()


class _SteppedAside(Exception):
    """An automatic request gave way, before its slot, to a person's request."""


def _describe(exc: BaseException) -> str:
    """An exception as one safe line: its type and its redacted message."""
    text = str(exc)
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


__all__ = ["HistoryLike", "PollBudget", "Poller", "RefusalLike", "StatusClient"]
