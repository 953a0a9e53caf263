"""The rate budget every kondado-tui process on a host shares, whatever its login.

The API counts 20 requests a minute per source IP: on a jump host every login's
dashboards and cron jobs spend one budget. Each process's `HostBudget` asks the host's
broker (`link`, `broker`, `arbiter`) for every slot, so they agree with no set-up at all.

What this process keeps for itself:

* a **mirror** of the host's last two minutes (every grant on its endpoint is broadcast,
  with the lock-outs and lowered rates): for `next_slot_at` and the status line, and so
  a broker that takes over starts from it;
* a **sanity floor**: never faster than 1 a second, never over its own
  `requests_per_minute` in any window, whatever a broker grants (a rogue broker that
  grants everything cannot make this process breach alone), and a grant that breaks the
  documented limits by the broker's own account ends trust in it;
* a **fallback** (`rate_budget.RateBudget` on the ledger): when no usable broker can be
  had (someone else holds the name and does not answer, answers garbage, withholds
  slots), the process limits itself alone, to a share that leaves room for others
  (`FALLBACK_PER_MINUTE`, or the configured rate with an `[api] ledger` a team shares),
  starting from the host's window as last seen, and says so in `note`. It tries the
  broker again now and then.

Threads: the link calls `link_up`/`link_message`/`link_down` on its own thread; the
event loop calls the rest. State is guarded by one lock; waiters on the event loop are
woken with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kondado_tui.core.budget.ledger import KEEP_SECONDS, LedgerState
from kondado_tui.core.budget.link import BrokerInfo, HostLink
from kondado_tui.core.budget.messages import (
    Cancel,
    Done,
    Granted,
    Hello,
    Limits,
    Lockout,
    Peers,
    SlotSeen,
    ToProcess,
    Want,
    Welcome,
    Window,
)
from kondado_tui.core.budget.policy import API_PER_MINUTE, MINUTE, BudgetPolicy
from kondado_tui.core.budget.rate_budget import RateBudget
from kondado_tui.core.budget.scope import BudgetScope
from kondado_tui.core.budget.throttle import Throttle
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.events import BudgetShare
from kondado_tui.core.models import Priority

log = logging.getLogger(__name__)

FALLBACK_PER_MINUTE = 6
"""Without a broker, a process on the default per-login ledger asks at most this often:
a third of the budget, so three logins in that state still stay within the limit."""
CONNECT_GRACE = 4.0
"""A request waits this long for the broker (at start, or while another takes over)
before this process limits itself alone for it."""
WITHHELD_AFTER = {Priority.INTERACTIVE: 20.0, Priority.FOLLOW: 60.0, Priority.BACKGROUND: 120.0}
"""A request the host's window had room for still waits this much longer: the broker
withholds slots (a squatter that answers but never grants)."""
WAIT_NOTICE = 2.0
"""A wait this long, while others were served, is worth telling a command's user."""
_RECHECK = 5.0  # a request told to give up on the broker waits this long for the news
_MIN_SLEEP = 0.005


class Mode(Enum):
    HOST = "host"  # slots from the host's broker
    WAITING = "waiting"  # for a broker: the first answer, or one taking over
    ALONE = "alone"  # no usable broker: this process limits itself (`note` says why)


@dataclass
class _Ticket:
    id: int
    priority: Priority
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[str]
    since: float
    sent: int = -1  # the link epoch it was sent in
    others_seen: int = 0  # slots granted to others while it waited


@dataclass
class _Mirror:
    slots: dict[int, tuple[float, bool]] = field(default_factory=dict)  # slot -> (at, on key)
    limits: Limits | None = None
    peers: Peers | None = None

    def prune(self, now: float) -> None:
        for slot in [s for s, (t, _) in self.slots.items() if t <= now - KEEP_SECONDS]:
            del self.slots[slot]

    def host_state(self) -> LedgerState:
        end = self.limits.lockout_end if self.limits else None
        return LedgerState(tuple(sorted(t for t, _ in self.slots.values())), end)

    def key_state(self) -> LedgerState:
        end = self.limits.lockout_end if self.limits else None
        return LedgerState(tuple(sorted(t for t, k in self.slots.values() if k)), end)


GRANTED, LOST = "granted", "lost"


class HostBudget:
    """Implements `api.RequestGate` (and what the poller and the UI read) for a process
    that shares the host's budget through the broker."""

    def __init__(
        self,
        per_minute: int,
        scope: BudgetScope,
        name: str,
        fallback: RateBudget,
        *,
        clock: Clock = SYSTEM_CLOCK,
        link_factory: Callable[..., HostLink] = HostLink,
    ) -> None:
        self._per_minute = max(1, min(API_PER_MINUTE, int(per_minute)))
        self._scope = scope
        self._clock = clock
        self._fallback = fallback
        self._floor = BudgetPolicy(
            per_minute=self._per_minute, spacing=1.0, window_margin=1.0, reserve=0, recovery=0.0
        )
        self._lock = threading.RLock()
        self._mirror = _Mirror()
        self._own: deque[float] = deque(maxlen=64)  # this process's grants (the floor)
        self._alone: deque[float] = deque(maxlen=64)  # requests sent while limiting alone
        self._own_lockout: float | None = None
        self._tickets: dict[int, _Ticket] = {}
        self._want_ids = itertools.count(1)
        self._epoch = 0
        self._queued: set[asyncio.Task[Any]] = set()
        self._in_flight: deque[tuple[int | None, float]] = deque(maxlen=64)
        self._mode_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._mode = Mode.WAITING
        self._why = ""
        self._broker: BrokerInfo | None = None
        self._notices: Callable[[str], None] | None = None
        self._watchers: list[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = []
        self._told_wait = False
        self._link = link_factory(name, self._hello, self)
        self._link.start()

    # -- what the poller, the UI and the commands read ------------------------------------

    @property
    def per_minute(self) -> int:
        """The rate agreed for this process's requests, before any lowering: its own
        `requests_per_minute`, or less when another process on its key asked for less
        (the smallest wins), never above the host's cap."""
        with self._lock:
            limits = self._mirror.limits
            if self._mode is Mode.ALONE:  # the share it keeps to, alone
                return min(self._per_minute, self._fallback.per_minute)
            if limits is None:
                return self._per_minute
            return min(self._per_minute, limits.configured())

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def limit_per_minute(self) -> int:
        now = self._clock.now()
        with self._lock:
            if self._mode is Mode.ALONE:
                return min(self._per_minute, self._fallback.limit_per_minute)
            limits = self._mirror.limits
            if limits is None:
                return self._per_minute
            return min(self._per_minute, limits.allowed(now))

    @property
    def shared(self) -> bool:
        return self._mode is not Mode.ALONE or self._fallback.shared

    @property
    def note(self) -> str:
        with self._lock:
            if self._mode is Mode.ALONE:
                return (
                    f"host budget unavailable ({self._why}): limiting this process to "
                    f"{self._fallback.limit_per_minute}/min"
                    + (
                        f", shared through {self._fallback.ledger_path}"
                        if self._fallback.ledger_path is not None and self._fallback.shared
                        else ""
                    )
                )
            peers = self._mirror.peers
            if self._mode is Mode.HOST and peers is not None:
                return f"rate budget shared by every kondado-tui on this host: {_people(peers)}"
            return "rate budget: looking for the host's broker"

    @property
    def sharing(self) -> BudgetShare:
        with self._lock:
            mode, peers = self._mode, self._mirror.peers
            if mode is Mode.ALONE:
                return BudgetShare(host_wide=False, why_alone=self._why)
            if peers is None or mode is not Mode.HOST:
                return BudgetShare(host_wide=True, serving=self._link.serving)
            return BudgetShare(
                host_wide=True,
                processes=peers.processes,
                logins=peers.logins,
                share=peers.share,
                serving=self._link.serving,
            )

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback` on the calling event loop whenever who shares the budget, its
        limits or this process's mode change (the poller publishes its health then)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._watchers.append((loop, callback))

    def _changed(self) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for loop, callback in watchers:
            with contextlib.suppress(RuntimeError):  # its loop is closed
                loop.call_soon_threadsafe(callback)

    @property
    def notices(self) -> Callable[[str], None] | None:
        """Told of a wait for a slot other processes held (once) and of each change to
        limiting alone (a one-shot command prints them); may be called on the link's
        thread. Set while already alone, it is told so at once."""
        return self._notices

    @notices.setter
    def notices(self, listener: Callable[[str], None] | None) -> None:
        self._notices = listener
        if listener is not None and self._mode is Mode.ALONE:
            listener(self.note)

    @property
    def warning(self) -> str:
        """What the user should be told about the budget ("" when all is well)."""
        return self.note if self._mode is Mode.ALONE else ""

    @property
    def planning_per_minute(self) -> float:
        """The rate this process's scheduler should plan with: its expected share of the
        automatic requests, plus the reserve for key presses (`BudgetPolicy.cap`)."""
        limit = self.limit_per_minute
        policy = BudgetPolicy(per_minute=limit)
        automatic = policy.cap(Priority.BACKGROUND)
        reserve = limit - automatic
        share = self.sharing.share
        return max(1.0, automatic * share + reserve)

    @property
    def locked_until(self) -> float | None:
        """When the lock-out ends: as the broker, this process or the ledger knows it (a
        process limiting itself alone records its lock-outs there)."""
        now = self._clock.now()
        ends = [self._own_lockout, self._fallback.locked_until]
        with self._lock:
            if self._mode is not Mode.ALONE and self._mirror.limits is not None:
                ends.append(self._mirror.limits.lockout_end)
        end = max((e for e in ends if e is not None), default=None)
        return end if end is not None and end > now else None

    @property
    def recovering(self) -> bool:
        now = self._clock.now()
        with self._lock:
            if self._mode is Mode.ALONE:
                return self._fallback.recovering
            return BudgetPolicy().recovering_at(self._mirror.host_state(), now)

    def used_last_minute(self) -> int:
        now = self._clock.now()
        with self._lock:
            if self._mode is Mode.ALONE:
                return self._fallback.used_last_minute()
            return sum(1 for t, _ in self._mirror.slots.values() if t > now - MINUTE)

    def next_slot_at(self, priority: Priority = Priority.BACKGROUND) -> float:
        """When a request of `priority` should be asked for: at once, unless a lock-out
        runs or this process's own floor holds it.

        Not the host window's next free slot: the broker serves the requests waiting in
        its queue, in turns, and a process that waits outside for its own estimate finds
        the slot taken, every time, by one that queued (measured: a key press waited 20 s
        behind another login's polling). So the poller joins the queue and waits there,
        stepping aside while it waits if a person asks for something (`waiting`).
        `slot_estimate` is the host window's answer, for display."""
        now = self._clock.now()
        floor = self._floor.earliest(self._own_state(), priority, now)
        with self._lock:
            if self._mode is Mode.ALONE:
                return max(floor, self._fallback.next_slot_at(priority))
            return max(floor, self.locked_until or now)

    def slot_estimate(self, priority: Priority = Priority.BACKGROUND) -> float:
        """When the host's window would next let a request of `priority` go, ignoring
        whose turn it is (for a command's progress line)."""
        now = self._clock.now()
        with self._lock:
            if self._mode is not Mode.HOST:
                return self.next_slot_at(priority)
            return max(self.next_slot_at(priority), self._estimate(priority, now))

    def waiting(self, task: asyncio.Task[Any]) -> bool:
        """`task` waits in `acquire` for a slot not granted yet (cancelling takes none)."""
        return task in self._queued

    # -- the RequestGate ------------------------------------------------------------------

    async def acquire(self, priority: Priority = Priority.BACKGROUND) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._queued.add(task)
        try:
            want_id = await self._get_slot(priority)
        finally:
            if task is not None:
                self._queued.discard(task)
        await self._obey_floor(priority)  # a broker granting too fast: hold it here
        now = self._clock.now()
        self._own.append(now)
        self._in_flight.append((want_id, now))

    async def _get_slot(self, priority: Priority) -> int | None:
        """Wait for a slot: the broker's (its want id), or the fallback's (None)."""
        grace_until: float | None = None
        while True:
            mode = self._mode
            if mode is Mode.ALONE or (
                mode is Mode.WAITING
                and grace_until is not None
                and self._clock.now() >= grace_until
            ):
                await self._sleep_until(self._own_lockout)
                await self._obey_floor(priority)
                await self._fallback.acquire(priority)
                self._alone.append(self._clock.now())
                return None
            if mode is Mode.WAITING:
                if grace_until is None:
                    grace_until = self._clock.now() + CONNECT_GRACE
                await self._mode_change(grace_until - self._clock.now())
                continue
            await self._hold_off(priority)
            if self._mode is not Mode.HOST:
                continue
            ticket = self._submit(priority)
            try:
                outcome = await self._await_grant(ticket)
            except asyncio.CancelledError:
                self._withdraw(ticket)
                raise
            if outcome == GRANTED:
                self._notice_wait(ticket)
                self._fallback.record_sent(priority)  # this login's ledger counts it too
                return ticket.id

    def request_done(self) -> None:
        now = self._clock.now()
        if not self._in_flight:
            return
        want_id, granted = self._in_flight.popleft()
        if granted in self._own:  # the floor counts it from the answer too
            self._own.remove(granted)
            self._own.append(max(now, granted))
        if want_id is None:
            self._fallback.request_done()
        elif self._mode is Mode.HOST:
            self._link.send(Done(want_id))

    def report_rate_limited(self, wait: float) -> None:
        """Tell the host's broker (every process on the host holds back) and the ledger
        (processes limiting themselves alone read it)."""
        now = self._clock.now()
        until = now + max(0.0, wait)
        self._own_lockout = max(until, self._own_lockout or until)
        if self._mode is Mode.HOST:
            self._link.send(Lockout(wait))
        self._fallback.report_rate_limited(wait)
        self._wake_all()

    def close(self) -> None:
        self._link.close()
        self._fallback.close()

    # -- the link's calls (its thread) ----------------------------------------------------

    def link_up(self, welcome: Welcome, broker: BrokerInfo) -> None:
        with self._lock:
            self._epoch += 1
            self._mirror = _Mirror(
                {s.slot: (s.at, s.on_key) for s in welcome.slots}, welcome.limits, welcome.peers
            )
            self._broker = broker
            self._mode, self._why = Mode.HOST, ""
            pending = [t for t in self._tickets.values() if not t.future.done()]
            for ticket in pending:
                ticket.sent = self._epoch
                self._link.send(Want(ticket.id, ticket.priority))
        log.info("rate budget shared through the host's broker (pid %d)", broker.pid)
        self._wake_all()
        self._changed()

    def link_message(self, message: ToProcess) -> None:
        now = self._clock.now()
        with self._lock:
            mirror = self._mirror
            mirror.prune(now)
            match message:
                case Granted(id, slot, at):
                    trouble = self._grant_breaks_limits(at)
                    mirror.slots[slot] = (at, True)
                    ticket = self._tickets.get(id)
                    if trouble:
                        self._link.abandon(trouble)
                    elif ticket is not None:
                        self._resolve(ticket, GRANTED)
                case SlotSeen(slot, at, on_key):
                    if slot not in mirror.slots:
                        for ticket in self._tickets.values():
                            ticket.others_seen += 1
                    mirror.slots[slot] = (at, on_key)
                case Limits():
                    mirror.limits = message
                    self._wake_all()
                    self._changed()
                case Peers():
                    mirror.peers = message
                    self._changed()

    def link_down(self, why: str, *, usable: bool) -> None:
        with self._lock:
            newly_alone = not usable and self._mode is not Mode.ALONE
            self._mode = Mode.WAITING if usable else Mode.ALONE
            self._why = why
            if not usable:  # limit alone from where the host was
                limits = self._mirror.limits
                seen = self._mirror.host_state()
                ends = [e for e in (seen.lockout_end, self._own_lockout) if e is not None]
                self._fallback.seed(
                    LedgerState(seen.stamps, max(ends) if ends else None),
                    limits.key_throttle if limits else None,
                )
            for ticket in list(self._tickets.values()):
                self._resolve(ticket, LOST)
        self._wake_all()
        self._changed()
        notices = self.notices
        if newly_alone and notices is not None:
            notices(self.note)

    # -- internals ------------------------------------------------------------------------

    def _hello(self) -> Hello:
        """What this process saw of the host, for the broker it connects to (on the
        link's thread)."""
        now = self._clock.now()
        with self._lock:
            self._mirror.prune(now)
            stamps = [t for t, _ in self._mirror.slots.values()]
            key_stamps = [t for t, k in self._mirror.slots.values() if k]
            alone = [t for t in self._alone if t > now - KEEP_SECONDS]
            limits = self._mirror.limits
            ends = [e for e in (self._own_lockout, limits and limits.lockout_end) if e]
            window = Window(
                stamps=tuple(sorted({*stamps, *alone})),
                key_stamps=tuple(sorted({*key_stamps, *alone})),
                lockout_end=max(ends) if ends else None,
                host_throttle=limits.host_throttle if limits else Throttle(),
                key_throttle=(limits.key_throttle if limits else Throttle()).stricter(
                    self._fallback.throttle, self._per_minute, now
                ),
            )
        return Hello(self._scope.host, self._scope.key, self._per_minute, window)

    def _own_state(self) -> LedgerState:
        return LedgerState(tuple(sorted(self._own)))

    def _estimate(self, priority: Priority, now: float) -> float:
        """The earliest the broker could grant, by the mirror (the lock held)."""
        mirror = self._mirror
        limits = mirror.limits
        rate = self._per_minute
        host_rate = limits.host_throttle.allowed(limits.host_per_minute, now) if limits else rate
        key_rate = limits.key_throttle.allowed(limits.key_per_minute, now) if limits else rate
        when = max(
            BudgetPolicy(per_minute=host_rate).earliest(mirror.host_state(), priority, now),
            BudgetPolicy(per_minute=key_rate).earliest(mirror.key_state(), priority, now),
        )
        return max(when, self._own_lockout or now)

    def _grant_breaks_limits(self, at: float) -> str:
        """A grant the broker's own broadcasts say breaks the documented limits ("" if
        none): it cannot be trusted to count."""
        recent = [t for t, _ in self._mirror.slots.values() if at - MINUTE < t <= at]
        if len(recent) >= API_PER_MINUTE:
            return "the broker granted more than the API allows in a minute"
        if any(abs(at - t) < 1.0 - 1e-6 for t in recent):
            return "the broker granted two requests within a second"
        return ""

    async def _hold_off(self, priority: Priority) -> None:
        """Wait out a lock-out we know of and our own floor before asking the broker."""
        while self._mode is Mode.HOST:
            now = self._clock.now()
            lockout = self.locked_until or now
            when = max(lockout, self._floor.earliest(self._own_state(), priority, now))
            if when <= now + _MIN_SLEEP:
                return
            await self._clock.sleep(min(when - now, 5.0))

    async def _sleep_until(self, when: float | None) -> None:
        while when is not None and (left := when - self._clock.now()) > 0:
            await self._clock.sleep(min(left, 5.0))

    async def _obey_floor(self, priority: Priority) -> None:
        while True:
            now = self._clock.now()
            when = self._floor.earliest(self._own_state(), priority, now)
            if when <= now + 1e-6:
                return
            await self._clock.sleep(max(_MIN_SLEEP, when - now))

    def _submit(self, priority: Priority) -> _Ticket:
        loop = asyncio.get_running_loop()
        now = self._clock.now()
        ticket = _Ticket(next(self._want_ids), priority, loop, loop.create_future(), now)
        with self._lock:
            self._tickets[ticket.id] = ticket
            ticket.sent = self._epoch
            if not self._link.send(Want(ticket.id, priority)):
                self._resolve(ticket, LOST)
        return ticket

    async def _await_grant(self, ticket: _Ticket) -> str:
        """Wait for the broker's answer, looking (only when it would matter) whether it
        withholds the slot: no wake-up a second while a request waits its turn."""
        try:
            while True:
                why, check_in = self._withheld(ticket)
                if why:
                    self._link.abandon(why)  # its link_down resolves the ticket
                done, _ = await asyncio.wait({ticket.future}, timeout=check_in)
                if done:
                    return ticket.future.result()
        finally:
            with self._lock:
                self._tickets.pop(ticket.id, None)

    def _withheld(self, ticket: _Ticket) -> tuple[str, float]:
        """Has the broker kept this request waiting far longer than the host's window
        explains? (why, or ""; and in how many seconds to look again)"""
        now = self._clock.now()
        with self._lock:
            could = self._estimate(ticket.priority, max(ticket.since, now - 600.0))
        deadline = max(could, ticket.since) + WITHHELD_AFTER[ticket.priority]
        if now > deadline:
            return "the broker withholds slots", _RECHECK
        return "", max(_RECHECK / 5, deadline - now + 0.01)

    def _withdraw(self, ticket: _Ticket) -> None:
        with self._lock:
            self._tickets.pop(ticket.id, None)
            if self._mode is Mode.HOST and ticket.sent == self._epoch:
                self._link.send(Cancel(ticket.id))

    def _resolve(self, ticket: _Ticket, outcome: str) -> None:
        def settle() -> None:
            if not ticket.future.done():
                ticket.future.set_result(outcome)

        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
            ticket.loop.call_soon_threadsafe(settle)

    async def _mode_change(self, timeout: float) -> None:
        if timeout <= 0:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._mode_waiters.append((loop, future))
        try:
            await asyncio.wait({future}, timeout=timeout)
        finally:
            with self._lock:
                if (loop, future) in self._mode_waiters:
                    self._mode_waiters.remove((loop, future))

    def _wake_all(self) -> None:
        with self._lock:
            waiters, self._mode_waiters = self._mode_waiters, []
        for loop, future in waiters:

            def settle(f: asyncio.Future[None] = future) -> None:
                if not f.done():
                    f.set_result(None)

            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle)

    def _notice_wait(self, ticket: _Ticket) -> None:
        notices = self.notices
        waited = self._clock.now() - ticket.since
        if notices is None or self._told_wait or waited < WAIT_NOTICE or not ticket.others_seen:
            return
        self._told_wait = True
        peers = self._mirror.peers
        who = _people(peers) if peers is not None else "other processes"
        notices(
            f"waited {waited:.0f} s for a request slot other kondado-tui processes on this "
            f"host held ({who})"
        )


def _people(peers: Peers) -> str:
    if peers.processes <= 1:
        return "no other process right now"
    logins = "1 login" if peers.logins == 1 else f"{peers.logins} logins"
    return f"{peers.processes} processes of {logins}; this one's share about {peers.share:.0%}"


__all__ = ["FALLBACK_PER_MINUTE", "HostBudget", "Mode"]
