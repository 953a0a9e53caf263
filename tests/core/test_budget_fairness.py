"""Two logins' dashboards on one host broker, in virtual time: one watches 200 pipelines,
the other 5. The real pollers plan with the share the broker tells them; the broker's
arbiter (no socket here) grants. Neither starves the other, and a key press from either
gets a slot within about 2 s."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from typing import Any

from poller_fakes import Recorder
from test_budget import VirtualClock

from kondado_tui.core.budget.arbiter import Arbiter, Out
from kondado_tui.core.budget.messages import Granted, Hello, Peers, Welcome, Window
from kondado_tui.core.budget.scope import scope_for
from kondado_tui.core.events import BudgetShare
from kondado_tui.core.models import PipelineStatus, Priority
from kondado_tui.core.poller import Poller

SCOPE = scope_for("https://k2.kondado.com.br", "team-key", "team-token")
BG, INTER = Priority.BACKGROUND, Priority.INTERACTIVE
MINUTES = 10


class Hub:
    """The host's broker without its socket: the arbiter, granting on a virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.arbiter = Arbiter(clock.now(), random.Random(3))
        self.waiting: dict[tuple[int, int], asyncio.Future[float]] = {}
        self.peers: dict[int, Peers] = {}
        self.poke = asyncio.Event()
        self.ids = itertools.count(1)

    def deliver(self, out: list[Out]) -> None:
        for peer, message in out:
            if isinstance(message, Granted):
                future = self.waiting.pop((peer, message.id), None)
                if future is not None and not future.done():
                    future.set_result(message.at)
            elif isinstance(message, Peers):
                self.peers[peer] = message
            elif isinstance(message, Welcome):
                self.peers[peer] = message.peers

    def tell(self, out: list[Out]) -> None:
        """What a process's message made the arbiter say; and look again at when to
        decide next (a key press may come before the time it slept for)."""
        self.deliver(out)
        self.poke.set()

    async def run(self, until: float) -> None:
        while self.clock.now() < until:
            when = self.arbiter.next_decision_at(self.clock.now())
            target = until if when is None else min(when, until)
            sleeper = asyncio.ensure_future(self.clock.sleep(max(0.0, target - self.clock.now())))
            poked = asyncio.ensure_future(self.poke.wait())
            await asyncio.wait({sleeper, poked}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, poked):
                task.cancel()
            self.poke.clear()
            self.deliver(self.arbiter.decide(self.clock.now()))


class Login:
    """One login's dashboard: a budget that asks the hub, a client answering at once."""

    def __init__(self, hub: Hub, peer: int, uid: int, pipelines: int) -> None:
        self.hub, self.peer, self.clock = hub, peer, hub.clock
        self.per_minute = 18
        self.shared = True
        self.note = ""
        self.locked_until: float | None = None
        self.queued: set[asyncio.Task[Any]] = set()
        self.granted: list[tuple[float, Priority, int]] = []
        hello = Hello(SCOPE.host, SCOPE.key, 18, Window())
        hub.deliver(hub.arbiter.join(peer, uid, peer, hello, hub.clock.now()))
        ids = list(range(peer * 1000, peer * 1000 + pipelines))
        self.recorder = Recorder()
        self.poller = Poller(self, self, self.clock, ids, self.recorder, rng=random.Random(peer))

    # -- the budget (what the poller and the client need) ------------------------------

    @property
    def sharing(self) -> BudgetShare:
        peers = self.hub.peers[self.peer]
        return BudgetShare(True, peers.processes, peers.logins, peers.share)

    @property
    def planning_per_minute(self) -> float:
        return 16 * self.sharing.share + 2

    def used_last_minute(self) -> int:
        now = self.clock.now()
        return sum(1 for t in self.hub.arbiter.host_state(SCOPE.host).stamps if t > now - 60)

    def next_slot_at(self, priority: Priority = BG) -> float:
        return self.clock.now()  # as HostBudget: wait in the broker's queue, not outside

    def waiting(self, task: asyncio.Task[Any]) -> bool:
        return task in self.queued

    def report_rate_limited(self, wait: float) -> None:
        raise AssertionError("the simulated API never locks out here")

    async def acquire(self, priority: Priority = BG) -> None:
        hub = self.hub
        want = next(hub.ids)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        hub.waiting[(self.peer, want)] = future
        task = asyncio.current_task()
        assert task is not None
        self.queued.add(task)
        try:
            hub.tell(hub.arbiter.want(self.peer, want, priority, self.clock.now()))
            await future
        except asyncio.CancelledError:
            hub.waiting.pop((self.peer, want), None)
            hub.tell(hub.arbiter.cancel(self.peer, want, self.clock.now()))
            raise
        finally:
            self.queued.discard(task)

    # -- the client ----------------------------------------------------------------------

    async def get_status(self, pipeline_id: int, priority: Priority = BG) -> PipelineStatus:
        await self.acquire(priority)
        self.granted.append((self.clock.now(), priority, pipeline_id))
        return PipelineStatus(pipeline_id, "active")

    async def run(self, pipeline_id: int, priority: Priority = INTER) -> str:
        raise AssertionError("not used")

    async def duplicate(self, body: dict[str, Any], priority: Priority = INTER) -> int:
        raise AssertionError("not used")


async def test_a_dashboard_of_200_does_not_starve_one_of_5() -> None:
    clock = VirtualClock()
    end = clock.now() + MINUTES * 60

    async def main() -> list[float]:
        hub = Hub(clock)
        big, small = Login(hub, 1, 1001, 200), Login(hub, 2, 1002, 5)
        latencies: list[float] = []

        async def user() -> None:  # a key press now and then, from either login
            for login in itertools.islice(itertools.cycle((small, big)), 8):
                await clock.sleep(61.0)
                pid = login.poller.pipeline_ids[2]
                pressed = clock.now()
                before = len(login.granted)
                login.poller.request_now(pid)
                while not any(p == pid and q is INTER for _, q, p in login.granted[before:]):
                    await clock.sleep(0.1)
                latencies.append(clock.now() - pressed)

        tasks = [asyncio.ensure_future(x.poller.run()) for x in (big, small)]
        try:
            await asyncio.gather(hub.run(end), user())
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        background = {
            name: sum(1 for t, q, _ in login.granted if q is not INTER and t > end - 480)
            for name, login in (("big", big), ("small", small))
        }
        total = background["big"] + background["small"]
        assert total >= 0.9 * 16 * 8  # the host's automatic share was used, not sat on
        # the small one gets all it wants (it keeps its promise: no row of it goes
        # stale), the big one everything else; each plans with its half
        assert small.sharing.share == big.sharing.share == 0.5
        promise = small.poller.max_age
        for pid in small.poller.pipeline_ids:
            asked = [t for t, _, p in small.granted if p == pid and t > end - 480]
            gaps = [b - a for a, b in itertools.pairwise(asked)]
            assert asked and max(gaps, default=0.0) <= promise + 5.0, (pid, gaps, promise)
        assert background["big"] >= 0.5 * total, background  # the rest is the big one's
        return latencies

    latencies = await clock.run(main())
    assert len(latencies) == 8 and max(latencies) <= 2.0, latencies
    print(f"\nkey presses served in {min(latencies):.2f}-{max(latencies):.2f} s")
