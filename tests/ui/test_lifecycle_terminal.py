"""The real `kondado-tui` on a pseudo-terminal: how it ends, and how it survives resizes.

Each test starts the program as a child process on a fresh pty (its controlling
terminal), pointed at a simulator served by the test over loopback HTTP, and watches
what reaches the "terminal". These are real-time tests of a few seconds each.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kondado_tui.core.sim import SimServer
from kondado_tui.ui.terminal.quiet_driver import INPUT_THREAD

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _pty  # the shared pty helper lives beside the benchmarks

PIPELINES = 12
STARTUP = 30.0  # generous: the CI machine is shared
RESTORE = (b"\x1b[?1049l", b"\x1b[?25h")  # leave the alternate screen, show the cursor


@pytest.fixture
def server(sim_factory: object) -> SimServer:
    assert callable(sim_factory)
    made = sim_factory(rate_limit=False, pipelines=PIPELINES, seed=4)
    assert isinstance(made, SimServer)
    return made


@pytest.fixture
def config(tmp_path: Path, server: SimServer) -> Path:
    return _pty.sim_config(
        tmp_path,
        server.base_url,
        server.key,
        server.token,
        server.world.pipeline_ids,
        requests_per_minute=20,
        timeout=2.0,
    )


@pytest.fixture
def started(config: Path) -> Iterator[_pty.PtyProcess]:
    child = _pty.spawn([*_pty.KONDADO, "--config", str(config)])
    try:
        first = _pty.pipeline_name(min(_ids(config)))
        assert child.wait_for(first.encode(), STARTUP), _failure(child, "no table painted")
        yield child
    finally:
        child.stop()


def _ids(config: Path) -> list[int]:
    return [
        int(line.split("=")[1])
        for line in config.read_text().splitlines()
        if line.startswith("id = ")
    ]


def _failure(child: _pty.PtyProcess, what: str) -> str:
    tail = child.output()[-2000:].decode("utf-8", "replace")
    return f"{what}; exit status {child.process.poll()}; last output:\n{tail}"


def _wait_gone(child: _pty.PtyProcess, timeout: float) -> int | None:
    return child.wait(timeout)


def _history_rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:  # closed: the WAL check below
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return sum(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)


def _wait_for_history(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and _history_rows(path) > 0:
            return
        time.sleep(0.2)
    raise AssertionError("the dashboard recorded nothing in its history")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_ends_it_cleanly(
    started: _pty.PtyProcess, config: Path, signum: signal.Signals
) -> None:
    history = config.parent / "history.sqlite3"
    _wait_for_history(history, STARTUP)
    config_before = config.read_bytes()
    output_before = len(started.output())
    started.signal(signum)
    status = _wait_gone(started, 10)
    assert status == 128 + signum, _failure(started, f"did not end cleanly on {signum.name}")
    time.sleep(0.3)  # the last bytes drain from the pty
    tail = started.output()[output_before:]
    for sequence in RESTORE:
        assert sequence in tail, f"terminal not restored: {sequence!r} missing"
    assert b"Traceback" not in started.output()
    assert started.master is not None
    lflags = termios.tcgetattr(started.master)[3]
    assert lflags & termios.ICANON and lflags & termios.ECHO, "line mode not restored"
    assert config.read_bytes() == config_before
    # closed, not killed: SQLite checkpointed and removed its write-ahead log
    assert not Path(f"{history}-wal").exists()
    assert _history_rows(history) > 0


@pytest.mark.parametrize("hup", ["delivered", "blocked"])
def test_a_lost_terminal_ends_it_without_burning_cpu(
    started: _pty.PtyProcess, hup: str, config: Path
) -> None:
    """SSH dropped without tmux: the pty master closes. Without a SIGHUP the old behaviour
    was an orphan spinning on end-of-file at half a core, for ever.

    `blocked`: the SIGHUP never arrives, so only the input thread's hang-up report can end
    it. Blocked, not ignored: the lifecycle installs its own SIGHUP handler over an
    inherited SIG_IGN (nohup), so an ignoring child still ended by the signal and this case
    passed with the hang-up report broken."""
    if hup == "blocked":  # a fresh child whose threads all block SIGHUP
        started.stop()
        code = (
            "import signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP}); "
            "from kondado_tui.cli.main import main; "
            f"sys.exit(main(['--config', {str(config)!r}]))"
        )
        child = _pty.spawn([sys.executable, "-c", code])
        name = _pty.pipeline_name(min(_ids(config))).encode()
        assert child.wait_for(name, STARTUP), _failure(child, "no table painted")
    else:
        child = started
    try:
        time.sleep(0.5)
        cpu_before = child.cpu_seconds()
        closed_at = time.monotonic()
        child.close_master()
        cpu_last = cpu_before
        while child.alive and time.monotonic() - closed_at < 10:
            cpu_last = child.cpu_seconds() or cpu_last
            time.sleep(0.05)
        assert not child.alive, "still running 10 s after its terminal went away"
        assert time.monotonic() - closed_at < 5
        assert cpu_last - cpu_before < 2.0, f"burnt {cpu_last - cpu_before:.2f} s of CPU"
        assert child.process.returncode in (128 + signal.SIGHUP, -signal.SIGHUP)
    finally:
        child.stop()


def test_a_resize_storm_leaves_it_working(started: _pty.PtyProcess) -> None:
    sizes = [(40, 10), (200, 60), (20, 5), (120, 36), (81, 23), (300, 90), (60, 15)]
    for n in range(40):
        started.resize(*sizes[n % len(sizes)])
        time.sleep(0.01)
    started.resize(100, 30)
    assert started.wait_quiet(0.5, 10)
    mark = time.monotonic()
    started.write(b"?")  # the help screen
    assert started.wait_for(b"command palette", 10, since=mark), _failure(
        started, "no help screen after the storm"
    )
    assert started.alive
    started.write(b"\x1b")  # back (a lone ESC is told apart from alt+key after 100 ms)
    time.sleep(0.5)
    started.write(b"q")
    assert _wait_gone(started, 10) == 0, _failure(started, "q did not quit")
    assert b"Traceback" not in started.output()


@pytest.mark.parametrize("ending", ["q", "SIGTERM", "SIGHUP", "hang-up"])
def test_the_demo_leaves_no_directory_behind(tmp_path: Path, ending: str) -> None:
    """`--demo` writes to a kondado-tui-demo-* directory in the temporary folder; every
    ordinary end removes it (it once stayed behind after every demo)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = _pty.terminal_env({"TMPDIR": str(temp), "XDG_STATE_HOME": str(tmp_path / "state")})
    child = _pty.spawn([*_pty.KONDADO, "--demo"], env=env)
    try:
        deadline = time.monotonic() + STARTUP
        while not list(temp.glob("kondado-tui-demo-*/history.sqlite3")):
            assert time.monotonic() < deadline, _failure(child, "no demo directory")
            time.sleep(0.1)
        (workdir,) = list(temp.glob("kondado-tui-demo-*"))
        _wait_for_history(workdir / "history.sqlite3", STARTUP)
        if ending == "q":
            child.write(b"q")
        elif ending == "hang-up":
            child.close_master()
        else:
            child.signal(getattr(signal, ending))
        assert _wait_gone(child, 10) is not None, _failure(child, f"still running after {ending}")
        assert not workdir.exists(), f"{workdir.name} left behind after {ending}"
        assert list(temp.iterdir()) == []
    finally:
        child.stop()


def _input_threads(child: _pty.PtyProcess) -> int:
    names = []
    for task in Path(f"/proc/{child.pid}/task").iterdir():
        with contextlib.suppress(OSError):
            names.append((task / "comm").read_text().strip())
    return names.count(INPUT_THREAD)


def test_a_stray_sigcont_starts_no_second_input_thread(started: _pty.PtyProcess) -> None:
    """The kernel sends SIGCONT with the SIGHUP of every hang-up (and anyone may send one).
    Textual restarted application mode on it: a second writer and input thread, keys split
    between two readers, and a shutdown that could hang for ever joining the second."""
    assert _input_threads(started) == 1
    for _ in range(3):
        started.signal(signal.SIGCONT)
        time.sleep(0.3)
    assert _input_threads(started) == 1
    started.write(b"q")
    assert _wait_gone(started, 10) == 0, _failure(started, "q did not quit after SIGCONT")


def _suspend(child: _pty.PtyProcess) -> None:
    child.signal(signal.SIGTSTP)
    deadline = time.monotonic() + 10
    while _state(child) != "T":
        assert time.monotonic() < deadline, _failure(child, f"not stopped: {_state(child)}")
        time.sleep(0.05)


def test_suspend_and_resume_still_work(started: _pty.PtyProcess) -> None:
    """SIGTSTP (as ctrl+z would send) then SIGCONT (`fg`): the dashboard comes back."""
    _suspend(started)
    mark = time.monotonic()
    started.signal(signal.SIGCONT)
    assert started.wait_for(b"\x1b[?1049h", 10, since=mark), _failure(started, "not resumed")
    deadline = time.monotonic() + 10
    while _input_threads(started) == 0:  # started just after the alternate screen
        assert time.monotonic() < deadline, "no input thread after resuming"
        time.sleep(0.05)
    time.sleep(0.5)
    assert _input_threads(started) == 1
    started.write(b"q")
    assert _wait_gone(started, 10) == 0, _failure(started, "q did not quit after resuming")


def test_a_hang_up_while_suspended_ends_it(started: _pty.PtyProcess) -> None:
    _suspend(started)
    started.close_master()  # the kernel sends SIGHUP and SIGCONT: nothing to resume on
    assert _wait_gone(started, 10) in (128 + signal.SIGHUP, -signal.SIGHUP), _failure(
        started, "still running 10 s after the hang-up"
    )


def _state(child: _pty.PtyProcess) -> str:
    try:
        return Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_shutdown_that_hangs_is_ended_by_the_deadline(config: Path) -> None:
    """Whatever hangs in the shutdown next (here: joining the input thread never returns),
    the process is gone soon after, with the status of its ending."""
    code = (
        "import sys, time\n"
        "from kondado_tui.ui.terminal import lifecycle, quiet_driver\n"
        "lifecycle.SHUTDOWN_GRACE = 2.0\n"
        "quiet_driver.QuietLinuxDriver.disable_input = lambda self: time.sleep(3600)\n"
        "from kondado_tui.cli.main import main\n"
        f"sys.exit(main(['--config', {str(config)!r}]))\n"
    )
    child = _pty.spawn([sys.executable, "-c", code])
    try:
        name = _pty.pipeline_name(min(_ids(config))).encode()
        assert child.wait_for(name, STARTUP), _failure(child, "no table painted")
        signalled = time.monotonic()
        child.signal(signal.SIGTERM)
        status = _wait_gone(child, 10)
        assert status == 128 + signal.SIGTERM, _failure(child, "not ended by the deadline")
        assert 1.5 < time.monotonic() - signalled < 10
    finally:
        child.stop()
