"""The composition root: one config in, one working set of core objects out.

The TUI and every CLI command get their client, rate budget, history and poller here,
so they are wired the same way everywhere (one budget per process, shared with every
kondado-tui on the host through its broker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w

from kondado_tui.core.alerts.command import AlertCommand
from kondado_tui.core.alerts.hub import AlertHub
from kondado_tui.core.api import KondadoClient
from kondado_tui.core.budget import Budget, HostBudget, RateBudget
from kondado_tui.core.budget.host_budget import FALLBACK_PER_MINUTE
from kondado_tui.core.budget.link import broker_name
from kondado_tui.core.budget.scope import scope_for
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock, SystemClock
from kondado_tui.core.config import Config, PipelineEntry, load_config
from kondado_tui.core.config.watch import ConfigChange, ConfigWatcher
from kondado_tui.core.demo_dir import make_demo_dir, remove_demo_dir
from kondado_tui.core.events import PollerEvent, SessionEvent
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.paths import default_history_path, default_ledger_path
from kondado_tui.core.poller import Poller

if TYPE_CHECKING:
    from kondado_tui.core.sim import DemoPipeline, SimServer

Listener = Callable[[SessionEvent], None]


def open_budget(
    config: Config, clock: Clock = SYSTEM_CLOCK, env: Mapping[str, str] | None = None
) -> Budget:
    """The process's rate budget: shared by every kondado-tui on this host through the
    host's broker (found or started here); the ledger when that is off (virtual time,
    `KONDADO_TUI_HOST_BUDGET=off`, not Linux) and as the fallback when no usable broker
    can be had. Without a broker, a process on the default per-login ledger asks at most
    `FALLBACK_PER_MINUTE`; with an `[api] ledger` a team shares, its configured rate."""
    api = config.api
    ledger = api.ledger or default_ledger_path()
    name, _why_off = broker_name(env)
    if name is None or not isinstance(clock, SystemClock):
        # virtual time must never meet a real-time broker
        return RateBudget(api.requests_per_minute, clock, ledger, adaptive=True)
    alone = api.requests_per_minute if api.ledger else FALLBACK_PER_MINUTE
    fallback = RateBudget(min(alone, api.requests_per_minute), clock, ledger, adaptive=True)
    scope = scope_for(api.base_url, api.key, api.token)
    return HostBudget(api.requests_per_minute, scope, name, fallback, clock=clock)


def open_client(config: Config, budget: Budget, clock: Clock = SYSTEM_CLOCK) -> KondadoClient:
    """A client whose every request goes through the host-wide rate budget.

    The caller owns (and closes) the budget: a one-shot command uses `command_api`.
    """
    return KondadoClient(
        config.api.base_url,
        config.api.key,
        config.api.token,
        timeout=config.api.timeout,
        gate=budget,
        clock=clock,
    )


@asynccontextmanager
async def command_api(
    config: Config, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[tuple[KondadoClient, Budget]]:
    """A client and its rate budget for one command; both closed on the way out, the
    budget's ledger connection too (a command may run inside a long-lived script)."""
    budget = open_budget(config, clock)
    try:
        async with open_client(config, budget, clock) as client:
            yield client, budget
    finally:
        budget.close()


def open_store(
    config: Config, clock: Clock = SYSTEM_CLOCK, *, quick_check: bool = True
) -> HistoryStore:
    """The configured history. One-shot commands pass `quick_check=False`: the check
    reads the whole file (~0.1 s at 200,000 rows) and the dashboard runs it anyway."""
    path = config.history.path or default_history_path()
    return HistoryStore(
        path,
        clock=clock,
        retention_days=config.history.retention_days,
        max_rows_per_pipeline=config.history.max_rows_per_pipeline,
        quick_check=quick_check,
    )


def open_alerts(config: Config, clock: Clock, tell: Listener, *, command: bool = True) -> AlertHub:
    """The session's alerts: every sink's one decision of new trouble (`core/alerts`),
    and the `[alerts] command` when configured (`command=False`: listeners only)."""
    runner = None
    if command and config.alerts.command:
        runner = AlertCommand(config.alerts, clock=clock, report=tell)
    return AlertHub(config.pipelines, clock.now(), tell, runner, clock=clock)


@dataclass(frozen=True)
class Engine:
    """What polls: a client on the budget, the history and the poller writing it."""

    client: KondadoClient
    store: HistoryStore | None
    poller: Poller

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.store is not None:
            self.store.close()


def open_engine(
    config: Config,
    budget: Budget,
    clock: Clock,
    ids: Iterable[int],
    on_event: Callable[[PollerEvent], None],
    with_history: bool = True,
) -> Engine:
    """A poller of `ids` on `budget` (the caller owns the budget), writing history."""
    client = open_client(config, budget, clock)
    store = open_store(config, clock) if with_history else None
    poller = Poller(client, budget, clock, ids, on_event=on_event, store=store)
    return Engine(client, store, poller)


def setup_notes(
    config: Config, extra: list[str], budget: Budget, store: HistoryStore | None
) -> list[str]:
    """Things the user should know about the set-up (shown once, not fatal): the
    config's warnings, the caller's, the budget's and the history's."""
    notes = list(config.warnings) + extra
    if budget.warning:
        notes.append(budget.warning)
    if store is not None and store.note:
        notes.append(store.note)
    return notes


def default_reload(config: Config) -> Callable[[], Config]:
    """Reads the config file again: the file and the environment, no credentials needed."""

    def reload() -> Config:
        return load_config(config.path, require_credentials=False)

    return reload


@dataclass
class Session:
    config: Config
    clock: Clock
    client: KondadoClient
    budget: Budget
    store: HistoryStore | None
    poller: Poller
    config_watcher: ConfigWatcher
    _listeners: list[Listener] = field(default_factory=list)
    _on_close: list[Callable[[], None]] = field(default_factory=list)
    alerts: AlertHub | None = None
    extra_notes: list[str] = field(default_factory=list)  # e.g. the log file's problem

    @classmethod
    def open(
        cls,
        config: Config,
        clock: Clock = SYSTEM_CLOCK,
        *,
        with_history: bool = True,
        reload: Callable[[], Config] | None = None,
        alert_command: bool = True,
    ) -> Session:
        """`reload` reads the config file again with the options `config` was loaded
        with (default: the file and the environment, no credentials needed).
        `alert_command=False`: alerts reach the listeners only (tests)."""
        budget = open_budget(config, clock)
        listeners: list[Listener] = []

        def tell(event: SessionEvent) -> None:
            for listener in list(listeners):
                listener(event)

        hub = open_alerts(config, clock, tell, command=alert_command)

        def dispatch(event: PollerEvent) -> None:
            tell(event)
            hub.feed(event)  # its alert, if it makes one, after the event itself

        engine = open_engine(
            config, budget, clock, [p.id for p in config.pipelines], dispatch, with_history
        )
        client, store, poller = engine.client, engine.store, engine.poller
        reload = reload or default_reload(config)
        watcher = ConfigWatcher(config, reload, clock)
        return cls(config, clock, client, budget, store, poller, watcher, listeners, alerts=hub)

    @property
    def notes(self) -> list[str]:
        """Things the user should know about the set-up (shown once, not fatal)."""
        return setup_notes(self.config, self.extra_notes, self.budget, self.store)

    def check_config(self, *, force: bool = False) -> ConfigChange | None:
        """Whether the config file changed since the last look (see `ConfigWatcher`)."""
        return self.config_watcher.poll(force=force)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set_entries(self, entries: Iterable[PipelineEntry]) -> None:
        """The pipelines monitored from now on: the poller asks about them, alerts name
        them (a pipeline added in the dashboard alerts under its name and group)."""
        entries = list(entries)
        self.poller.set_pipelines([entry.id for entry in entries])
        if self.alerts is not None:
            self.alerts.set_entries(entries)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    async def aclose(self) -> None:
        try:
            if self.alerts is not None:
                await self.alerts.aclose()
            await self.client.aclose()
            self.budget.close()
            if self.store is not None:
                self.store.close()
        finally:  # e.g. the demo's directory goes even if a close above failed
            for callback in self._on_close:
                callback()


def open_demo(
    clock: Clock = SYSTEM_CLOCK, speed: float | None = None, *, parent: Path | None = None
) -> Session:
    """The built-in simulator on a free loopback port, and a session on it.

    Everything it writes (config, history, ledger) goes to a temporary directory (in
    `parent`, default the system's), so the demo never touches the user's own files; the
    directory is removed when the session closes (see `demo_dir`).
    """
    from kondado_tui.core.sim import DEMO_SPEED, SimServer, SimWorld, demo_pipelines

    workdir = make_demo_dir(parent)
    world = SimWorld(clock=clock, speed=speed or DEMO_SPEED, demo=True)
    server = SimServer(world, clock=clock)
    try:
        server.start()
        session = _open_demo_session(workdir, server, demo_pipelines(world), clock)
    except BaseException:
        server.stop()
        remove_demo_dir(workdir)
        raise

    def close() -> None:
        try:
            server.stop()
        finally:
            remove_demo_dir(workdir)

    session.on_close(close)
    return session


def _open_demo_session(
    workdir: Path, server: SimServer, pipelines: Iterable[DemoPipeline], clock: Clock
) -> Session:
    config_path = workdir / "config.toml"
    document: dict[str, object] = {
        "api": {
            "base_url": server.base_url,
            "key": server.key,
            "token": server.token,
            "ledger": str(workdir / "ledger.sqlite3"),
        },
        "history": {"path": str(workdir / "history.sqlite3")},
        "pipelines": [
            {k: v for k, v in (("id", p.id), ("name", p.name), ("group", p.group)) if v}
            for p in pipelines
        ],
    }
    config_path.write_text(
        "# kondado-tui demo: the built-in simulator\n" + tomli_w.dumps(document),
        encoding="utf-8",
    )
    config_path.chmod(0o600)
    config = load_config(config_path, env={})
    return Session.open(
        config, clock, reload=lambda: load_config(config_path, env={}, require_credentials=False)
    )


__all__ = [
    "Engine",
    "Session",
    "command_api",
    "default_reload",
    "open_alerts",
    "open_budget",
    "open_client",
    "open_demo",
    "open_engine",
    "open_store",
    "setup_notes",
]
