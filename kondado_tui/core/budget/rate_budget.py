"""The client-side rate budget: every request asks it first (`api.RequestGate`).

Kondado allows 1 request per second and 20 per minute, per key and per source IP,
counted on arrival; a breach blinds the monitor for 60 s. So the budget keeps, together:

* spacing: at least `spacing` seconds (default 1.25: 1 s plus room for network jitter)
  between any two requests;
* a rolling window: at most `per_minute` (default 18, never above 20) requests in any
  `60 + window_margin` seconds (the server's window and ours do not start together);
* priority: automatic traffic (background polls, follow-ups of a run) may fill only
  `per_minute - reserve` of the window, so `reserve` key presses per window find a slot
  within one spacing however busy the rest is; waiters are served interactive first,
  then follow-ups, then background, first come first served within a priority;
* lock-out: after `report_rate_limited(wait)` nothing leaves until `now + wait`, then
  `recovery` seconds at half rate (half the window, twice the spacing).

A slot is recorded when it is granted, but the request reaches the API later: after a
busy event loop lets it go, or after a new connection's TCP and TLS handshakes (the
first request after a pause, a retry or an idle spell), while the next one may reuse a
warm connection and arrive at once. So the client calls `request_done()` when the
answer (or the failure) is in: the record moves to that time, by which the request has
surely arrived, and the spacing counts from there. Moving a record later only ever
makes the budget stricter.

The records live in a ledger (`kondado_tui.core.budget.ledger`): a small sqlite file shared by every
kondado-tui process on the host, or this process's memory when no file is given or the
file is unusable (`shared` is then False and `note` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kondado_tui.core.budget.ledger import (
    MAX_LOCKOUT_SECONDS,
    Ledger,
    LedgerBusy,
    LedgerState,
    LedgerUnavailable,
    MemoryLedger,
    SqliteLedger,
)
from kondado_tui.core.budget.policy import (
    API_PER_MINUTE,
    MINUTE,
    BudgetPolicy,
    explains_lockout,
)
from kondado_tui.core.budget.throttle import Throttle, extra_backoff, used_last_minute
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.models import Priority

log = logging.getLogger(__name__)

BUSY_RETRY = 0.05
"""How soon to ask a busy ledger again."""
BUSY_LIMIT = 5.0
"""A ledger locked by others this long is given up on (in-process counting instead)."""
MAX_NAP = 5.0
SAME_LOCKOUT = 5.0
"""A lock-out told within this of the last one's end is the same one, told again."""
_TOLERANCE = 1e-6  # float rounding of virtual-time sleeps must not cost a whole retry
_MIN_SLEEP = 0.005


@dataclass
class _Waiter:
    priority: int
    seq: int
    task: asyncio.Task[Any] | None = None

    @property
    def rank(self) -> tuple[int, int]:
        return (self.priority, self.seq)


class RateBudget:
    """Implements `api.RequestGate`; one per process, shared by every request it sends."""

    def __init__(
        self,
        per_minute: int = 18,
        clock: Clock = SYSTEM_CLOCK,
        ledger_path: Path | None = None,
        *,
        spacing: float = 1.25,
        window_margin: float = 1.0,
        reserve: int = 2,
        recovery: float = 60.0,
        adaptive: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        """`adaptive`: a lock-out this process's records do not explain (someone else
        spent the budget) lowers the rate and lasts longer (`throttle.Throttle`); the
        lowered rate is this process's own, not shared through the ledger."""
        self.policy = BudgetPolicy(
            per_minute=max(1, min(API_PER_MINUTE, int(per_minute))),
            spacing=max(1.0, spacing),
            window_margin=max(0.0, window_margin),
            reserve=max(0, reserve),
            recovery=max(0.0, recovery),
        )
        self._clock = clock
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._own_lockout: float | None = None  # kept even if the ledger write fails
        self._last_state = LedgerState()
        self._busy_since: float | None = None
        # grant times of requests not yet answered (bounded: a caller may never say)
        self._in_flight: deque[float] = deque(maxlen=64)
        self._done_at: float | None = None  # our latest answer: the spacing counts from it
        self._adaptive = adaptive
        self._rng = rng or random.Random()
        self._throttle = Throttle()
        self._seen = LedgerState()  # others' requests known from elsewhere (`seed`)
        self.ledger_path = ledger_path
        self._ledger: Ledger
        if ledger_path is None:
            self._ledger = MemoryLedger()
            self.note = "no shared rate ledger: counting this process's requests only"
            return
        try:
            self._ledger = SqliteLedger(ledger_path)
        except LedgerUnavailable as exc:
            self._ledger = MemoryLedger()
            self.note = _fallback_note(ledger_path, str(exc))
            log.warning("%s", self.note)
        else:
            self.note = f"rate budget shared by kondado-tui processes through {ledger_path}"

    # -- what the UI and the status command show -----------------------------------------

    @property
    def per_minute(self) -> int:
        """The configured rate (the scheduler plans with it)."""
        return self.policy.per_minute

    @property
    def limit_per_minute(self) -> int:
        """The rate allowed now: lower than `per_minute` after lock-outs nobody here
        explains, climbing back gradually."""
        return self._throttle.allowed(self.policy.per_minute, self._clock.now())

    @property
    def planning_per_minute(self) -> float:
        """The rate the scheduler should plan with: the one allowed now."""
        return float(self.limit_per_minute)

    @property
    def warning(self) -> str:
        """What the user should be told about the budget ("" when all is well)."""
        return "" if self.shared else self.note

    @property
    def throttle(self) -> Throttle:
        return self._throttle

    def waiting(self, task: asyncio.Task[Any]) -> bool:
        """`task` waits in `acquire` for a slot it has not been given (cancelling it now
        takes no slot)."""
        return any(w.task is task for w in self._waiters)

    def record_sent(self, priority: Priority = Priority.BACKGROUND) -> None:
        """A request left through another gate (the host's broker): record it in the
        ledger all the same, so this login's processes that must limit themselves alone
        later still count it. Never waits; a busy or broken ledger skips it."""
        now = self._clock.now()
        with contextlib.suppress(LedgerBusy, LedgerUnavailable):
            self._ledger.take(now, priority.value, lambda state: -math.inf)

    def seed(self, seen: LedgerState, throttle: Throttle | None = None) -> None:
        """Count requests other processes were seen to send (the host broker's window,
        when this process has to limit itself alone) and start from their throttle."""
        self._seen = seen  # (may be called on another thread: no waiter is woken, and
        if throttle is not None:  # none needs to be: this only ever makes them wait longer)
            now = self._clock.now()
            self._throttle = self._throttle.stricter(throttle, self.policy.per_minute, now)

    @property
    def shared(self) -> bool:
        return self._ledger.shared

    @property
    def locked_until(self) -> float | None:
        """When the current lock-out ends (wall seconds), or None when not locked out."""
        now = self._clock.now()
        end = self._state(now).lockout_end
        return end if end is not None and end > now else None

    @property
    def recovering(self) -> bool:
        """True in the minute after a lock-out, while the budget runs at half rate."""
        now = self._clock.now()
        return self._policy(now).recovering_at(self._state(now), now)

    def used_last_minute(self) -> int:
        """Requests every sharing process sent in the last 60 s."""
        now = self._clock.now()
        return sum(1 for t in self._state(now).stamps if t > now - MINUTE)

    def next_slot_at(self, priority: Priority = Priority.BACKGROUND) -> float:
        """When a request of `priority` could leave (wall seconds; `now` if right away).

        It counts every sharing process's requests and any lock-out, not this process's
        own queue of waiters (those of higher priority go first)."""
        now = self._clock.now()
        return self._policy(now).earliest(self._state(now), priority, now)

    def slot_estimate(self, priority: Priority = Priority.BACKGROUND) -> float:
        """The same as `next_slot_at` here (`HostBudget` tells them apart)."""
        return self.next_slot_at(priority)

    # -- the RequestGate ---------------------------------------------------------------

    async def acquire(self, priority: Priority = Priority.BACKGROUND) -> None:
        """Wait for a slot and record it in the ledger. Cancelling it takes no slot."""
        waiter = _Waiter(priority.value, next(self._seq), asyncio.current_task())
        self._waiters.append(waiter)
        try:
            while True:
                if self._head() is waiter:
                    delay = self._try_take(priority)
                    if delay is None:
                        return
                    # Only the head sleeps on the clock, so virtual time moves once; in
                    # naps, so a suspended laptop's jumped wall clock is noticed soon.
                    await self._clock.sleep(min(delay, MAX_NAP))
                else:
                    await self._changed.wait()
        finally:
            self._waiters.remove(waiter)
            self._notify()

    def request_done(self) -> None:
        """A request's answer (or failure) is in: it has arrived by now, whenever it left.

        Moves the record of the oldest request in flight to now (any one will do: every
        record only moves later), so the next slot is at least `spacing` after it."""
        now = self._clock.now()
        self._done_at = max(now, self._done_at or now)
        if not self._in_flight:
            return
        granted = self._in_flight.popleft()
        if now <= granted:
            return
        try:
            self._ledger.move(granted, now)
        except LedgerBusy:
            pass  # `_done_at` still holds here; other processes keep the grant time
        except LedgerUnavailable as exc:
            self._fall_back(str(exc))
        self._notify()

    def report_rate_limited(self, wait: float) -> None:
        """The API said RATE_LIMIT_EXCEEDED: nothing leaves, from any process, until then."""
        now = self._clock.now()
        until = now + max(0.0, min(wait, MAX_LOCKOUT_SECONDS))
        if self._adaptive:
            until = self._stranger(now, until)
        self._own_lockout = max(until, self._own_lockout or until)
        try:
            self._ledger.lock(now, until)
        except LedgerBusy:
            pass  # our own lock-out still holds here; others learn of it from the API
        except LedgerUnavailable as exc:
            self._fall_back(str(exc))
        log.warning("rate limited by the API: no request until %.0f s from now", until - now)
        self._notify()

    def close(self) -> None:
        self._ledger.close()

    def _stranger(self, now: float, until: float) -> float:
        """A lock-out our records do not explain: lower the rate, stay silent longer."""
        state = self._state(now)
        end = state.lockout_end
        if end is not None and now <= end + SAME_LOCKOUT:
            return until  # the same lock-out, told again by another request
        if explains_lockout(state.stamps, now):
            return until
        used = used_last_minute(state.stamps, now)
        self._throttle = self._throttle.lowered(self.policy.per_minute, used, now, self._rng)
        return until + extra_backoff(self._rng)

    def _policy(self, now: float) -> BudgetPolicy:
        allowed = self._throttle.allowed(self.policy.per_minute, now)
        return (
            self.policy
            if allowed == self.policy.per_minute
            else replace(self.policy, per_minute=allowed)
        )

    # -- internals ---------------------------------------------------------------------

    def _head(self) -> _Waiter:
        return min(self._waiters, key=lambda w: w.rank)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _merged(self, state: LedgerState) -> LedgerState:
        done = self._done_at
        if done is not None and state.stamps and state.stamps[-1] < done:
            # our latest answer came after the latest record: count the spacing from it
            # (the record moves later; none is added, so the window count is the same)
            state = replace(state, stamps=(*state.stamps[:-1], done))
        seen = self._seen
        if seen.stamps or seen.lockout_end is not None:
            stamps = tuple(sorted({*state.stamps, *seen.stamps}))
            ends = [e for e in (state.lockout_end, seen.lockout_end) if e is not None]
            state = LedgerState(stamps, max(ends) if ends else None)
        own = self._own_lockout
        if own is None or (state.lockout_end is not None and state.lockout_end >= own):
            return state
        return replace(state, lockout_end=own)

    def _state(self, now: float) -> LedgerState:
        try:
            self._last_state = self._ledger.read(now)
        except LedgerBusy:
            pass
        except LedgerUnavailable as exc:
            self._fall_back(str(exc))
            self._last_state = self._ledger.read(now)
        return self._merged(self._last_state)

    def _try_take(self, priority: Priority) -> float | None:
        """Record a request now if the budget allows; else how long to wait first."""
        now = self._clock.now()

        policy = self._policy(now)

        def decide(state: LedgerState) -> float:
            return policy.earliest(self._merged(state), priority, now) - _TOLERANCE

        try:
            granted, state = self._ledger.take(now, priority.value, decide)
        except LedgerBusy:
            if self._busy_since is None:
                self._busy_since = now
            elif now - self._busy_since > BUSY_LIMIT:
                self._fall_back(f"other processes kept it locked for over {BUSY_LIMIT:g} s")
                return 0.0
            return BUSY_RETRY
        except LedgerUnavailable as exc:
            self._fall_back(str(exc))
            return 0.0
        self._busy_since = None
        if granted:
            self._last_state = replace(state, stamps=(*state.stamps, now))
            self._in_flight.append(now)
            self._notify()
            return None
        self._last_state = state
        return max(_MIN_SLEEP, decide(state) + _TOLERANCE - now)

    def _fall_back(self, why: str) -> None:
        if not self._ledger.shared:
            return
        old = self._ledger
        self._ledger = MemoryLedger(self._last_state)  # what we saw last still counts
        self.note = _fallback_note(self.ledger_path, why)
        log.warning("%s", self.note)
        try:
            old.close()
        except Exception:  # closing a broken ledger must not hide the fallback
            log.debug("closing the rate ledger failed", exc_info=True)


def _fallback_note(path: Path | None, why: str) -> str:
    return (
        f"shared rate ledger {path} is unusable ({why}): counting this process's requests "
        "only, other kondado-tui processes on this host are not seen"
    )


__all__ = ["API_PER_MINUTE", "BudgetPolicy", "RateBudget"]
