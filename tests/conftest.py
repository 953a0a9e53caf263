"""Shared fixtures. Snapshots break when NO_COLOR or TEXTUAL_THEME leak in: clear them."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kondado_tui.core import logfile
from kondado_tui.core.guards import redact
from kondado_tui.core.sim import SimServer, SimWorld

for _var in (
    "NO_COLOR",
    "TEXTUAL_THEME",
    "KONDADO_KEY",
    "KONDADO_TOKEN",
    "KONDADO_BASE_URL",
    "KONDADO_TUI_CONFIG",
):
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's state dir (history, ledger, the default log file) is its own, and no
    test leaves a log file open for the next: `main()` starts one like the program."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    yield
    logfile.stop()


@pytest.fixture(autouse=True)
def _own_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets a test registers (every config load registers its key and token) are
    forgotten after it: in one worker process, a test's token "other" would otherwise
    mask the word in every later test's output."""
    monkeypatch.setattr(redact, "_secrets", set(redact._secrets))
    monkeypatch.setattr(redact, "_pattern", redact._pattern)
    monkeypatch.setattr(redact, "_base64_cores", redact._base64_cores)


# -- the host budget's broker ----------------------------------------------------------

_BROKER_NAMES = itertools.count()


@pytest.fixture(autouse=True)
def host_budget_name(monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test gets a broker name of its own (its subprocesses inherit it): tests never
    meet each other's brokers, the host's real one, or other suites run on this machine
    at the same time. A test that wants none sets KONDADO_TUI_HOST_BUDGET=off."""
    name = f"kondado-tui-test/{os.getpid()}/{next(_BROKER_NAMES)}"
    monkeypatch.setenv("KONDADO_TUI_HOST_BUDGET", name)
    return name


@pytest.fixture(autouse=True)
def collector_prefix(monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test's account collectors get names of their own (its subprocesses inherit
    them): tests never attach to each other's collectors, nor to a dashboard someone
    runs on this machine. A test that wants none sets KONDADO_TUI_COLLECTOR=off."""
    prefix = f"kondado-tui-test/collector/{os.getpid()}/{next(_BROKER_NAMES)}"
    monkeypatch.setenv("KONDADO_TUI_COLLECTOR", prefix)
    return prefix


# -- the simulated API -----------------------------------------------------------------

SimFactory = Callable[..., SimServer]


@pytest.fixture
def sim_factory() -> Iterator[SimFactory]:
    """Build started simulators: `sim_factory(rps=1, rpm=20, clock=clock, seed=3, ...)`.

    Keyword arguments go to SimWorld (pipelines, seed, speed, demo) or SimServer (the
    rest); `world=` passes a ready world. Rate limits are the documented ones unless
    `rate_limit=False`. Every server is stopped at teardown.
    """
    servers: list[SimServer] = []
    world_keys = {"pipelines", "seed", "speed", "demo"}

    def make(**options: Any) -> SimServer:
        world = options.pop("world", None)
        world_options = {k: options.pop(k) for k in list(options) if k in world_keys}
        if world is None:
            if "clock" in options:
                world_options["clock"] = options["clock"]
            world = SimWorld(**world_options)
        server = SimServer(world, **options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    problems = [error for server in servers for error in server.errors]
    assert not problems, f"the simulator failed while handling requests: {problems}"


@pytest.fixture
def sim(sim_factory: SimFactory) -> SimServer:
    """A started simulator on a free port, rate limits off (functional tests run fast)."""
    return sim_factory(rate_limit=False)
