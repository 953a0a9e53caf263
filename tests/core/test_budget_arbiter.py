"""The host broker's decisions in virtual time: fairness, both buckets, lock-outs,
take-over. Pure logic: no socket, no thread, minutes of traffic in milliseconds."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from kondado_tui.core.budget.arbiter import (
    HOST_PER_MINUTE,
    MAX_WANTS,
    SETTLE,
    Arbiter,
    Out,
    TooManyWants,
)
from kondado_tui.core.budget.messages import (
    Granted,
    Hello,
    Limits,
    Peers,
    SlotSeen,
    Welcome,
    Window,
)
from kondado_tui.core.budget.scope import scope_for
from kondado_tui.core.models import Priority

START = 1_790_000_000.0
BG, FOLLOW, INTER = Priority.BACKGROUND, Priority.FOLLOW, Priority.INTERACTIVE
KONDADO = "https://k2.kondado.com.br"
KEY_A = scope_for(KONDADO, "key-a", "token-a")
KEY_B = scope_for(KONDADO, "key-b", "token-b")
OTHER_ENDPOINT = scope_for("http://127.0.0.1:40123", "key-a", "token-a")


@dataclass
class Process:
    """A process as the broker sees it: what it was told, what it was granted."""

    id: int
    uid: int
    inbox: list[object] = field(default_factory=list)
    grants: list[tuple[float, Priority]] = field(default_factory=list)
    asked: dict[int, tuple[float, Priority]] = field(default_factory=dict)


class Host:
    """An arbiter and its processes, in virtual time: `run` jumps from one decision to
    the next, and busy processes ask again as soon as they are served."""

    def __init__(self, now: float = START, seed: int = 0) -> None:
        self.now = now
        self.arbiter = Arbiter(now, random.Random(seed))
        self.procs: dict[int, Process] = {}
        self.ids = itertools.count(1)
        self.want_ids = itertools.count(1)
        self.busy: dict[int, Priority] = {}  # always has a request of this priority waiting

    def deliver(self, out: list[Out]) -> None:
        for peer, message in out:
            proc = self.procs[peer]
            proc.inbox.append(message)
            if isinstance(message, Granted):
                _, priority = proc.asked.pop(message.id)
                proc.grants.append((message.at, priority))

    def join(
        self,
        uid: int,
        scope: object = KEY_A,
        per_minute: int = 18,
        window: Window | None = None,
    ) -> Process:
        proc = Process(next(self.ids), uid)
        self.procs[proc.id] = proc
        hello = Hello(scope.host, scope.key, per_minute, window or Window())  # type: ignore[attr-defined]
        self.deliver(self.arbiter.join(proc.id, uid, 1000 + proc.id, hello, self.now))
        return proc

    def want(self, proc: Process, priority: Priority) -> int:
        want_id = next(self.want_ids)
        proc.asked[want_id] = (self.now, priority)
        self.deliver(self.arbiter.want(proc.id, want_id, priority, self.now))
        return want_id

    def run(self, until: float) -> None:
        while True:
            for pid, priority in self.busy.items():
                proc = self.procs[pid]
                if not any(p is priority for _, p in proc.asked.values()):
                    self.want(proc, priority)
            when = self.arbiter.next_decision_at(self.now)
            if when is None or when > until:
                self.now = until
                return
            self.now = max(self.now, when)
            self.deliver(self.arbiter.decide(self.now))

    def all_grants(self) -> list[float]:
        return sorted(t for p in self.procs.values() for t, _ in p.grants)


def last_limits(proc: Process) -> Limits:
    told = [m.limits if isinstance(m, Welcome) else m for m in proc.inbox]
    return [m for m in told if isinstance(m, Limits)][-1]


def assert_within(stamps: list[float], per_minute: int, spacing: float = 1.25) -> None:
    stamps = sorted(stamps)
    for a, b in itertools.pairwise(stamps):
        assert b - a >= spacing - 1e-6, f"two grants {b - a:.3f} s apart"
    for i, t in enumerate(stamps):
        in_window = sum(1 for u in stamps[: i + 1] if u > t - 61.0)
        assert in_window <= per_minute, f"{in_window} grants in 61 s ending at {t - START:.1f}"


# -- fairness ----------------------------------------------------------------------------


def test_a_big_and_a_small_dashboard_of_two_logins_get_half_each() -> None:
    host = Host()
    big, small = host.join(uid=1001), host.join(uid=1002)
    host.busy = {big.id: BG, small.id: BG}  # both always want more than their share
    host.run(START + 600.0)
    counts = Counter({"big": len(big.grants), "small": len(small.grants)})
    assert abs(counts["big"] - counts["small"]) <= 1
    assert counts["big"] + counts["small"] >= 150  # the whole background share was used
    assert_within(host.all_grants(), HOST_PER_MINUTE - 2)  # background leaves the reserve


def test_only_processes_that_ask_are_said_to_share_the_budget() -> None:
    """A viewer of its account's collector, a paused dashboard, an `info` probe: connected
    to the broker, spending nothing. "shared by N" counts those that ask."""
    host = Host()
    poller = host.join(uid=1001)
    viewer = host.join(uid=1002)
    host.busy = {poller.id: BG}
    host.run(START + 30.0)

    def told(proc: Process) -> Peers:
        said = [m.peers if isinstance(m, Welcome) else m for m in proc.inbox]
        return [m for m in said if isinstance(m, Peers)][-1]

    assert (told(poller).processes, told(poller).logins) == (1, 1)
    host.want(viewer, INTER)  # a key press counts: it spent from the budget
    host.run(START + 40.0)
    assert (told(poller).processes, told(poller).logins) == (2, 2)
    host.run(START + 110.0)  # a minute without asking: no longer sharing
    assert told(poller).processes == 1


def test_three_panes_of_one_login_share_that_logins_turn() -> None:
    host = Host()
    panes = [host.join(uid=1001) for _ in range(3)]
    other = host.join(uid=1002)
    host.busy = {p.id: BG for p in (*panes, other)}
    host.run(START + 600.0)
    login_a = sum(len(p.grants) for p in panes)
    assert abs(login_a - len(other.grants)) <= 1
    per_pane = [len(p.grants) for p in panes]
    assert max(per_pane) - min(per_pane) <= 1
    assert other.inbox and isinstance(other.inbox[-1], (Peers, Limits, SlotSeen, Granted))
    peers = [m for m in other.inbox if isinstance(m, Peers)][-1]
    assert (peers.processes, peers.logins) == (4, 2)
    assert peers.share == pytest.approx(0.5)
    pane_peers = [m for m in panes[0].inbox if isinstance(m, Peers)][-1]
    assert pane_peers.share == pytest.approx(1 / 6)


def test_a_key_press_from_any_login_is_served_within_two_seconds() -> None:
    host = Host()
    big, small = host.join(uid=1001), host.join(uid=1002)
    host.busy = {big.id: BG, small.id: BG}
    host.run(START + 90.0)  # the window is full of background polls
    latencies = []
    for presser in itertools.islice(itertools.cycle((small, big)), 12):
        asked = host.now
        host.want(presser, INTER)
        while not any(p is INTER for _, p in presser.grants[-1:]):
            host.run(host.now + 0.05)
        latencies.append(host.now - asked)
        host.run(host.now + 31.0)  # two key presses a window: what the reserve is for
    assert max(latencies) <= 2.0
    assert_within(host.all_grants(), HOST_PER_MINUTE)


def test_interactive_then_follow_then_background() -> None:
    host = Host()
    a, b = host.join(uid=1), host.join(uid=2)
    host.run(START + SETTLE)
    host.want(a, BG)  # granted at once: nobody else waits
    host.want(a, BG)
    host.want(b, FOLLOW)
    host.want(b, INTER)
    host.run(START + 10.0)
    order = sorted((t, p) for proc in (a, b) for t, p in proc.grants)
    assert [p for _, p in order] == [BG, INTER, FOLLOW, BG]


# -- the two buckets ---------------------------------------------------------------------


def test_the_smallest_requests_per_minute_of_a_keys_processes_wins() -> None:
    host = Host()
    fast, slow = host.join(uid=1, per_minute=18), host.join(uid=2, per_minute=6)
    host.busy = {fast.id: BG, slow.id: BG}
    host.run(START + 300.0)
    assert_within(host.all_grants(), 6 - 2)  # the key's 6, less the reserve
    limits = last_limits(fast)
    assert limits.key_per_minute == 6 and limits.allowed(host.now) == 6


def test_two_keys_share_the_host_and_each_keeps_its_own_cap() -> None:
    host = Host()
    a, b = host.join(uid=1, scope=KEY_A, per_minute=18), host.join(uid=2, scope=KEY_B, per_minute=4)
    host.busy = {a.id: BG, b.id: BG}
    host.run(START + 300.0)
    assert_within(host.all_grants(), HOST_PER_MINUTE - 2)
    assert_within([t for t, _ in b.grants], 4 - 2)
    assert len(a.grants) > 3 * len(b.grants)  # what b cannot use goes to a
    # b hears of a's requests on the endpoint, not as requests on its own key
    seen = [m for m in b.inbox if isinstance(m, SlotSeen)]
    assert seen and not any(m.on_key for m in seen)


def test_another_endpoint_is_another_budget() -> None:
    host = Host()
    real, demo = host.join(uid=1, scope=KEY_A), host.join(uid=1, scope=OTHER_ENDPOINT)
    host.busy = {real.id: BG, demo.id: BG}
    host.run(START + 120.0)
    assert len(real.grants) >= 28 and len(demo.grants) >= 28
    assert not [m for m in real.inbox if isinstance(m, SlotSeen)]  # nothing of the demo's


def test_done_moves_the_record_so_spacing_counts_from_the_answer() -> None:
    host = Host()
    a = host.join(uid=1)
    host.run(START + SETTLE)
    first = host.want(a, BG)
    host.now += 0.8  # the answer came 0.8 s after the grant
    moved = host.arbiter.done(a.id, first, host.now)
    assert moved and isinstance(moved[0][1], SlotSeen) and moved[0][1].at == host.now
    host.want(a, BG)
    host.run(host.now + 5.0)
    assert a.grants[1][0] == pytest.approx(START + SETTLE + 0.8 + 1.25)


def test_a_cancelled_request_takes_no_slot() -> None:
    host = Host()
    a, b = host.join(uid=1), host.join(uid=2)
    host.run(START + SETTLE)
    host.want(a, BG)
    w = host.want(b, BG)  # waits for the spacing
    host.deliver(host.arbiter.cancel(b.id, w, host.now))
    host.run(START + 30.0)
    assert len(host.all_grants()) == 1


def test_too_many_waiting_requests_are_refused() -> None:
    host = Host()
    a = host.join(uid=1)
    for _ in range(MAX_WANTS):
        host.want(a, BG)
    with pytest.raises(TooManyWants):
        host.want(a, BG)


# -- lock-outs ---------------------------------------------------------------------------


def test_an_unexplained_lockout_lowers_the_keys_rate_and_lasts_longer() -> None:
    host = Host(seed=5)
    a = host.join(uid=1)
    host.busy = {a.id: BG}
    host.run(START + 120.0)
    used = host.arbiter.host_state(KEY_A.host)
    host.deliver(host.arbiter.lockout(a.id, 60.0, host.now))
    limits = last_limits(a)
    assert limits.lockout_end is not None
    assert 80.0 <= limits.lockout_end - host.now <= 100.0  # 60 s and a random 20-40
    assert limits.key_throttle.active and not limits.host_throttle.active  # one key in use
    assert limits.allowed(host.now) == 8  # half of the 16 a minute it came at
    locked_at, end = host.now, limits.lockout_end
    host.deliver(host.arbiter.lockout(a.id, 60.0, host.now + 1))  # told again: same one
    assert last_limits(a).allowed(host.now) == 8
    host.run(START + 900.0)
    grants = [t for t, _ in a.grants]
    assert not [t for t in grants if locked_at < t < end]
    # back gradually: half of the lowered rate's background share for a minute, then
    # the lowered rate (8, climbing by one every two minutes), never the old 16
    assert len([t for t in grants if end <= t < end + 61.0]) <= (8 - 2) // 2
    assert_within([t for t in grants if t > end], 12 - 2, spacing=1.25)
    assert used.stamps


def test_a_lockout_our_own_records_explain_is_not_blamed_on_strangers() -> None:
    stamps = tuple(START - 50.0 + i * 0.5 for i in range(22))  # 22 in 11 s: our doing
    host = Host()
    a = host.join(uid=1, window=Window(stamps=stamps, key_stamps=stamps))
    host.deliver(host.arbiter.lockout(a.id, 60.0, host.now))
    limits = last_limits(a)
    assert limits.lockout_end == pytest.approx(host.now + 60.0)
    assert not limits.key_throttle.active


def test_several_keys_in_use_lower_the_hosts_rate_too() -> None:
    host = Host()
    a, b = host.join(uid=1, scope=KEY_A), host.join(uid=2, scope=KEY_B)
    host.busy = {a.id: BG, b.id: BG}
    host.run(START + 60.0)
    host.deliver(host.arbiter.lockout(a.id, 60.0, host.now))
    limits = last_limits(b)
    assert limits.host_throttle.active and not limits.key_throttle.active
    assert limits.lockout_end is not None and limits.lockout_end > host.now + 60.0


# -- take-over ---------------------------------------------------------------------------


def test_a_new_broker_starts_from_the_windows_it_is_brought() -> None:
    """The old broker granted 16 in the last 40 s and died; its processes bring what
    they saw. Duplicates (every process saw the same grants) count once."""
    seen = tuple(START - 40.0 + i * 2.5 for i in range(16))
    host = Host()
    a = host.join(uid=1, window=Window(stamps=seen, key_stamps=seen))
    b = host.join(uid=2, window=Window(stamps=seen, key_stamps=seen))
    welcome = b.inbox[0]
    assert isinstance(welcome, Welcome) and len(welcome.slots) == 16
    host.busy = {a.id: BG, b.id: BG}
    host.run(START + 120.0)
    assert_within([*seen, *host.all_grants()], HOST_PER_MINUTE - 2)
    assert host.all_grants()[0] >= START + SETTLE


def test_the_strictest_throttle_and_latest_lockout_survive_a_takeover() -> None:
    host = Host()
    low = Host(seed=1)
    p = low.join(uid=1)
    low.busy = {p.id: BG}
    low.run(START + 100.0)
    low.deliver(low.arbiter.lockout(p.id, 60.0, low.now))
    told = last_limits(p)
    window = Window(lockout_end=told.lockout_end, key_throttle=told.key_throttle)
    host.now = low.now
    host.arbiter = Arbiter(host.now, random.Random(0))
    a = host.join(uid=1, window=window)
    b = host.join(uid=2)
    limits = last_limits(b)
    assert limits.lockout_end == told.lockout_end
    assert limits.allowed(host.now) == told.allowed(host.now)
    assert a.inbox


def test_a_process_that_leaves_keeps_its_slots_counted() -> None:
    host = Host()
    a, b = host.join(uid=1), host.join(uid=2)
    host.busy = {a.id: BG}
    host.run(START + 30.0)
    host.busy = {}
    host.deliver(host.arbiter.leave(a.id, host.now))
    host.busy = {b.id: BG}
    host.run(START + 120.0)
    assert_within(host.all_grants(), HOST_PER_MINUTE - 2)
    peers = [m for m in b.inbox if isinstance(m, Peers)][-1]
    assert peers.processes == 1
