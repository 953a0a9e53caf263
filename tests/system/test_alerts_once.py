"""The alert command runs once per trouble on a host: `kondado-tui serve` (the installed
program, in a process of its own) is the account's collector, a dashboard (a
`SharedSession` in this process, with the alert command on) views it. Against an
independent API over real HTTP and real sockets. With the same command, one run for one
new trouble; with another command, each runs its own; when the collector is killed, the
former viewer runs its own at once (a duplicate of the last trouble rather than a miss)
and for the next trouble."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from altapi import AltApi
from collector_helpers import Dashboard, until

from kondado_tui.core.collector.viewer import ViewerBackend
from kondado_tui.core.config import Config, load_config
from kondado_tui.core.events import Alert, Role

PROG = str(Path(sys.executable).with_name("kondado-tui"))  # this venv's installed program

# Unique file names: two processes running it at once must not overwrite each other's
# record (that would hide the very duplicate these tests look for).
RECORDER = """\
import json, os, sys, time
out = sys.argv[1]
name = f"call-{time.time_ns()}-{os.getpid()}.json"
with open(os.path.join(out, name), "w") as f:
    json.dump({"argv": sys.argv[1:], "env": dict(os.environ), "stdin": sys.stdin.read()}, f)
"""


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, chunked=False).start()
    yield api
    api.stop()


def write_config(directory: Path, alt: AltApi, command: list[str]) -> Config:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    argv = ", ".join(json.dumps(word) for word in command)
    path.write_text(
        f'[api]\nbase_url = "{alt.base_url}"\nkey = "{alt.key}"\ntoken = "{alt.token}"\n'
        f'ledger = "{directory / "ledger.sqlite3"}"\n'
        f"[alerts]\ncommand = [{argv}]\nrepeat_minutes = 0\n"
        '[[pipelines]]\nid = 101\nname = "Orders"\n[[pipelines]]\nid = 102\nname = "Stock"\n'
    )
    path.chmod(0o600)
    return load_config(path, env={})


def calls_in(directory: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(directory.iterdir())]


def ran_for(directory: Path) -> list[int]:
    """The pipeline each recorded run was about, in order."""
    return [json.loads(str(call["stdin"]))["pipeline_id"] for call in calls_in(directory)]


class Serve:
    """`kondado-tui serve` in a process of its own."""

    def __init__(self, config: Config, log: Path) -> None:
        self.proc = subprocess.Popen(
            [PROG, "--config", str(config.path), "--log-file", str(log), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert self.proc.stdout is not None
        self.first_line = self.proc.stdout.readline()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        self.proc.communicate(timeout=15)


@pytest.fixture
def recorder(tmp_path: Path) -> Callable[[str], tuple[list[str], Path]]:
    script = tmp_path / "record.py"
    script.write_text(RECORDER)

    def make(name: str, *extra: str) -> tuple[list[str], Path]:
        calls = tmp_path / name
        calls.mkdir(exist_ok=True)
        return [sys.executable, str(script), str(calls), *extra], calls

    return make


def alerted(viewer: Dashboard) -> list[int]:
    """The pipelines the dashboard was told of new trouble for (its bell), in order."""
    return [e.pipeline_id for e in viewer.events if isinstance(e, Alert)]


async def break_pipeline(alt: AltApi, viewer: Dashboard, pid: int) -> None:
    """`pid` answered normally to both; now it fails (asked at once through the viewer)."""
    await until(lambda: pid in viewer.session.known, 20)
    alt.pipelines[pid].update(status="error_building_tables", is_blocked=True, raw_msg="db down")
    viewer.session.poller.request_now(pid)


async def serve_and_view(
    tmp_path: Path, alt: AltApi, serve_argv: list[str], viewer_argv: list[str]
) -> tuple[Serve, Dashboard]:
    serve = Serve(write_config(tmp_path / "serve", alt, serve_argv), tmp_path / "serve.log")
    assert "collecting" in serve.first_line, serve.first_line
    config = write_config(tmp_path / "dash", alt, viewer_argv)
    viewer = await Dashboard(config, alert_command=True).start()
    assert viewer.session.role is Role.VIEWING
    assert isinstance(viewer.session.backend, ViewerBackend)
    return serve, viewer


@pytest.mark.slow
async def test_serve_and_a_dashboard_with_the_same_command_run_it_once(
    tmp_path: Path, alt: AltApi, recorder: Callable[..., tuple[list[str], Path]]
) -> None:
    argv, calls = recorder("calls")
    serve, viewer = await serve_and_view(tmp_path, alt, argv, argv)
    try:
        backend = viewer.session.backend
        assert isinstance(backend, ViewerBackend) and backend.duty is not None
        assert set(backend.duty.ids) == {101, 102}
        await break_pipeline(alt, viewer, 101)
        await until(lambda: alerted(viewer) == [101], 20)  # its own bell still rings
        await until(lambda: len(calls_in(calls)) >= 1, 20)
        await asyncio.sleep(2.0)  # room for a second run, were there one
        assert ran_for(calls) == [101]
    finally:
        await viewer.close()
        serve.kill(signal.SIGTERM)


@pytest.mark.slow
async def test_a_dashboard_with_another_command_runs_its_own(
    tmp_path: Path, alt: AltApi, recorder: Callable[..., tuple[list[str], Path]]
) -> None:
    serve_argv, serve_calls = recorder("serve-calls")
    viewer_argv, viewer_calls = recorder("viewer-calls", "--mine")
    serve, viewer = await serve_and_view(tmp_path, alt, serve_argv, viewer_argv)
    try:
        await break_pipeline(alt, viewer, 101)
        await until(
            lambda: len(calls_in(serve_calls)) >= 1 and len(calls_in(viewer_calls)) >= 1, 20
        )
        await asyncio.sleep(1.0)
        assert ran_for(serve_calls) == [101] and ran_for(viewer_calls) == [101]
        assert calls_in(viewer_calls)[0]["argv"][-1] == "--mine"  # type: ignore[index]
    finally:
        await viewer.close()
        serve.kill(signal.SIGTERM)


@pytest.mark.slow
async def test_after_its_collector_is_killed_the_viewer_runs_its_own_at_once(
    tmp_path: Path, alt: AltApi, recorder: Callable[..., tuple[list[str], Path]]
) -> None:
    argv, calls = recorder("calls")
    serve, viewer = await serve_and_view(tmp_path, alt, argv, argv)
    try:
        await break_pipeline(alt, viewer, 101)
        await until(lambda: ran_for(calls) == [101], 20)  # serve ran it; the viewer did not
        serve.kill()  # SIGKILL: no goodbye
        # It takes over and runs its own for what it left to the collector in the last
        # minute: a duplicate of 101 (the collector may not have run it) rather than a miss.
        await until(lambda: viewer.session.role is Role.SERVING, 20)
        await until(lambda: ran_for(calls) == [101, 101], 20)
        await break_pipeline(alt, viewer, 102)  # the next trouble: its own command runs
        await until(lambda: ran_for(calls) == [101, 101, 102], 20)
    finally:
        await viewer.close()
        serve.kill()
