"""The host broker's decisions: who gets the next request slot, and when (pure logic).

Every kondado-tui process on a host asks the broker before each request (`broker`: the
socket around this class). The arbiter keeps two kinds of bucket and grants a slot only
when both of the request's buckets allow it (`BudgetPolicy.earliest`, the same window
arithmetic as a lone process):

* the **host's**, per API endpoint: at most `HOST_PER_MINUTE` (the documented 20 less a
  margin) a minute and 1.25 s apart, whatever the key, since the API counts per source
  IP; a lock-out holds every request to that endpoint;
* the **key's**, per key id: the smallest `requests_per_minute` of the processes using
  the key (the one who asked for least is obeyed).

Who goes first, among the requests both buckets allow:

1. key presses (`INTERACTIVE`), then follow-ups of a run, then background polling;
   automatic traffic leaves the policy's reserve free, so a key press from any login
   finds a slot within about a spacing;
2. within a priority, round-robin by user (the kernel-verified uid), then by process
   within a user: one login's dashboard of 200 pipelines gets as many background slots
   as another's of 5, and three panes of one login share that login's turn.

A lock-out nobody here explains (`throttle`) lowers the rate of the key (and of the
endpoint when several keys are in use), with a memory of where it came.

Time is passed in (`now`); randomness comes from the injected `rng`. Events out are
`(peer id, message)` pairs for the socket layer to send.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from kondado_tui.core.budget.ledger import KEEP_SECONDS, MAX_LOCKOUT_SECONDS, LedgerState
from kondado_tui.core.budget.messages import (
    Granted,
    Hello,
    Limits,
    Peers,
    SlotSeen,
    ToProcess,
    Welcome,
)
from kondado_tui.core.budget.policy import MINUTE, BudgetPolicy, explains_lockout
from kondado_tui.core.budget.throttle import Throttle, extra_backoff, used_last_minute
from kondado_tui.core.models import Priority

HOST_PER_MINUTE = 18
"""The host's cap per endpoint: the documented 20 less a margin (clocks, a stray curl)."""
SETTLE = 1.5
"""A new broker grants nothing for this long: the processes that were waiting on the
one before reconnect and bring what they saw, and the last grant of the old broker is
at least a spacing behind."""
ACTIVE_FOR = MINUTE
"""A process that asked for a background slot this recently counts for the shares."""
MAX_WANTS = 8
"""Requests one process may have waiting at once (a poller has one; a few key presses)."""
SAME_LOCKOUT = 5.0
"""A lock-out told within this of the last one's end is the same one, told again."""
MAX_SLOTS = 64
"""Requests remembered per bucket (two minutes at the API's limit is 40)."""
MAX_BUCKETS = 256
"""Endpoints or keys remembered with no process using them (their lowered rates)."""
TOLERANCE = 1e-6
Out = tuple[int, ToProcess]


class TooManyWants(Exception):
    """A process asked for more slots at once than any honest one does."""


@dataclass
class Bucket:
    """One budget: slot id -> (time, key id) of recent grants, a lock-out, a throttle."""

    slots: dict[int, tuple[float, str]] = field(default_factory=dict)
    lockout_end: float | None = None
    throttle: Throttle = field(default_factory=Throttle)

    def state(self, lockout_end: float | None = None) -> LedgerState:
        end = self.lockout_end if lockout_end is None else lockout_end
        return LedgerState(tuple(sorted(t for t, _ in self.slots.values())), end)

    def add(self, slot: int, at: float, key: str) -> None:
        self.slots[slot] = (at, key)
        if len(self.slots) > MAX_SLOTS:  # only a hostile hello brings this many: keep the
            oldest = min(self.slots, key=lambda s: self.slots[s][0])  # latest (stricter)
            del self.slots[oldest]

    def count(self, after: float) -> int:
        return sum(1 for t, _ in self.slots.values() if t > after)

    def prune(self, now: float) -> None:
        for slot in [s for s, (t, _) in self.slots.items() if t <= now - KEEP_SECONDS]:
            del self.slots[slot]

    def explains_lockout(self, now: float) -> bool:
        """Would our own recorded requests have tripped the documented limits?"""
        return explains_lockout((t for t, _ in self.slots.values()), now)


@dataclass
class _Want:
    peer: int
    id: int
    priority: Priority
    seq: int


@dataclass
class _Peer:
    id: int
    uid: int
    pid: int
    host: str
    key: str
    per_minute: int
    wants: dict[int, _Want] = field(default_factory=dict)
    granted: dict[int, int] = field(default_factory=dict)  # want id -> slot (until done)
    background_at: float | None = None  # the last time it asked for a background slot
    asked_at: float | None = None  # the last time it asked for any slot
    told_peers: Peers | None = None
    told_limits: Limits | None = None


class Arbiter:
    def __init__(self, now: float, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._settle_until = now + SETTLE
        self._peers: dict[int, _Peer] = {}
        self._hosts: dict[str, Bucket] = {}
        self._keys: dict[str, Bucket] = {}
        self._slot_ids = itertools.count(1)
        self._seq = itertools.count()
        self._turns = itertools.count()
        self._uid_turn: dict[tuple[Priority, int], int] = {}
        self._peer_turn: dict[tuple[Priority, int], int] = {}

    # -- what the broker reports ------------------------------------------------------

    @property
    def peer_count(self) -> int:
        return len(self._peers)

    def waiting(self) -> int:
        return sum(len(p.wants) for p in self._peers.values())

    def host_state(self, host: str) -> LedgerState:
        bucket = self._hosts.get(host)
        return bucket.state() if bucket else LedgerState()

    def throttles(self, host: str, key: str) -> tuple[Throttle, Throttle]:
        h, k = self._hosts.get(host), self._keys.get(key)
        return (h.throttle if h else Throttle(), k.throttle if k else Throttle())

    # -- processes come and go --------------------------------------------------------

    def join(self, peer_id: int, uid: int, pid: int, hello: Hello, now: float) -> list[Out]:
        """A process connected and said hello: merge what it saw, welcome it."""
        peer = _Peer(peer_id, uid, pid, hello.host, hello.key, hello.per_minute)
        self._peers[peer_id] = peer
        host = self._hosts.setdefault(hello.host, Bucket())
        key = self._keys.setdefault(hello.key, Bucket())
        self._merge(host, key, hello, now)
        welcome = Welcome(
            slots=tuple(self._slots_for(peer)),
            limits=self._limits(peer, now),
            peers=self._peers_for(peer, now),
        )
        peer.told_limits, peer.told_peers = welcome.limits, welcome.peers
        out: list[Out] = [(peer_id, welcome)]
        out += self._refresh(hello.host, now)
        return out + self.decide(now)

    def leave(self, peer_id: int, now: float) -> list[Out]:
        """The process went away (or was dropped). Its granted slots stay counted: the
        requests probably left."""
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            return []
        return self._refresh(peer.host, now) + self.decide(now)

    # -- requests ---------------------------------------------------------------------

    def want(self, peer_id: int, want_id: int, priority: Priority, now: float) -> list[Out]:
        peer = self._peers[peer_id]
        if want_id in peer.wants or want_id in peer.granted:
            return []  # told twice: it is already waiting, or served
        if len(peer.wants) >= MAX_WANTS:
            raise TooManyWants(f"{len(peer.wants)} requests already waiting")
        peer.wants[want_id] = _Want(peer_id, want_id, priority, next(self._seq))
        peer.asked_at = now
        if priority is Priority.BACKGROUND:
            peer.background_at = now
        # Who shares the budget changes as processes start and stop asking: every ask is
        # a moment to tell them (only what changed is sent).
        return self._refresh(peer.host, now) + self.decide(now)

    def cancel(self, peer_id: int, want_id: int, now: float) -> list[Out]:
        peer = self._peers[peer_id]
        peer.wants.pop(want_id, None)
        return self.decide(now)

    def done(self, peer_id: int, want_id: int, now: float) -> list[Out]:
        """The answer came: the slot counts from now (a record only ever moves later)."""
        peer = self._peers[peer_id]
        slot = peer.granted.pop(want_id, None)
        if slot is None:
            return []
        host, key = self._hosts[peer.host], self._keys[peer.key]
        entry = host.slots.get(slot)
        if entry is None or entry[0] >= now:
            return []
        host.slots[slot] = (now, entry[1])
        if slot in key.slots:
            key.slots[slot] = (now, entry[1])
        return [
            (p.id, SlotSeen(slot, now, p.key == entry[1]))
            for p in self._peers.values()
            if p.host == peer.host
        ]

    def lockout(self, peer_id: int, wait: float, now: float) -> list[Out]:
        """The API locked this process out. Nothing on its endpoint leaves until the end;
        one nobody here explains also lowers the rate and lasts longer."""
        peer = self._peers[peer_id]
        host, key = self._hosts[peer.host], self._keys[peer.key]
        wait = min(max(1.0, wait), MAX_LOCKOUT_SECONDS)
        end = host.lockout_end
        if end is not None and now <= end + SAME_LOCKOUT:
            host.lockout_end = max(end, now + wait)  # the same lock-out, told again
        elif host.explains_lockout(now) or key.explains_lockout(now):
            host.lockout_end = now + wait
        else:
            key_used = used_last_minute((t for t, _ in key.slots.values()), now)
            key.throttle = key.throttle.lowered(self._key_limit(peer.key), key_used, now, self._rng)
            keys_in_use = {k for t, k in host.slots.values() if t > now - MINUTE}
            if len(keys_in_use) > 1:  # the key's stranger or the IP's: lower both
                host_used = used_last_minute((t for t, _ in host.slots.values()), now)
                host.throttle = host.throttle.lowered(HOST_PER_MINUTE, host_used, now, self._rng)
            host.lockout_end = now + wait + extra_backoff(self._rng)
        return self._refresh(peer.host, now)

    # -- granting ---------------------------------------------------------------------

    def decide(self, now: float) -> list[Out]:
        """Grant every request that may leave now, best first (usually none or one)."""
        out: list[Out] = []
        if now < self._settle_until:
            return out
        self._prune(now)
        while True:
            best: tuple[tuple[int, int, int, int], _Want] | None = None
            earliest: dict[tuple[str, str, Priority], float] = {}
            for want in self._wants():
                if self._earliest(want, now, earliest) > now + TOLERANCE:
                    continue
                rank = self._rank(want)
                if best is None or rank < best[0]:
                    best = (rank, want)
            if best is None:
                return out
            out += self._grant(best[1], now)

    def next_decision_at(self, now: float) -> float | None:
        """When a waiting request could next be granted (None: nobody waits)."""
        cache: dict[tuple[str, str, Priority], float] = {}
        times = [self._earliest(w, now, cache) for w in self._wants()]
        if not times:
            return None
        return max(min(times), self._settle_until)

    # -- internals --------------------------------------------------------------------

    def _wants(self) -> Iterator[_Want]:
        for peer in self._peers.values():
            yield from peer.wants.values()

    def _rank(self, want: _Want) -> tuple[int, int, int, int]:
        peer = self._peers[want.peer]
        p = want.priority
        return (
            p.value,
            self._uid_turn.get((p, peer.uid), -1),
            self._peer_turn.get((p, peer.id), -1),
            want.seq,
        )

    def _earliest(
        self, want: _Want, now: float, cache: dict[tuple[str, str, Priority], float]
    ) -> float:
        peer = self._peers[want.peer]
        cached = (peer.host, peer.key, want.priority)
        if cached not in cache:
            host, key = self._hosts[peer.host], self._keys[peer.key]
            host_policy = BudgetPolicy(per_minute=host.throttle.allowed(HOST_PER_MINUTE, now))
            limit = self._key_limit(peer.key)
            key_policy = BudgetPolicy(per_minute=key.throttle.allowed(limit, now))
            # the lock-out (and the slower minute after it) is the endpoint's: for both
            cache[cached] = max(
                host_policy.earliest(host.state(), want.priority, now),
                key_policy.earliest(key.state(host.lockout_end), want.priority, now),
            )
        return cache[cached]

    def _grant(self, want: _Want, now: float) -> list[Out]:
        peer = self._peers[want.peer]
        del peer.wants[want.id]
        slot = next(self._slot_ids)
        self._hosts[peer.host].add(slot, now, peer.key)
        self._keys[peer.key].add(slot, now, peer.key)
        peer.granted[want.id] = slot
        while len(peer.granted) > 4 * MAX_WANTS:  # a process that never says done
            del peer.granted[next(iter(peer.granted))]
        turn = next(self._turns)
        self._uid_turn[(want.priority, peer.uid)] = turn
        self._peer_turn[(want.priority, peer.id)] = turn
        out: list[Out] = [(peer.id, Granted(want.id, slot, now))]
        out += [
            (p.id, SlotSeen(slot, now, p.key == peer.key))
            for p in self._peers.values()
            if p.host == peer.host and p.id != peer.id
        ]
        return out

    def _key_limit(self, key: str) -> int:
        limits = [p.per_minute for p in self._peers.values() if p.key == key]
        return min(limits) if limits else HOST_PER_MINUTE

    def _limits(self, peer: _Peer, now: float) -> Limits:
        host, key = self._hosts[peer.host], self._keys[peer.key]
        end = host.lockout_end
        return Limits(
            host_per_minute=HOST_PER_MINUTE,
            key_per_minute=self._key_limit(peer.key),
            lockout_end=end if end is not None and end > now - KEEP_SECONDS else None,
            host_throttle=host.throttle,
            key_throttle=key.throttle,
        )

    def _active(self, peer: _Peer, now: float) -> bool:
        return peer.background_at is not None and peer.background_at > now - ACTIVE_FOR

    def _peers_for(self, peer: _Peer, now: float) -> Peers:
        same = [p for p in self._peers.values() if p.host == peer.host]
        active = [p for p in same if p is peer or self._active(p, now)]
        uids = {p.uid for p in active}
        mine = sum(1 for p in active if p.uid == peer.uid)
        # Counted as sharing: the processes that asked for a slot in the last minute (and
        # this one). A dashboard that only views its account's collector, a paused one or
        # an idle `info` probe stays connected but spends nothing.
        sharing = [p for p in same if p is peer or _asked_within(p, now)]
        return Peers(
            processes=len(sharing),
            logins=len({p.uid for p in sharing}),
            share=1.0 / (len(uids) * max(1, mine)),
        )

    def _refresh(self, host: str, now: float) -> list[Out]:
        """Tell every process of this endpoint what changed in its limits and peers."""
        out: list[Out] = []
        for peer in self._peers.values():
            if peer.host != host:
                continue
            limits = self._limits(peer, now)
            if limits != peer.told_limits:
                peer.told_limits = limits
                out.append((peer.id, limits))
            peers = self._peers_for(peer, now)
            if peers != peer.told_peers:
                peer.told_peers = peers
                out.append((peer.id, peers))
        return out

    def _slots_for(self, peer: _Peer) -> Iterator[SlotSeen]:
        host = self._hosts[peer.host]
        for slot, (at, key) in sorted(host.slots.items(), key=lambda item: item[1][0]):
            yield SlotSeen(slot, at, key == peer.key)

    def _merge(self, host: Bucket, key: Bucket, hello: Hello, now: float) -> None:
        """Count what the newcomer saw that we do not know yet (a broker taking over
        starts from its processes' windows)."""
        window = hello.window

        def fresh(t: float) -> bool:
            return now - KEEP_SECONDS < t <= now + SETTLE

        known = {t for t, _ in host.slots.values()}
        on_key = set(window.key_stamps)
        for t in sorted(set(window.stamps) | on_key):
            if not fresh(t) or t in known:
                continue
            slot = next(self._slot_ids)
            owner = hello.key if t in on_key else ""
            host.add(slot, t, owner)
            if owner:
                key.add(slot, t, owner)
        key_known = {t for t, _ in key.slots.values()}
        for slot, (t, _) in list(host.slots.items()):
            if t in on_key and t not in key_known:
                host.slots[slot] = (t, hello.key)
                key.slots[slot] = (t, hello.key)
        end = window.lockout_end
        if end is not None and now - KEEP_SECONDS < end <= now + MAX_LOCKOUT_SECONDS:
            host.lockout_end = max(end, host.lockout_end or end)
        host.throttle = host.throttle.stricter(window.host_throttle, HOST_PER_MINUTE, now)
        limit = self._key_limit(hello.key)
        key.throttle = key.throttle.stricter(window.key_throttle, limit, now)

    def _prune(self, now: float) -> None:
        for buckets in (self._hosts, self._keys):
            for name, bucket in list(buckets.items()):
                bucket.prune(now)
                used = any(p.host == name or p.key == name for p in self._peers.values())
                idle = not bucket.slots and not (
                    bucket.lockout_end and bucket.lockout_end > now - KEEP_SECONDS
                )
                # a lowered rate is remembered after its processes left, within reason
                crowded = len(buckets) > MAX_BUCKETS
                if not used and idle and (crowded or not bucket.throttle.active):
                    del buckets[name]


__all__ = ["ACTIVE_FOR", "HOST_PER_MINUTE", "MAX_WANTS", "SETTLE", "Arbiter", "TooManyWants"]


def _asked_within(peer: _Peer, now: float) -> bool:
    return peer.asked_at is not None and peer.asked_at > now - ACTIVE_FOR
