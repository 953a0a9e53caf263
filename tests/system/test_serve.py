"""`kondado-tui serve`, the installed program in a process of its own, against the
simulator over real HTTP: it starts with one line, polls and writes history, runs the
alert command with nobody attached, serves dashboards (or stands by as a viewer of the
one that came first, and takes over when it ends), ends cleanly on SIGTERM (exit 0, the
account's name free at once), refuses a second serve, a squatter and a refused token in
one line each, and never writes the token anywhere."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from collector_helpers import CollectorProcess, Dashboard, address_of, until, write_config
from squatters import Babbler

from kondado_tui.cli.exitcodes import EXIT_API, EXIT_OK, EXIT_USAGE
from kondado_tui.core.config import Config
from kondado_tui.core.events import Role
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld

PROG = str(Path(sys.executable).with_name("kondado-tui"))  # this venv's installed program
SEEDED = "SEEDED-serve-T0KEN-7c3d"

RECORDER = """\
import json, os, sys
out = sys.argv[1]
n = len(os.listdir(out))
with open(os.path.join(out, f"call-{n:03d}.json"), "w") as f:
    json.dump({"env": dict(os.environ), "stdin": sys.stdin.read()}, f)
"""


class Serve:
    """`kondado-tui serve` in a process of its own, its log in `log`."""

    def __init__(self, config: Config, log: Path, *options: str) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [PROG, "--config", str(config.path), "--log-file", str(log), *options, "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert self.proc.stdout is not None
        self.first_line = self.proc.stdout.readline()  # "" when it ended instead

    @property
    def pid(self) -> int:
        return self.proc.pid

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, str, str]:
        """Send `sig`; (exit status, the rest of stdout, stderr)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def wait(self, timeout: float) -> tuple[int, str, str]:
        """Until it ends by itself: (exit status, the rest of stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""


@pytest.fixture
def serves() -> Iterator[Callable[..., Serve]]:
    made: list[Serve] = []

    def start(config: Config, log: Path, *options: str) -> Serve:
        serve = Serve(config, log, *options)
        made.append(serve)
        return serve

    yield start
    for serve in made:
        serve.kill()


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(
        world=SimWorld(pipelines=6, seed=4, speed=1.0), token=SEEDED, rate_limit=False
    )


def recorded(config: Config) -> set[int]:
    path = config.history.path
    assert path is not None
    if not path.exists():
        return set()
    store = HistoryStore(path)
    try:
        return {t.pipeline_id for t in store.transitions()}
    finally:
        store.close()


@pytest.mark.slow
async def test_serve_polls_writes_history_serves_and_ends_on_sigterm(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    ids = server.world.pipeline_ids[:3]
    config = write_config(tmp_path / "serve", server, ids)
    serve = serves(config, tmp_path / "serve.log")
    assert serve.first_line.startswith(f"kondado-tui serve (pid {serve.pid}): collecting"), (
        serve.first_line
    )
    assert "polling 3 pipelines" in serve.first_line and str(serve.log) in serve.first_line
    await until(lambda: recorded(config) == set(ids), 30)  # history, as a dashboard writes it

    # a dashboard opened now attaches to it and asks the API nothing
    board = await Dashboard(write_config(tmp_path / "board", server, ids[1:])).start()
    try:
        assert board.session.role is Role.VIEWING
        link = board.session.poller.health.collector
        assert link is not None and link.pid == serve.pid
        await until(lambda: set(board.session.known) == set(ids[1:]), 15)
    finally:
        await board.close()

    code, out, err = serve.terminate(signal.SIGTERM)
    assert (code, out, err) == (EXIT_OK, "", "")  # one line at start, then nothing
    assert "serve: ended (SIGTERM)" in serve.log_text()
    assert "serve ended with exit status 0" in serve.log_text()
    # the name is free at once: the next dashboard becomes the collector
    after = await Dashboard(write_config(tmp_path / "after", server, ids)).start()
    try:
        assert after.session.role is Role.SERVING
    finally:
        await after.close()
    everything = serve.first_line + serve.log_text()
    assert SEEDED not in everything and server.key not in everything


@pytest.mark.slow
async def test_serve_stands_by_beside_a_dashboard_and_takes_over_when_it_ends(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    ids = server.world.pipeline_ids[:4]
    dashboard = CollectorProcess(write_config(tmp_path / "dash", server, ids[:2]))
    try:
        assert dashboard.role == "serving"
        config = write_config(tmp_path / "serve", server, ids)
        serve = serves(config, tmp_path / "serve.log")
        assert "standing by" in serve.first_line, serve.first_line
        assert f"pid {dashboard.pid}" in serve.first_line
        dashboard.kill(signal.SIGTERM)
    finally:
        dashboard.stop()
    await until(lambda: "serve: collecting for this account" in serve.log_text(), 15)
    await until(lambda: recorded(config) == set(ids), 30)  # it polls (and records) now
    code, _, err = serve.terminate(signal.SIGINT)  # Ctrl-C ends it cleanly too
    assert (code, err) == (EXIT_OK, "")


@pytest.mark.slow
async def test_serve_runs_the_alert_command_with_nobody_attached(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    calls = tmp_path / "calls"
    calls.mkdir()
    pid = server.world.pipeline_ids[0]
    config = write_config(tmp_path / "serve", server, [pid])
    with config.path.open("a", encoding="utf-8") as handle:
        handle.write(f'[alerts]\ncommand = ["{sys.executable}", "{script}", "{calls}"]\n')
    serve = serves(config, tmp_path / "serve.log")
    assert "collecting" in serve.first_line, serve.first_line
    await until(lambda: recorded(config) == {pid}, 30)
    server.set_fault(
        FaultMode.FIELDS,
        fields={
            "status": "error_building_tables",
            "is_blocked": True,
            "raw_msg": f"db down: https://x/?token={SEEDED}",
        },
    )
    await until(lambda: len(list(calls.iterdir())) == 1, 60)
    call = json.loads(next(calls.iterdir()).read_text())
    assert call["env"]["KONDADO_ALERT_KIND"] == "trouble"
    assert json.loads(call["stdin"])["status"] == "error_building_tables"
    code, out, err = serve.terminate()
    assert (code, out, err) == (EXIT_OK, "", "")
    for text in (json.dumps(call), serve.log_text(), serve.first_line):
        assert SEEDED not in text


def test_a_second_serve_of_this_login_is_refused(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    config = write_config(tmp_path / "serve", server, server.world.pipeline_ids[:1])
    first = serves(config, tmp_path / "first.log")
    assert "collecting" in first.first_line
    second = serves(config, tmp_path / "second.log")
    code, out, err = second.terminate()
    assert code == EXIT_USAGE and second.first_line == "" and out == ""
    assert err == (
        f"kondado-tui: another 'kondado-tui serve' for this account already runs (pid "
        f"{first.pid}): stop it first (under systemd: systemctl --user stop kondado-tui)\n"
    )


def test_serve_refuses_to_start_beside_a_squatter(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    config = write_config(tmp_path / "serve", server, server.world.pipeline_ids[:1])
    squatter = Babbler(address_of(config))
    try:
        serve = serves(config, tmp_path / "serve.log")
        code, out, err = serve.terminate()
    finally:
        squatter.close()
    assert code == EXIT_USAGE and serve.first_line == "" and out == ""
    assert err.startswith("kondado-tui: serve will not start: the process holding this")
    assert "not the protocol" in err and len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_serve_with_a_refused_token_says_so_and_exits_3(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    config = write_config(
        tmp_path / "serve", server, server.world.pipeline_ids[:1], token="wrong-token-123"
    )
    serve = serves(config, tmp_path / "serve.log")
    code, out, err = serve.wait(30)  # it ends by itself
    assert code == EXIT_API, (serve.first_line, out, err)
    assert "kondado-tui: serve stopped: the API refused the key or token" in err
    assert "check key and token" in err and "Traceback" not in err
    assert "wrong-token-123" not in serve.first_line + out + err + serve.log_text()


def test_serve_without_a_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [PROG, "--config", str(tmp_path / "nope.toml"), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert done.returncode == EXIT_USAGE and done.stdout == ""
    assert done.stderr.startswith("kondado-tui: ") and "Traceback" not in done.stderr


def test_sigterm_while_standing_by_ends_at_once(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    ids = server.world.pipeline_ids[:2]
    dashboard = CollectorProcess(write_config(tmp_path / "dash", server, ids))
    try:
        serve = serves(write_config(tmp_path / "serve", server, ids), tmp_path / "s.log")
        assert "standing by" in serve.first_line
        started = time.monotonic()
        code, out, err = serve.terminate()
        assert (code, out, err) == (EXIT_OK, "", "")
        assert time.monotonic() - started < 10
    finally:
        dashboard.stop()


@pytest.mark.slow
async def test_serve_polls_a_pipeline_added_to_its_config_while_it_runs(
    tmp_path: Path, server: SimServer, serves: Callable[..., Serve]
) -> None:
    ids = server.world.pipeline_ids[:2]
    config = write_config(tmp_path / "serve", server, ids[:1])
    serve = serves(config, tmp_path / "serve.log")
    assert "polling 1 pipeline " in serve.first_line, serve.first_line
    await until(lambda: recorded(config) == {ids[0]}, 30)
    with config.path.open("a", encoding="utf-8") as handle:
        handle.write(f'[[pipelines]]\nid = {ids[1]}\nname = "Added"\n')
    os.kill(serve.pid, signal.SIGHUP)  # look now (it would within 5 s anyway)
    await until(lambda: recorded(config) == set(ids), 30)
    assert f"added Added ({ids[1]})" in serve.log_text()
    code, out, err = serve.terminate()
    assert (code, out, err) == (EXIT_OK, "", "")
