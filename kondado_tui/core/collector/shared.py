"""`SharedSession`: a dashboard's session whose poller may be its own or its collector's.

The UI talks to it as to any session (`ui.backend.SessionLike`): the same `poller`
object and the same `store` object for its whole life, whatever runs beneath them:

* `SERVING`: this process polls (`local.LocalBackend`, exactly as a lone dashboard
  does) and serves the account's other dashboards, being the first to hold the name;
* `VIEWING`: another process is the account's collector; this one shows what it polls
  (`viewer.ViewerBackend`) and asks nothing of the API;
* `LOST`: its collector went away (q, SIGTERM, SIGKILL): within seconds one viewer
  wins the race to bind the name and takes over (from the rows it shows, at their own
  times), the others attach to it. The screens keep their rows, cursor and forms;
  only the backend beneath them changes;
* `ALONE`: the name is held by a process that cannot prove it holds the account (a
  squatter), or speaks another version: this process polls on its own, not serving,
  sharing the host budget like any other, and tries the name again now and then.
  Or the name's holder does not answer at all (a collector stopped by SIGSTOP, or whose
  loop hung: its viewers hear no beat): then the account's *stand-in* name (the name +
  `/stand-in`) gathers its dashboards as the name does, so one of them polls for all
  (`ALONE`, serving them) rather than each alone; the stand-in looks at the name every
  `STAND_IN_RETRY` and, when its holder answers again, attaches to it (its own viewers
  follow), or, when it ended, takes the name.

How the UI learns of a switch: every `HealthChanged` carries `Health.collector` (a
`CollectorLink`: role, viewers, the collector's pid and login, why, since when); the
banner and the status line show it. Nothing else in the UI changes.

`KONDADO_TUI_COLLECTOR`: unset for the default names, `off` for a dashboard that
neither serves nor attaches (the one before issue 15), or another name prefix (tests
give each one its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kondado_tui.core.budget import Budget
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.collector import attach
from kondado_tui.core.collector.attach import Attached, Became, Found, Untrusted
from kondado_tui.core.collector.duty import RETELL_WINDOW, left_to_collector
from kondado_tui.core.collector.local import LocalBackend
from kondado_tui.core.collector.messages import AlertDuty
from kondado_tui.core.collector.serve import Serving
from kondado_tui.core.collector.trust import DEFAULT_PREFIX, Account, account, alert_mac
from kondado_tui.core.collector.viewer import Lost, ViewerBackend
from kondado_tui.core.config import Config, PipelineEntry
from kondado_tui.core.config.watch import ConfigChange, ConfigWatcher
from kondado_tui.core.errors import KondadoError, Unreachable
from kondado_tui.core.events import (
    Alert,
    CollectorLink,
    Connection,
    Health,
    HealthChanged,
    PollerEvent,
    Role,
    SessionEvent,
    StatusObserved,
)
from kondado_tui.core.history.timeline import HistorySummary, RunSummary, Transition
from kondado_tui.core.localsock.names import name_from_env
from kondado_tui.core.scheduling import FOCUS_ATTENTION, FOLLOW_LIMIT, LOCAL
from kondado_tui.core.session import default_reload, open_alerts, open_budget, setup_notes

log = logging.getLogger(__name__)

NAME_ENV = "KONDADO_TUI_COLLECTOR"
TAKEOVER_TIMEOUT = 10.0
"""After losing its collector, a viewer attaches to the next one or becomes it within
this; else (a name held and not served) it polls alone."""
ALONE_RETRY = (15.0, 60.0)
"""Polling alone: try the name again after this long the first time, doubling to the
second (a squatter may leave; a collector of another version may end)."""
STAND_IN = "/stand-in"
STAND_IN_RETRY = 5.0
"""Standing in for a collector that does not answer: look at its name this often, so
two processes poll for the account only seconds after it answers again."""
READY_TIMEOUT = TAKEOVER_TIMEOUT + 5.0
"""A run or duplicate asked while the collector is being replaced waits this long."""

Listener = Callable[[SessionEvent], None]
Backend = LocalBackend | ViewerBackend


def collector_name(config: Config, env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """(the account's collector socket name, or None when off; why, when off)."""
    prefix, why = name_from_env(NAME_ENV, DEFAULT_PREFIX, env)
    if prefix is None:
        return None, why
    api = config.api
    return account(api.base_url, api.key, api.token).name(prefix), ""


@dataclass(frozen=True)
class StandIn:
    """The account's name is held by a process that does not answer; this process bound
    the stand-in name (`listener`): it polls for the account's dashboards meanwhile."""

    listener: Any
    why: str


Search = Found | StandIn


@dataclass
class _Interest:
    """What this dashboard wants, kept across backends (replayed to a new one)."""

    ids: list[int] = field(default_factory=list)
    paused: bool = False
    focus: int | None = None
    pinned: bool = False
    active_at: float | None = None
    follows: dict[int, float] = field(default_factory=dict)


class SharedSession:
    """A `SessionLike` whose poller is this process's or its collector's."""

    def __init__(
        self,
        config: Config,
        clock: Clock,
        budget: Budget,
        watcher: ConfigWatcher,
        *,
        name: str | None,
        account: Account,
        with_history: bool = True,
        alert_command: bool = True,
    ) -> None:
        self.config = config
        self.clock = clock
        self.budget = budget
        self.config_watcher = watcher
        self._name = name
        self._stand_in = None if name is None else name + STAND_IN
        self._standing_in = False  # serving the stand-in name, not the account's
        self._account = account
        self._secret = account.secret
        self._with_history = with_history
        self._listeners: list[Listener] = []
        self._on_close: list[Callable[[], None]] = []
        self.extra_notes: list[str] = []
        self.alerts = open_alerts(config, clock, self._tell, command=alert_command)
        self.alerts.defer = self._left_to_collector
        command = self.alerts.command
        self._alert_mac = (
            None
            if command is None
            else alert_mac(self._secret, command.settings.command, command.settings.on_recovery)
        )
        self._interest = _Interest(ids=[p.id for p in config.pipelines])
        self.known: dict[int, StatusObserved] = {}  # what the screens were told, per id
        self._backend: Backend | None = None
        self._link: CollectorLink | None = None
        self._published: Health | None = None
        self._started: asyncio.Future[None] | None = None
        self._ready = asyncio.Event()  # a backend is there (not lost)
        self._retry: asyncio.Task[None] | None = None
        self._rng = random.Random()
        self._closed = False
        self.poller = PollerSwitch(self)
        self.store: StoreSwitch | None = StoreSwitch(self) if with_history else None

    @classmethod
    def open(
        cls,
        config: Config,
        clock: Clock = SYSTEM_CLOCK,
        *,
        with_history: bool = True,
        reload: Callable[[], Config] | None = None,
        alert_command: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> SharedSession:
        """Like `Session.open`; nothing is reached or bound until `poller.start()`."""
        name, _ = collector_name(config, env)
        api = config.api
        budget = open_budget(config, clock, env)
        watcher = ConfigWatcher(config, reload or default_reload(config), clock)
        return cls(
            config,
            clock,
            budget,
            watcher,
            name=name,
            account=account(api.base_url, api.key, api.token),
            with_history=with_history,
            alert_command=alert_command,
        )

    # -- SessionLike ----------------------------------------------------------------------

    @property
    def notes(self) -> list[str]:
        """Things the user should know about the set-up (shown once, not fatal)."""
        backend = self._backend
        store = backend.store if isinstance(backend, LocalBackend) else None
        return setup_notes(self.config, self.extra_notes, self.budget, store)

    def check_config(self, *, force: bool = False) -> ConfigChange | None:
        return self.config_watcher.poll(force=force)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def set_entries(self, entries: Iterable[PipelineEntry]) -> None:
        entries = list(entries)
        self.poller.set_pipelines([entry.id for entry in entries])
        self.alerts.set_entries(entries)
        backend = self._backend
        if isinstance(backend, LocalBackend) and backend.serving is not None:
            backend.serving.set_duty(self._duty())

    async def aclose(self) -> None:
        self._closed = True
        try:
            if self._retry is not None:
                self._retry.cancel()
            backend, self._backend = self._backend, None
            if backend is not None:
                await backend.aclose()
            await self.alerts.aclose()
            self.budget.close()
        finally:
            for callback in self._on_close:
                callback()

    # -- where the statuses come from -----------------------------------------------------

    @property
    def role(self) -> Role | None:
        """None before `start`, or with KONDADO_TUI_COLLECTOR=off."""
        return None if self._link is None else self._link.role

    @property
    def backend(self) -> Backend | None:
        return self._backend

    @property
    def standing_in(self) -> bool:
        """Polling for the account's dashboards while its collector does not answer."""
        return self._standing_in

    async def start(self) -> None:
        """Find the account's collector or become it (once; later calls wait for it)."""
        if self._started is not None:
            await asyncio.shield(self._started)
            return
        self._started = asyncio.get_running_loop().create_future()
        try:
            if self._name is None:
                await self._become_local(None, "")
            else:
                await self._adopt(await self._search())
        finally:
            self._started.set_result(None)

    async def _search(self, timeout: float = attach.REACH_TIMEOUT) -> Search:
        """The account's collector or its name; when its holder does not answer, the
        stand-in's (attached to, or bound: `StandIn`)."""
        assert self._name is not None
        found = await self._find(self._name, timeout)
        if not (isinstance(found, Untrusted) and found.silent) or self._stand_in is None:
            return found
        stand_in = await self._find(self._stand_in)
        if isinstance(stand_in, Became):
            return StandIn(stand_in.listener, found.why)
        if isinstance(stand_in, Attached):
            return stand_in
        return found

    async def _find(self, name: str, timeout: float = attach.REACH_TIMEOUT) -> Found:
        """The collector serving `name`, or the name; a bug of ours in looking is logged
        and the dashboard polls alone (it must poll whatever happens here)."""
        try:
            return await attach.find_or_become(name, self._secret, timeout=timeout, rng=self._rng)
        except Exception as exc:
            log.exception("collector: looking for this account's collector failed")
            return Untrusted(f"looking for this account's collector failed ({type(exc).__name__})")

    async def run(self) -> None:
        """Poll, or show the collector's polling, until cancelled, switching as needed."""
        await self.start()
        while True:
            backend = self._backend
            if isinstance(backend, LocalBackend):
                await backend.run()  # returns only when this process became a viewer
            elif isinstance(backend, ViewerBackend):
                lost = await backend.run()
                if backend is self._backend:
                    await self._lost(lost)
            else:
                return  # closed

    async def ready(self) -> Backend:
        """The backend, once it is there: a run asked while the collector is being
        replaced waits for the next one (`Unreachable` if none comes in time)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), READY_TIMEOUT)
        backend = self._backend
        if backend is None or not self._ready.is_set():
            raise Unreachable("this dashboard's collector is gone and no other has taken over yet")
        return backend

    async def _adopt(self, found: Search) -> None:
        if self._closed:  # closed while looking: keep nothing it found
            self._drop(found)
            return
        match found:
            case Attached(connection):
                await self._become_viewer(ViewerBackend(connection, self._from_backend))
            case Became(listener):
                await self._become_local(listener, "")
            case StandIn(listener, why):
                await self._become_local(listener, why, stand_in=True)
            case Untrusted(why):
                await self._become_local(None, why)

    @staticmethod
    def _drop(found: Search) -> None:
        match found:
            case Attached(connection):
                connection.close()
            case Became(listener) | StandIn(listener):
                listener.close()

    async def _become_viewer(self, backend: ViewerBackend) -> None:
        old, self._backend = self._backend, backend
        if isinstance(old, LocalBackend):
            await old.aclose()
        backend.changed = self._collector_changed
        collector = backend.collector
        login = collector.login if collector.uid != os.getuid() else ""
        self._standing_in = False
        self._set_link(CollectorLink(Role.VIEWING, backend.viewers, collector.pid, login))
        log.info("attached to this account's collector (pid %d)", collector.pid)
        self._replay(backend)
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    async def _become_local(self, listener: Any, why: str, *, stand_in: bool = False) -> None:
        old = self._backend
        backend = LocalBackend(
            self.config,
            self.budget,
            self.clock,
            self._from_backend,
            history=self._with_history,
        )
        self._backend = backend
        if old is not None:
            await old.aclose()
        self._replay(backend)
        await backend.start(self.known.values())
        self._standing_in = stand_in
        if listener is not None:
            self._serve(backend, listener)
        if stand_in:
            log.warning("standing in for this account's collector: %s", why)
            self._set_link(CollectorLink(Role.ALONE, why=why))
            self._retry_later()
        elif listener is not None:
            log.info("serving this account's collector")
            self._set_link(CollectorLink(Role.SERVING, 0))
        elif self._name is None:
            self._set_link(None)
        else:
            log.warning("polling alone: %s", why)
            self._set_link(CollectorLink(Role.ALONE, why=why))
            self._retry_later()

    async def _lost(self, lost: Lost) -> None:
        log.info("%s; taking over or attaching to the next", lost)
        previous = self._link
        self._ready.clear()
        self._set_link(
            CollectorLink(
                Role.LOST,
                pid=previous.pid if previous is not None else None,
                why=str(lost),
                since=self.clock.now(),
            )
        )
        # From now on this process runs its own alert command (the role is no longer
        # VIEWING), and at once for what it left to the collector lately.
        retold = self.alerts.retell(self.clock.now() - RETELL_WINDOW)
        if retold:
            log.info("alert command run again for %d alert(s) left to the lost collector", retold)
        found: Search
        if lost.trusted:
            found = await self._search(TAKEOVER_TIMEOUT)
            if isinstance(found, StandIn) and lost.silent:
                found = StandIn(found.listener, str(lost))  # its own words say more
        else:
            found = Untrusted(str(lost))
        await self._adopt(found)

    def _serve(self, backend: LocalBackend, listener: Any) -> Serving:
        serving = backend.serve(listener, self._account)
        serving.changed.append(self._collector_changed)
        serving.set_duty(self._duty())
        return serving

    # -- the alert command: run once ------------------------------------------------------

    def _duty(self) -> AlertDuty | None:
        """What this process tells its viewers of its alert command (`collector.duty`)."""
        if self._alert_mac is None:
            return None
        return AlertDuty(self._alert_mac, tuple(sorted(self.alerts.watch.ids)))

    def _left_to_collector(self, alert: Alert) -> str | None:
        """Who runs the command for `alert` instead of this process (the collector it
        views, running the same command as the same user), or None: this process."""
        backend = self._backend
        if not isinstance(backend, ViewerBackend) or self.role is not Role.VIEWING:
            return None
        collector = backend.collector
        ids = left_to_collector(backend.duty, self._alert_mac, collector.uid, os.getuid())
        return f"the collector (pid {collector.pid})" if alert.pipeline_id in ids else None

    def _retry_later(self) -> None:
        if self._retry is None or self._retry.done():
            self._retry = asyncio.ensure_future(self._try_again())

    async def _try_again(self) -> None:
        """Polling alone, or standing in: look at the name again now and then (standing
        in, often, and only at the account's name: the stand-in's is this process's)."""
        wait = ALONE_RETRY[0]
        assert self._name is not None
        while isinstance(self._backend, LocalBackend) and (
            self._backend.serving is None or self._standing_in
        ):
            standing_in = self._standing_in
            pause = STAND_IN_RETRY if standing_in else wait
            await asyncio.sleep(pause * (0.75 + 0.5 * self._rng.random()))
            if not standing_in:
                wait = min(ALONE_RETRY[1], wait * 2)
            found = await (self._find(self._name) if standing_in else self._search())
            backend = self._backend
            if self._closed or not isinstance(backend, LocalBackend):
                self._drop(found)  # closed meanwhile
                return
            if isinstance(found, Became):
                if backend.serving is not None:  # the stand-in's viewers follow to the name
                    backend.serving.stop()
                    backend.serving = None
                self._standing_in = False
                self._serve(backend, found.listener)
                log.info("serving this account's collector (the name is free again)")
                self._set_link(CollectorLink(Role.SERVING, 0))
                return
            if isinstance(found, Attached):
                self._retry = None
                await self._become_viewer(ViewerBackend(found.connection, self._from_backend))
                return
            if isinstance(found, StandIn):
                self._serve(backend, found.listener)
                self._standing_in = True
                log.warning("standing in for this account's collector: %s", found.why)
                self._set_link(CollectorLink(Role.ALONE, why=found.why))
            elif isinstance(found, Untrusted) and not standing_in:
                self._set_link(CollectorLink(Role.ALONE, why=found.why))

    def _replay(self, backend: Backend) -> None:
        """This dashboard's interest, told to a new backend."""
        interest, now = self._interest, self.clock.now()
        backend.set_interest(LOCAL, interest.ids, interest.paused)
        if interest.focus is not None:
            backend.focus(LOCAL, interest.focus, interest.pinned)
        if interest.active_at is not None and now - interest.active_at < FOCUS_ATTENTION:
            backend.user_active(LOCAL)
        for pid, at in list(interest.follows.items()):
            if now - at < FOLLOW_LIMIT:
                backend.follow(pid)
            else:
                del interest.follows[pid]

    def _set_link(self, link: CollectorLink | None) -> None:
        self._link = link
        if link is None or link.role is not Role.LOST:
            self._ready.set()
        self._publish()

    def _collector_changed(self) -> None:
        backend, link = self._backend, self._link
        if link is None:
            return
        if isinstance(backend, ViewerBackend):
            count = backend.viewers
        elif isinstance(backend, LocalBackend) and backend.serving is not None:
            count = backend.serving.viewers
        else:
            return
        self._set_link(dataclasses.replace(link, viewers=count))

    # -- events ---------------------------------------------------------------------------

    def _from_backend(self, event: PollerEvent) -> None:
        """A backend's event: this dashboard's pipelines only, never an observation older
        than one already shown (a new collector may know less), the health as this
        dashboard's."""
        if isinstance(event, HealthChanged):
            self._publish()
            return
        if event.pipeline_id not in self._interest.ids:
            return
        if isinstance(event, StatusObserved):
            known = self.known.get(event.pipeline_id)
            if known is not None and known.observation.observed_at > event.observation.observed_at:
                return
            previous = known.observation if known is not None else None
            if previous is not event.previous:
                event = dataclasses.replace(event, previous=previous)
            self.known[event.pipeline_id] = event
        self._tell(event)
        self.alerts.feed(event)

    def _tell(self, event: SessionEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    @property
    def health(self) -> Health:
        backend = self._backend
        if isinstance(backend, LocalBackend):
            base = backend.poller.health
        elif isinstance(backend, ViewerBackend):
            base = backend.health
        else:
            base = Health(Connection.STARTING, "looking for this account's collector")
        interest = self._interest
        return dataclasses.replace(
            base, paused=interest.paused, pipelines=len(interest.ids), collector=self._link
        )

    def _publish(self) -> None:
        health = self.health
        if health != self._published:
            self._published = health
            self._tell(HealthChanged(health))


class PollerSwitch:
    """The one poller the UI knows (`PollerLike`): what it says goes to whichever backend
    runs now, and is kept to be told to the next."""

    def __init__(self, shared: SharedSession) -> None:
        self._shared = shared

    @property
    def _interest(self) -> _Interest:
        return self._shared._interest

    def _tell(self, say: Callable[[Backend], None]) -> None:
        backend = self._shared.backend
        if backend is not None and self._shared.role is not Role.LOST:
            say(backend)

    async def start(self) -> None:
        await self._shared.start()

    async def run(self) -> None:
        await self._shared.run()

    def set_pipelines(self, ids: Iterable[int]) -> None:
        interest = self._interest
        interest.ids = list(dict.fromkeys(ids))
        kept = set(interest.ids)
        for pid in [p for p in self._shared.known if p not in kept]:
            del self._shared.known[pid]
        self._tell(lambda b: b.set_interest(LOCAL, interest.ids, interest.paused))
        self._shared._publish()

    def focus(self, pipeline_id: int | None, *, pinned: bool = False) -> None:
        self._interest.focus, self._interest.pinned = pipeline_id, pinned
        self._tell(lambda b: b.focus(LOCAL, pipeline_id, pinned))

    def user_active(self) -> None:
        self._interest.active_at = self._shared.clock.now()
        self._tell(lambda b: b.user_active(LOCAL))

    def request_now(self, pipeline_id: int) -> None:
        self._tell(lambda b: b.request_now(pipeline_id))

    def follow(self, pipeline_id: int) -> None:
        self._interest.follows[pipeline_id] = self._shared.clock.now()
        self._tell(lambda b: b.follow(pipeline_id))

    def pause(self) -> None:
        self._set_paused(True)

    def resume(self) -> None:
        self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        interest = self._interest
        interest.paused = paused
        self._tell(lambda b: b.set_interest(LOCAL, interest.ids, paused))
        self._shared._publish()

    @property
    def health(self) -> Health:
        return self._shared.health

    @property
    def observations(self) -> dict[int, Any]:
        return {pid: event.observation for pid, event in self._shared.known.items()}

    async def run_pipeline(self, pipeline_id: int) -> str:
        backend = await self._shared.ready()
        answer = await backend.run_pipeline(pipeline_id)
        self._interest.follows[pipeline_id] = self._shared.clock.now()
        return answer

    async def duplicate(self, body: dict[str, Any]) -> int:
        backend = await self._shared.ready()
        new_id = await backend.duplicate(body)
        self._interest.follows[new_id] = self._shared.clock.now()
        return new_id


class StoreSwitch:
    """The one history the UI knows (`StoreLike`): this process's store, or its
    collector's (`viewer.ViewerStore`). Blocking: called from a thread."""

    def __init__(self, shared: SharedSession) -> None:
        self._shared = shared

    def _store(self) -> Any:
        backend = self._shared.backend
        store = backend.store if backend is not None else None
        if store is None:
            raise KondadoError("history is not available right now")
        return store

    def transitions(
        self,
        pipeline_id: int | None = None,
        since: float | None = None,
        *,
        limit: int | None = None,
    ) -> list[Transition]:
        result: list[Transition] = self._store().transitions(pipeline_id, since, limit=limit)
        return result

    def runs(self, pipeline_id: int, limit: int = 50) -> list[RunSummary]:
        result: list[RunSummary] = self._store().runs(pipeline_id, limit)
        return result

    def summary(self, pipeline_id: int, durations: int = 20) -> HistorySummary:
        result: HistorySummary = self._store().summary(pipeline_id, durations)
        return result


__all__ = [
    "NAME_ENV",
    "PollerSwitch",
    "SharedSession",
    "StandIn",
    "StoreSwitch",
    "collector_name",
]
