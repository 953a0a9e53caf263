"""Whose alert command runs: a viewer leaves it to its collector only for the same
command, the same user and a pipeline the collector alerts on; what it left is run again
when the collector goes; the collector tells its viewers when its pipelines change."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from collector_helpers import until, write_config

from kondado_tui.core.alerts.command import AlertCommand
from kondado_tui.core.alerts.hub import AlertHub
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.collector.duty import RETELL_WINDOW, left_to_collector
from kondado_tui.core.collector.local import LocalBackend
from kondado_tui.core.collector.messages import AlertDuty
from kondado_tui.core.collector.shared import SharedSession
from kondado_tui.core.collector.viewer import ViewerBackend
from kondado_tui.core.config import Config, PipelineEntry, load_config
from kondado_tui.core.events import Alert, AlertKind, Role, StatusObserved
from kondado_tui.core.models import KNOWN_STATUSES, Observation, PipelineStatus
from kondado_tui.core.sim import SimServer, SimWorld

MAC = "ab" * 32
DUTY = AlertDuty(MAC, (1, 2))


@pytest.mark.parametrize(
    ("duty", "own_mac", "collector_uid", "own_uid", "left"),
    [
        (DUTY, MAC, 1000, 1000, {1, 2}),  # same command, same user: left to it
        (DUTY, MAC, 1001, 1000, set()),  # another user (root too): never
        (DUTY, MAC, 0, 1000, set()),
        (DUTY, "cd" * 32, 1000, 1000, set()),  # another command
        (None, MAC, 1000, 1000, set()),  # a collector without a command
        (DUTY, None, 1000, 1000, set()),  # this viewer has none: nothing to leave
        (AlertDuty(MAC, ()), MAC, 1000, 1000, set()),  # it alerts on no pipeline
    ],
)
def test_the_command_is_left_to_the_collector_only_when_everything_matches(
    duty: AlertDuty | None, own_mac: str | None, collector_uid: int, own_uid: int, left: set[int]
) -> None:
    assert left_to_collector(duty, own_mac, collector_uid, own_uid) == left


class Recorded:
    """An alert command that records what it is given."""

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, alert: Alert) -> None:
        self.submitted.append(alert.pipeline_id)

    async def aclose(self) -> None:
        pass


def alert(pid: int, at: float) -> Alert:  # for the decision alone
    status = KNOWN_STATUSES["error_building_tables"]
    return Alert(AlertKind.TROUBLE, pid, f"p{pid}", None, status, None, at)


def observed(pid: int, status: str, at: float) -> StatusObserved:
    return StatusObserved(pid, Observation(PipelineStatus(pid, status), at), None, at)


def test_what_was_left_is_run_again_when_the_collector_goes_if_recent() -> None:
    clock = ManualClock()
    command = Recorded()
    told: list[object] = []
    hub = AlertHub([PipelineEntry(1), PipelineEntry(2)], clock.now(), told.append, clock=clock)
    hub.command = cast(AlertCommand, command)
    hub.defer = lambda a: "the collector" if a.pipeline_id == 1 else None

    def trouble(pid: int) -> None:
        hub.feed(observed(pid, "active", clock.now()))
        clock.advance(1)
        hub.feed(observed(pid, "error_building_tables", clock.now()))
        clock.advance(1)
        hub.feed(observed(pid, "active", clock.now()))  # recovered (its throttle decides)
        clock.advance(1)

    trouble(1)  # left to the collector, long ago
    clock.advance(RETELL_WINDOW + 1)
    trouble(2)  # this process's own
    trouble(1)  # left to the collector, lately
    assert command.submitted == [2, 2]  # the trouble and the recovery
    assert sum(isinstance(e, Alert) for e in told) == 6  # every alert reached the screen
    assert hub.retell(clock.now() - RETELL_WINDOW) == 2  # the recent trouble and recovery
    assert command.submitted == [2, 2, 1, 1]
    assert hub.retell(clock.now() - RETELL_WINDOW) == 0  # told once


@pytest.fixture
def server(sim_factory: Any) -> SimServer:
    return cast(
        SimServer, sim_factory(world=SimWorld(pipelines=4, seed=3, speed=5.0), rate_limit=False)
    )


def with_command(config: Config, *words: str) -> Config:
    with config.path.open("a", encoding="utf-8") as handle:
        argv = ", ".join(f'"{w}"' for w in (sys.executable, "-c", "pass", *words))
        handle.write(f"[alerts]\ncommand = [{argv}]\n")
    return load_config(config.path, env={})


async def test_the_viewer_learns_the_collector_s_duty_and_its_changes(
    tmp_path: Path, server: SimServer
) -> None:
    ids = server.world.pipeline_ids
    a = SharedSession.open(with_command(write_config(tmp_path / "a", server, ids[:3])))
    b = SharedSession.open(with_command(write_config(tmp_path / "b", server, ids[:2])))
    c = SharedSession.open(with_command(write_config(tmp_path / "c", server, ids[:2]), "other"))
    tasks = []
    try:
        for session in (a, b, c):
            await session.poller.start()
            tasks.append(asyncio.ensure_future(session.poller.run()))
        assert a.role is Role.SERVING and isinstance(a.backend, LocalBackend)
        viewer = b.backend
        assert isinstance(viewer, ViewerBackend) and viewer.duty is not None
        assert viewer.duty.ids == tuple(sorted(ids[:3]))
        assert b._left_to_collector(alert(ids[0], 0.0)) is not None
        assert b._left_to_collector(alert(ids[3], 0.0)) is None  # not one the collector's
        assert c._left_to_collector(alert(ids[0], 0.0)) is None  # another command
        same_user = viewer.collector
        viewer.collector = dataclasses.replace(same_user, uid=same_user.uid + 1)
        assert b._left_to_collector(alert(ids[0], 0.0)) is None  # another user's collector
        viewer.collector = same_user
        a.set_entries([PipelineEntry(ids[1])])  # its config dropped some: told at once
        await until(lambda: viewer.duty is not None and viewer.duty.ids == (ids[1],))
        assert b._left_to_collector(alert(ids[0], 0.0)) is None
        assert b._left_to_collector(alert(ids[1], 0.0)) is not None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in (c, b, a):
            await session.aclose()
