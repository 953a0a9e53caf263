"""Days in a tmux pane: the real `kondado-tui` in a real tmux, attached and detached.

A private tmux server (its own socket, no user config) runs the dashboard in a detached
120x36 session. A client attaches from a pseudo-terminal of another size and detaches;
the window is resized with no client at all; keys arrive through `send-keys`. After each
step `capture-pane` must show a sane dashboard at the window's size, and killing the
session (SIGHUP to the pane) must end the program cleanly.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kondado_tui.core.sim import SimServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _pty  # the shared pty helper lives beside the benchmarks

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.slow,  # ~12 s: a real tmux server, attach, detach, resize; ~30 s: kills
]

WAIT = 30.0


class Tmux:
    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=20,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> list[str]:
        return self("capture-pane", "-p", "-t", "kt").splitlines()

    def wait_screen(self, wanted: str, what: str) -> list[str]:
        deadline = time.monotonic() + WAIT
        lines: list[str] = []
        while time.monotonic() < deadline:
            lines = self.screen()
            if any(wanted in line for line in lines):
                return lines
            time.sleep(0.1)
        raise AssertionError(f"{what}: {wanted!r} never shown; screen:\n" + "\n".join(lines))

    def size(self) -> tuple[int, int]:
        width, height = self("display", "-p", "-t", "kt", "#{pane_width} #{pane_height}").split()
        return int(width), int(height)


@pytest.fixture
def tmux(tmp_path: Path, sim_factory: object) -> Iterator[tuple[Tmux, Path]]:
    assert callable(sim_factory)
    server = sim_factory(rate_limit=False, pipelines=10, seed=8)
    assert isinstance(server, SimServer)
    config = _pty.sim_config(
        tmp_path,
        server.base_url,
        server.key,
        server.token,
        server.world.pipeline_ids,
        requests_per_minute=20,
    )
    env = _pty.terminal_env({"TMUX_TMPDIR": str(tmp_path)})
    control = Tmux(f"kondado-test-{secrets.token_hex(4)}", env)
    command = f"{sys.executable} -m kondado_tui --config {config}"
    control("new-session", "-d", "-s", "kt", "-x", "120", "-y", "36", command)
    try:
        yield control, config
    finally:
        control("kill-server", check=False)


def assert_sane(lines: list[str], width: int, height: int) -> None:
    text = "\n".join(lines)
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines), "a line wider than the window"
    assert "\x1b" not in text and "[?" not in text, "escape sequences shown as text"
    assert "bench-" in text, "no pipeline rows"
    assert "status" in text and "name" in text, "no column headers"
    assert "req/min" in text, "no status line"
    assert "Traceback" not in text


def test_attach_detach_resize_and_kill(tmux: tuple[Tmux, Path]) -> None:
    control, config = tmux
    assert_sane(control.wait_screen("req/min", "first start"), 120, 36)
    pid = int(control("display", "-p", "-t", "kt", "#{pane_pid}"))

    # attach from a smaller terminal: tmux resizes the window to the client
    client = _pty.spawn(
        ["tmux", "-L", control.socket, "-f", "/dev/null", "attach", "-t", "kt"],
        size=(90, 28),
        env=control.env,
    )
    try:
        deadline = time.monotonic() + WAIT
        while control.size() != (90, 27) and control.size() != (90, 28):
            assert time.monotonic() < deadline, f"window not resized: {control.size()}"
            time.sleep(0.1)
        time.sleep(1.0)  # the app repaints at the new size
        width, height = control.size()
        assert_sane(control.wait_screen("req/min", "attached"), width, height)
        control("detach-client", "-s", "kt")
        assert client.wait(10) is not None, "the tmux client did not detach"
    finally:
        client.stop()

    # no client at all: resize the window, keys through send-keys
    control("resize-window", "-t", "kt", "-x", "140", "-y", "40")
    time.sleep(1.0)
    assert control.size() == (140, 40)
    assert_sane(control.wait_screen("req/min", "resized while detached"), 140, 40)
    control("send-keys", "-t", "kt", "?")
    control.wait_screen("command palette", "help after the detach")
    control("send-keys", "-t", "kt", "Escape")
    time.sleep(0.5)
    assert_sane(control.wait_screen("req/min", "back from help"), 140, 40)
    os.kill(pid, 0)  # still running

    # kill-session hangs the pane up: the program ends cleanly (history closed)
    control("kill-session", "-t", "kt")
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "still running 10 s after kill-session"
        time.sleep(0.1)
    assert not (config.parent / "history.sqlite3-wal").exists(), "history not closed"
    assert (config.parent / "history.sqlite3").exists()


KILLS = 8  # each ~3 s; one in nine hung for ever before the fix (quiet_driver.py)
GONE_WITHIN = 5.0  # s; a clean end takes well under 1 s, the shutdown deadline 10 s


def test_kill_server_under_load_ends_it_every_time(tmp_path: Path, sim_factory: object) -> None:
    """`tmux kill-server` with a busy core: the kernel sends SIGHUP and SIGCONT at once,
    the input thread reads the hang-up, the writer fails: every time, the program must be
    gone within a bound shorter than the shutdown deadline, and by its own clean shutdown
    (the history closed: SQLite removed its write-ahead log)."""
    assert callable(sim_factory)
    server = sim_factory(rate_limit=False, pipelines=30, seed=9)
    assert isinstance(server, SimServer)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    rng = random.Random(17)
    try:
        for kill in range(KILLS):
            home = tmp_path / f"kill{kill}"
            home.mkdir()
            config = _pty.sim_config(
                home,
                server.base_url,
                server.key,
                server.token,
                server.world.pipeline_ids,
                requests_per_minute=20,
            )
            control = Tmux(
                f"kondado-test-{secrets.token_hex(4)}",
                _pty.terminal_env({"TMUX_TMPDIR": str(home)}),
            )
            command = f"{sys.executable} -m kondado_tui --config {config}"
            control("new-session", "-d", "-s", "kt", "-x", "120", "-y", "36", command)
            try:
                pid = int(control("display", "-p", "-t", "kt", "#{pane_pid}"))
                control.wait_screen("req/min", f"start {kill}")
                time.sleep(rng.uniform(0.0, 2.0))  # anywhere in the first sweep's paints
            finally:
                control("kill-server", check=False)
            killed_at = time.monotonic()
            while _running(pid):
                took = time.monotonic() - killed_at
                if took >= GONE_WITHIN:
                    os.kill(pid, signal.SIGKILL)  # not left behind by a failing test
                    raise AssertionError(f"kill {kill}: still running {took:.1f} s later")
                time.sleep(0.02)
            history = home / "history.sqlite3"
            assert history.exists()
            assert not Path(f"{history}-wal").exists(), f"kill {kill}: history not closed"
    finally:
        busy.kill()
        busy.wait()


def _running(pid: int) -> bool:
    """Alive and not a zombie (tmux is gone: init reaps the pane's process)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
