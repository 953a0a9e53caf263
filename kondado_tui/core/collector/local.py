"""This process polls: its own poller on the shared budget, writing history, and, when it
holds the account's name, serving the account's viewers (`serve.Serving`).

Every dashboard's interest (its own, `LOCAL`, and each viewer's) goes into one
schedule (`interest.Interests`); the poller's events go to this process's screens and
to the viewers that watch each pipeline. The latest observation and failure of every
pipeline are kept, so a viewer that starts watching one is told at once what is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterable
from typing import Any

from kondado_tui.core.budget import Budget
from kondado_tui.core.clock import Clock
from kondado_tui.core.collector.interest import Interests, Plan, apply
from kondado_tui.core.collector.serve import Serving
from kondado_tui.core.collector.trust import Account
from kondado_tui.core.config import Config
from kondado_tui.core.events import HealthChanged, PipelineFailed, PollerEvent, StatusObserved
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.history.timeline import HistorySummary, Transition
from kondado_tui.core.poller import Poller
from kondado_tui.core.session import Engine, open_engine


class LocalBackend:
    def __init__(
        self,
        config: Config,
        budget: Budget,
        clock: Clock,
        emit: Callable[[PollerEvent], None],
        *,
        history: bool = True,
    ) -> None:
        self._emit = emit
        self.latest: dict[int, StatusObserved] = {}
        self.failures: dict[int, PipelineFailed] = {}
        self._interests = Interests()
        self._plan: Plan | None = None
        self.engine: Engine = open_engine(config, budget, clock, (), self._dispatch, history)
        self.serving: Serving | None = None
        self._running: asyncio.Task[None] | None = None
        self._switching = False

    @property
    def poller(self) -> Poller:
        return self.engine.poller

    @property
    def store(self) -> HistoryStore | None:
        return self.engine.store

    # -- serving -------------------------------------------------------------------------

    def serve(self, listener: socket.socket, account: Account) -> Serving:
        """Serve the account's viewers on `listener` (the name this process just bound)."""
        serving = Serving(listener, account, self)
        serving.start()
        self.serving = serving
        return serving

    def _dispatch(self, event: PollerEvent) -> None:
        if isinstance(event, StatusObserved):
            self.latest[event.pipeline_id] = event
            self.failures.pop(event.pipeline_id, None)
        elif isinstance(event, PipelineFailed):
            self.failures[event.pipeline_id] = event
        if self.serving is not None:
            self.serving.publish(event)
        self._emit(event)

    # -- serve.Host: what every dashboard of the account asks ------------------------------

    @property
    def health(self) -> HealthChanged:
        return HealthChanged(self.poller.health)

    @property
    def keeps_history(self) -> bool:
        return self.store is not None

    def set_interest(self, who: str, ids: tuple[int, ...] | list[int], paused: bool) -> None:
        self._apply(self._interests.set(who, ids, paused))

    def add_interest(self, who: str, pipeline_id: int) -> None:
        self._apply(self._interests.add(who, pipeline_id))

    def leave(self, who: str) -> None:
        self.poller.forget_watcher(who)
        self._apply(self._interests.leave(who))

    def _apply(self, plan: Plan) -> None:
        apply(self.poller, plan, self._plan)
        self._plan = plan
        known = set(plan.ids)
        for cache in (self.latest, self.failures):
            for pid in [p for p in cache if p not in known]:
                del cache[pid]

    def focus(self, who: str, pipeline_id: int | None, pinned: bool) -> None:
        self.poller.focus(pipeline_id, pinned=pinned, watcher=who)

    def user_active(self, who: str) -> None:
        self.poller.user_active(watcher=who)

    def request_now(self, pipeline_id: int) -> None:
        self.poller.request_now(pipeline_id)

    def follow(self, pipeline_id: int) -> None:
        self.poller.follow(pipeline_id)

    async def run_pipeline(self, pipeline_id: int) -> str:
        return await self.poller.run_pipeline(pipeline_id)

    async def duplicate(self, body: dict[str, Any]) -> int:
        return await self.poller.duplicate(body)

    def history(self, pipeline_id: int, limit: int) -> tuple[HistorySummary, list[Transition]]:
        store = self.store
        assert store is not None
        return store.summary(pipeline_id), store.transitions(pipeline_id, limit=limit)

    def summaries(self, ids: Iterable[int]) -> list[tuple[int, HistorySummary]]:
        store = self.store
        assert store is not None
        return [(pid, store.summary(pid)) for pid in ids]

    # -- life ----------------------------------------------------------------------------

    async def start(self, known: Iterable[StatusObserved]) -> None:
        """Start from what this process already shows (a departed collector's
        observations, at their own times), then history for the rest.

        What is inherited is also this collector's latest word on those pipelines until
        its poller asks again: a viewer attaching now is told it at once, and a `Peek`
        (`kondado-tui status`) answers from it, with the original times (ages stay
        honest)."""
        known = list(known)
        self.poller.adopt(known)
        listed = set(self.poller.pipeline_ids)
        for event in known:
            pid = event.pipeline_id
            mine = self.latest.get(pid)
            if pid in listed and (
                mine is None or mine.observation.observed_at < event.observation.observed_at
            ):
                self.latest[pid] = event
        await self.poller.start()

    async def run(self) -> None:
        """Poll until cancelled, or until `stop_running` (this process becomes a viewer)."""
        self._running = asyncio.ensure_future(self.poller.run())
        try:
            await asyncio.wait({self._running})
        finally:
            if not self._running.done():
                self._running.cancel()
        if self._running.cancelled() and not self._switching:
            raise asyncio.CancelledError
        if not self._running.cancelled() and self._running.exception() is not None:
            raise self._running.exception()  # type: ignore[misc]

    def stop_running(self) -> None:
        self._switching = True
        if self._running is not None:
            self._running.cancel()

    async def aclose(self) -> None:
        self.stop_running()
        if self.serving is not None:
            self.serving.stop()
            self.serving = None
        with contextlib.suppress(Exception):
            await self.engine.aclose()


__all__ = ["LocalBackend"]
