"""A viewer: this dashboard shows what its account's collector polls.

It asks nothing of the API. Its interest (its pipelines, its cursor, "ask now", the
runs it follows) goes to the collector, which polls the union of its viewers'; the
collector's events come back for the pipelines it watches, with the times the collector
observed them. Runs and duplicates are executed by the collector, through its budget,
and their errors come back typed; history is read from the collector's store
(`ViewerStore`), since another login's file is not readable here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kondado_tui.core.collector.attach import Connection
from kondado_tui.core.collector.messages import (
    MAX_HISTORY,
    SILENT_AFTER,
    Active,
    AlertDuty,
    Ask,
    Beat,
    Duplicate,
    Duty,
    Failure,
    Focus,
    Follow,
    HistoryAsk,
    HistoryPart,
    Made,
    Peeked,
    Ran,
    Run,
    Summaries,
    ToCollector,
    Viewers,
    Watch,
    Welcome,
)
from kondado_tui.core.errors import KondadoError, Unreachable
from kondado_tui.core.events import (
    Connection as ApiConnection,
)
from kondado_tui.core.events import (
    Health,
    HealthChanged,
    PipelineFailed,
    PollerEvent,
    StatusObserved,
)
from kondado_tui.core.history.timeline import (
    HistorySummary,
    RunSummary,
    Transition,
    newest_runs,
    runs_window,
)
from kondado_tui.core.localsock.framing import ProtocolError

log = logging.getLogger(__name__)

ACTIVE_EVERY = 5.0
"""Key presses are told the collector at most this often (attention lasts minutes)."""
HISTORY_TIMEOUT = 10.0
HISTORY_FRESH = 2.0
"""A history answer serves the detail screen's three reads (summary, timeline, runs)."""


@dataclass
class _Pending:
    message: ToCollector
    future: asyncio.Future[Any]
    sent: bool
    parts: list[Transition] = field(default_factory=list)
    summary: HistorySummary | None = None


History = tuple[HistorySummary, list[Transition]]


class Lost(Exception):
    """The connection to the collector ended (`trusted`: it went away, as a collector
    does when its process ends, or it fell silent; else it broke the protocol).
    `silent`: it stopped answering (its process stopped, its loop hung): it still holds
    the account's name."""

    def __init__(self, why: str, *, trusted: bool = True, silent: bool = False) -> None:
        super().__init__(why)
        self.trusted = trusted
        self.silent = silent


class ViewerBackend:
    def __init__(self, connection: Connection, emit: Callable[[PollerEvent], None]) -> None:
        self.connection = connection
        self.collector = connection.collector
        welcome: Welcome = connection.welcome
        self.viewers = welcome.viewers
        self.keeps_history = welcome.history
        self.duty: AlertDuty | None = welcome.alerts  # the collector's alert command
        self.health = Health(ApiConnection.STARTING, "waiting for the collector's first word")
        self._emit = emit
        self._loop = asyncio.get_running_loop()
        self._requests: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._told_active = -ACTIVE_EVERY
        self.store = ViewerStore(self)
        self.changed: Callable[[], None] = lambda: None  # the count of viewers changed

    # -- interest --------------------------------------------------------------------------

    def set_interest(self, who: str, ids: tuple[int, ...] | list[int], paused: bool) -> None:
        self.connection.send(Watch(tuple(ids), paused))

    def focus(self, who: str, pipeline_id: int | None, pinned: bool) -> None:
        self.connection.send(Focus(pipeline_id, pinned))

    def user_active(self, who: str) -> None:
        now = time.monotonic()
        if now - self._told_active >= ACTIVE_EVERY:
            self._told_active = now
            self.connection.send(Active())

    def request_now(self, pipeline_id: int) -> None:
        self.connection.send(Ask(pipeline_id))

    def follow(self, pipeline_id: int) -> None:
        self.connection.send(Follow(pipeline_id))

    # -- questions -------------------------------------------------------------------------

    async def run_pipeline(self, pipeline_id: int) -> str:
        answer = await self._ask(lambda req: Run(req, pipeline_id))
        return str(answer)

    async def duplicate(self, body: dict[str, Any]) -> int:
        answer = await self._ask(lambda req: Duplicate(req, body))
        return int(answer)

    async def history(
        self, pipeline_id: int, limit: int
    ) -> tuple[HistorySummary, list[Transition]]:
        if not self.keeps_history:
            raise KondadoError("this account's collector keeps no history")
        summary, items = await self._ask(lambda req: HistoryAsk(req, pipeline_id, limit))
        return summary, items

    async def _ask(self, make: Callable[[int], ToCollector]) -> Any:
        req = next(self._ids)
        message = make(req)
        future: asyncio.Future[Any] = self._loop.create_future()
        sent = self.connection.send(message)
        pending = _Pending(message, future, sent)
        if not sent:
            _fail(pending, self.collector.pid)
            return await future
        self._requests[req] = pending
        try:
            return await future
        finally:
            self._requests.pop(req, None)

    # -- the connection ---------------------------------------------------------------------

    async def run(self) -> Lost:
        """Hand the collector's messages on until the connection ends, or the collector
        is silent for `SILENT_AFTER` (it beats when it has nothing else to say); why."""
        window = SILENT_AFTER / 3
        silent = 0  # windows in a row without a line: 3, not one long wait, so a pause
        # of this process's own loop (swapping, a stop) costs one window, not a verdict
        try:
            while True:
                try:
                    # Not `wait_for`: on Python 3.11 it can swallow a cancel that lands as
                    # a line arrives, and this loop would outlive its session (serve then
                    # ignored SIGTERM).
                    async with asyncio.timeout(window):
                        message = await self.connection.receive()
                except TimeoutError:
                    silent += 1
                    if silent < 3:
                        continue
                    log.warning(
                        "collector (pid %d) said nothing for %.0f s: taking it for lost",
                        self.collector.pid,
                        SILENT_AFTER,
                    )
                    self.close()
                    return Lost(
                        f"the collector (pid {self.collector.pid}) stopped answering",
                        silent=True,
                    )
                silent = 0
                self._handle(message)
        except (EOFError, ConnectionError, OSError):
            lost = Lost(f"the collector (pid {self.collector.pid}) went away")
        except ProtocolError as exc:
            log.warning("collector (pid %d) broke the protocol: %s", self.collector.pid, exc)
            lost = Lost(
                f"the collector (pid {self.collector.pid}) sent something that is not the protocol",
                trusted=False,
            )
        except Exception as exc:  # a bug of ours: the dashboard polls alone rather than stop
            log.exception("viewer: handling the collector's message failed")
            lost = Lost(f"this viewer failed ({type(exc).__name__})", trusted=False)
        self.close()
        return lost

    def _handle(self, message: Any) -> None:
        match message:
            case StatusObserved() | PipelineFailed():
                self._emit(message)
            case HealthChanged(health):
                self.health = health
                self._emit(message)
            case Viewers(count):
                self.viewers = count
                self.changed()
            case Beat():
                pass  # heard: `run` counts the silence
            case Duty(duty):
                self.duty = duty
            case Ran(req, answer):
                self._settle(req, answer)
            case Made(req, new_id):
                self._settle(req, new_id)
            case Failure(req, error):
                pending = self._requests.get(req)
                if pending is not None and not pending.future.done():
                    pending.future.set_exception(error)
            case HistoryPart(req, summary, items, last):
                pending = self._requests.get(req)
                if pending is None:
                    return
                pending.summary = summary or pending.summary
                pending.parts.extend(items)
                if last and pending.summary is not None:
                    self._settle(req, (pending.summary, pending.parts))
            case Summaries(req, items) | Peeked(req, items):
                self._settle(req, items)
            case Welcome():
                raise ProtocolError("a second welcome")

    def _settle(self, req: int, value: Any) -> None:
        pending = self._requests.get(req)
        if pending is not None and not pending.future.done():
            pending.future.set_result(value)

    def close(self) -> None:
        self.connection.close()
        for pending in list(self._requests.values()):
            _fail(pending, self.collector.pid)
        self._requests.clear()

    async def aclose(self) -> None:
        self.close()


def _fail(pending: _Pending, pid: int) -> None:
    """A question the collector will not answer now: what is known of its outcome."""
    if pending.future.done():
        return
    if isinstance(pending.message, Run | Duplicate):
        pending.future.set_exception(
            Unreachable(
                f"the collector (pid {pid}) went away before answering"
                if pending.sent
                else "this dashboard's collector is gone and no other has taken over yet",
                maybe_delivered=pending.sent,
            )
        )
    else:
        pending.future.set_exception(
            KondadoError(f"the collector (pid {pid}) went away before answering")
        )


class ViewerStore:
    """History, read from the collector's store (`StoreLike`). Blocking, like the
    store: the dashboard calls it from a thread (`asyncio.to_thread`)."""

    def __init__(self, backend: ViewerBackend) -> None:
        self._backend = backend
        self._recent: dict[int, tuple[float, list[Transition]]] = {}

    def _call(self, pipeline_id: int, limit: int) -> History:
        loop = self._backend._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise KondadoError("history is read from a thread, not on the event loop")
        future = asyncio.run_coroutine_threadsafe(self._backend.history(pipeline_id, limit), loop)
        try:
            return future.result(HISTORY_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise KondadoError("the collector did not answer about history in time") from None

    def _transitions(self, pipeline_id: int) -> list[Transition]:
        now = time.monotonic()
        recent = self._recent.get(pipeline_id)
        if recent is not None and now - recent[0] < HISTORY_FRESH:
            return recent[1]
        _, items = self._call(pipeline_id, MAX_HISTORY)
        self._recent = {pipeline_id: (now, items)}
        return items

    def summary(self, pipeline_id: int, durations: int = 20) -> HistorySummary:
        return self._call(pipeline_id, 0)[0]

    def transitions(
        self,
        pipeline_id: int | None = None,
        since: float | None = None,
        *,
        limit: int | None = None,
    ) -> list[Transition]:
        if pipeline_id is None:
            raise KondadoError("a viewer reads one pipeline's history at a time")
        items = [t for t in self._transitions(pipeline_id) if since is None or t.at >= since]
        return items if limit is None else items[-limit:] if limit > 0 else []

    def runs(self, pipeline_id: int, limit: int = 50) -> list[RunSummary]:
        if limit <= 0:
            return []
        window = min(runs_window(limit), MAX_HISTORY)
        return newest_runs(self._transitions(pipeline_id)[-window:], limit, window)


__all__ = ["Lost", "ViewerBackend", "ViewerStore"]
