"""A poller and session that emit the same events as the real ones, driven by hand,
and the dashboard built on them (`build`, `seed`) with the helpers its tests read it by.

For UI tests that need exact control (alerts, banners, snapshots); tests that can use
the simulator over real HTTP do so instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from kondado_tui.core.alerts.hub import AlertHub
from kondado_tui.core.clock import Clock, ManualClock
from kondado_tui.core.config import ApiSettings, Config, HistorySettings, PipelineEntry, UiSettings
from kondado_tui.core.config.watch import ConfigChange, ConfigWatcher
from kondado_tui.core.errors import FailureKind, Rejected
from kondado_tui.core.events import (
    Connection,
    Health,
    HealthChanged,
    PipelineFailed,
    PollerEvent,
    SessionEvent,
    StatusObserved,
    refusal_of,
)
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.ui.app import KondadoApp


class FakePoller:
    def __init__(self, clock: Clock, ids: Iterable[int]) -> None:
        self.clock = clock
        self.ids = list(ids)
        self.listeners: list[Callable[[PollerEvent], None]] = []
        self._health = Health(
            Connection.OK,
            budget_per_minute=18,
            max_age=120.0,
            last_success_at=clock.now(),
            next_poll_at=clock.now() + 3,
        )
        self._observations: dict[int, Observation] = {}
        self._since: dict[int, float] = {}
        self.calls: list[tuple[str, Any]] = []
        self.run_answers: dict[int, str | Exception] = {}
        self.status_answers: dict[int, PipelineStatus | str] = {}  # for request_now
        self.running = False

    # -- what tests call ---------------------------------------------------------------
    def emit(self, event: PollerEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

    def observe(
        self,
        pid: int,
        status: str,
        raw_msg: str | None = None,
        at: float | None = None,
        since: float | None = None,
        first_seen: bool = False,
    ) -> None:
        at = self.clock.now() if at is None else at
        obs = Observation(
            PipelineStatus(
                pid,
                status,
                is_running=status == "running",
                is_active=status != "not_active",
                is_blocked=status.endswith("blocked"),
                raw_msg=raw_msg,
            ),
            at,
        )
        previous = self._observations.get(pid)
        if previous is None or not obs.status.same_state(previous.status):
            self._since[pid] = at if since is None else since
        self._observations[pid] = obs
        self.emit(StatusObserved(pid, obs, previous, self._since[pid], since_first_seen=first_seen))

    def set_health_quietly(self, **changes: Any) -> None:
        self._health = dataclasses.replace(self._health, **changes)

    def set_health(self, **changes: Any) -> None:
        self._health = dataclasses.replace(self._health, **changes)
        self.emit(HealthChanged(self._health))

    # -- the PollerLike surface -----------------------------------------------------------
    async def start(self) -> None:
        """The real poller replays history here; the fake's history is what tests emit."""

    async def run(self) -> None:
        self.running = True
        try:
            await asyncio.Event().wait()
        finally:
            self.running = False

    def set_pipelines(self, ids: Iterable[int]) -> None:
        self.ids = list(ids)
        self.calls.append(("set_pipelines", list(self.ids)))

    def focus(self, pipeline_id: int | None, *, pinned: bool = False) -> None:
        self.calls.append(("focus_pinned" if pinned else "focus", pipeline_id))

    def user_active(self) -> None:
        self.calls.append(("user_active", None))

    def request_now(self, pipeline_id: int) -> None:
        self.calls.append(("request_now", pipeline_id))
        answer = self.status_answers.get(pipeline_id)
        if isinstance(answer, PipelineStatus):
            loop = asyncio.get_running_loop()
            loop.call_soon(self.observe, pipeline_id, answer.status, answer.raw_msg)
        elif isinstance(answer, str):
            # classified as the real poller does, by the one classifier
            event = PipelineFailed(
                pipeline_id,
                FailureKind.REJECTED,
                answer,
                self.clock.now(),
                refusal=refusal_of(Rejected(answer)),
            )
            asyncio.get_running_loop().call_soon(self.emit, event)

    def follow(self, pipeline_id: int) -> None:
        self.calls.append(("follow", pipeline_id))

    def pause(self) -> None:
        self.calls.append(("pause", None))
        self._health = dataclasses.replace(self._health, paused=True)

    def resume(self) -> None:
        self.calls.append(("resume", None))
        self._health = dataclasses.replace(self._health, paused=False)

    @property
    def health(self) -> Health:
        return self._health

    @property
    def observations(self) -> dict[int, Observation]:
        return dict(self._observations)

    async def run_pipeline(self, pipeline_id: int) -> str:
        self.calls.append(("run_pipeline", pipeline_id))
        answer = self.run_answers.get(pipeline_id, "")
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def duplicate(self, body: dict[str, Any]) -> int:
        self.calls.append(("duplicate", body))
        return 999


class FakeSession:
    """The real session's wiring on a FakePoller: its events reach the listeners, then
    the core's alert decision (`AlertHub`), whose alerts reach the listeners too."""

    def __init__(
        self, config: Config, poller: FakePoller, store: Any = None, notes: list[str] | None = None
    ) -> None:
        self.config = config
        self.poller = poller
        self.store = store
        self.notes = notes or []
        self.closed = False
        self.watcher: ConfigWatcher | None = None  # set by tests that edit the file
        self.listeners: list[Callable[[SessionEvent], None]] = []
        self.alerts = AlertHub(config.pipelines, poller.clock.now(), self.tell)
        poller.listeners.append(self._dispatch)

    def tell(self, event: SessionEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

    def _dispatch(self, event: PollerEvent) -> None:
        self.tell(event)
        self.alerts.feed(event)

    def subscribe(self, listener: Callable[[SessionEvent], None]) -> None:
        self.listeners.append(listener)

    def set_entries(self, entries: Iterable[PipelineEntry]) -> None:
        entries = list(entries)
        self.poller.set_pipelines([entry.id for entry in entries])
        self.alerts.set_entries(entries)

    def check_config(self, *, force: bool = False) -> ConfigChange | None:
        return self.watcher.poll(force=force) if self.watcher is not None else None

    async def aclose(self) -> None:
        self.closed = True


def make_config(
    path: Path,
    pipelines: Iterable[PipelineEntry],
    *,
    read_only: bool = False,
    bell: bool = True,
    desktop_notify: bool = False,
) -> Config:
    return Config(
        path=path,
        api=ApiSettings(base_url="http://127.0.0.1:9", key="k", token="t"),
        ui=UiSettings(read_only=read_only, bell=bell, desktop_notify=desktop_notify),
        history=HistorySettings(),
        pipelines=tuple(pipelines),
    )


ENTRIES = (
    PipelineEntry(2040, "Orders to warehouse", "ecommerce"),
    PipelineEntry(2041, "Customers", "ecommerce"),
    PipelineEntry(3100, "Facebook Ads", "marketing"),
    PipelineEntry(3101, "Google Ads", "marketing"),
    PipelineEntry(4200, None, None),
)

_ = Rejected  # re-exported for tests that raise API refusals

# -- the dashboard on a FakePoller ----------------------------------------------------

SIZE = (120, 36)


def messages(app: KondadoApp) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


def screen_text(app: KondadoApp) -> str:
    return app.export_screenshot().replace("&#160;", " ")


def plain(app: KondadoApp, pid: int, column: str) -> str:
    cells = app.main.table.cells(str(pid))
    assert cells is not None, f"row {pid} not shown"
    return cells[column].plain


def build(
    tmp_path: Path,
    *,
    read_only: bool = False,
    desktop_notify: bool = False,
    entries: tuple[PipelineEntry, ...] = ENTRIES,
    store: Any = None,
) -> tuple[KondadoApp, FakePoller]:
    clock = ManualClock(frozen=True)
    poller = FakePoller(clock, [e.id for e in entries])
    config_path = tmp_path / "config.toml"
    lines = ['[api]\nkey = "k"\ntoken = "t"\n']
    for e in entries:
        lines.append(f"\n[[pipelines]]\nid = {e.id}\n")
    config_path.write_text("".join(lines))
    config = make_config(config_path, entries, read_only=read_only, desktop_notify=desktop_notify)
    app = KondadoApp(FakeSession(config, poller, store), clock=clock, env={"TERM": "xterm"})
    return app, poller


def seed(poller: FakePoller) -> None:
    poller.observe(2040, "active")
    poller.observe(2041, "running")
    poller.observe(3100, "error_building_tables", "could not create table orders")
    poller.observe(3101, "not_active")


def record_bells(app: KondadoApp, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The terminal bells the app rings from now on (one 1 each)."""
    bells: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    return bells
