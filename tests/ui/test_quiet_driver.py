"""The input thread sleeps until there is input (`ui/quiet_driver.py`).

Textual's own driver wakes ten times a second for ever; ours waits with no timeout unless
the key parser waits for the rest of an escape sequence. The pty tests run the real
program: keys, a lone Esc, quitting and idling; tests/ui/test_lifecycle_terminal.py holds the
hang-up and resize cases.
"""

from __future__ import annotations

import errno
import io
import os
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from textual.drivers._writer_thread import WriterThread
from textual.drivers.linux_driver import LinuxDriver
from ui_fakes import ENTRIES, FakePoller, FakeSession, make_config

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.sim import SimServer
from kondado_tui.ui.app import KondadoApp
from kondado_tui.ui.terminal import overrides
from kondado_tui.ui.terminal.lifecycle import BACKSTOP_INTERVAL, WATCH_INTERVAL, run_guarded
from kondado_tui.ui.terminal.quiet_driver import (
    FALLBACK_TIMEOUT,
    INPUT_THREAD,
    QuietLinuxDriver,
    TerminalFile,
    parser_timeout,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _pty  # the shared pty helper lives beside the benchmarks

STARTUP = 30.0


def _app(tmp_path: Path) -> KondadoApp:
    """The app as the launcher makes it: with the overrides installed."""
    clock = ManualClock(frozen=True)
    config = make_config(tmp_path / "config.toml", ENTRIES)
    return KondadoApp(
        FakeSession(config, FakePoller(clock, [e.id for e in ENTRIES])),
        clock=clock,
        env={},
        overrides=overrides.install(),
    )


class _HungUp(io.StringIO):
    """A terminal that hung up: every write and flush fails with EIO."""

    def write(self, text: str) -> int:
        raise OSError(errno.EIO, "Input/output error")

    def flush(self) -> None:
        raise OSError(errno.EIO, "Input/output error")


def test_textuals_writer_thread_outlives_a_hung_up_terminal() -> None:
    """Its thread ends at the first failed write; with 30 writes queued the next one
    (the shutdown's) would block for ever. Through TerminalFile it drops them."""
    terminal = TerminalFile(_HungUp())
    writer = WriterThread(terminal)  # type: ignore[arg-type]
    writer.start()
    done = threading.Event()

    def shut_down() -> None:
        for _ in range(100):
            writer.write("\x1b[?1049l")
        writer.stop()
        done.set()

    threading.Thread(target=shut_down, daemon=True).start()
    assert done.wait(5), "the writes blocked: the writer thread died"
    assert terminal.lost


def test_a_live_terminal_gets_every_write() -> None:
    out = io.StringIO()
    terminal = TerminalFile(out)
    terminal.write("abc")
    terminal.flush()
    assert out.getvalue() == "abc" and not terminal.lost


def _parser(deadline: float | None) -> Any:
    return SimpleNamespace(_timeout_time=deadline)


def test_the_thread_waits_for_ever_unless_a_sequence_is_pending() -> None:
    assert parser_timeout(_parser(None), now=100.0) is None
    assert parser_timeout(_parser(100.08), now=100.0) == pytest.approx(0.08)
    assert parser_timeout(_parser(99.0), now=100.0) == 0.0  # overdue: tick at once


def test_a_parser_without_the_deadline_falls_back_to_textuals_poll() -> None:
    assert parser_timeout(cast(Any, object()), now=0.0) == FALLBACK_TIMEOUT


def test_the_app_uses_it_where_textual_would_use_its_linux_driver(tmp_path: Path) -> None:
    assert _app(tmp_path).driver_class is QuietLinuxDriver
    assert issubclass(QuietLinuxDriver, LinuxDriver)


def test_another_driver_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Other(LinuxDriver):
        pass

    monkeypatch.setattr("textual.app.App.get_driver_class", lambda self: Other)
    assert _app(tmp_path).driver_class is Other


async def test_the_watchdog_only_backs_the_driver_up(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []

    def install(app: object, **kwargs: Any) -> Any:
        seen.append(kwargs["interval"])
        return SimpleNamespace(uninstall=lambda: None)

    async def run() -> None:
        return None

    monkeypatch.setattr("kondado_tui.ui.terminal.lifecycle.install", install)
    await run_guarded(SimpleNamespace(driver_class=QuietLinuxDriver), run)
    await run_guarded(SimpleNamespace(driver_class=LinuxDriver), run)
    assert seen == [BACKSTOP_INTERVAL, WATCH_INTERVAL]


# -- the real program on a pseudo-terminal ------------------------------------------------


def _start(
    tmp_path: Path,
    sim_factory: Any,
    env: dict[str, str] | None = None,
    program: tuple[str, ...] = _pty.KONDADO,
) -> Any:
    server = sim_factory(rate_limit=False, pipelines=6, seed=5)
    assert isinstance(server, SimServer)
    config = _pty.sim_config(
        tmp_path,
        server.base_url,
        server.key,
        server.token,
        server.world.pipeline_ids,
        requests_per_minute=20,
    )
    child = _pty.spawn([*program, "--config", str(config)], env=_pty.terminal_env(env))
    assert child.wait_for(b"req/min", STARTUP), child.output()[-1000:]
    return child


@pytest.fixture
def started(tmp_path: Path, sim_factory: Any) -> Any:
    child = _start(tmp_path, sim_factory)
    try:
        yield child
    finally:
        child.stop()


def _steady_wakeups(child: Any, windows: int = 4, seconds: float = 1.5) -> int:
    """The most wake-ups any thread other than the main one had in every one of
    `windows` windows: a thread that polls wakes in each, while the history writers and
    the screen's writer wake for the start-up sweep and fall quiet."""
    assert child.wait_quiet(0.5, 10)
    least: dict[int, int] = {}
    before = child.wakeups()
    for _ in range(windows):
        time.sleep(seconds)
        after = child.wakeups()
        for tid, n in after.items():
            if tid != child.pid:
                woke = n - before.get(tid, 0)
                least[tid] = min(least.get(tid, woke), woke)
        before = after
    return max(least.values())


def _thread_named(pid: int, name: str) -> int:
    for tid in os.listdir(f"/proc/{pid}/task"):
        if Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip() == name:
            return int(tid)
    raise AssertionError(f"no thread named {name!r}")


def test_the_input_thread_sleeps_at_idle(started: Any) -> None:
    tid = _thread_named(started.pid, INPUT_THREAD)
    before = started.wakeups()[tid]
    time.sleep(3.0)
    woke = started.wakeups()[tid] - before
    assert woke <= 2, f"the input thread woke {woke} times in 3 s with nothing typed"
    started.write(b"?")  # and it still reads
    assert started.wait_for(b"command palette", 10), "no help screen"
    assert started.wakeups()[tid] > before + woke


def test_textuals_own_driver_when_named_and_what_it_costs(tmp_path: Path, sim_factory: Any) -> None:
    """TEXTUAL_DRIVER is obeyed; and the check above does see Textual's poll."""
    child = _start(
        tmp_path, sim_factory, {"TEXTUAL_DRIVER": "textual.drivers.linux_driver:LinuxDriver"}
    )
    try:
        steady = _steady_wakeups(child)  # ten a second: 15 in each window
        assert steady >= 12, f"Textual's input thread woke only {steady} times in 1.5 s"
    finally:
        child.stop()


# kondado-tui as installed, but seeing another Textual than the one it was tested on
ON_ANOTHER_TEXTUAL = (
    sys.executable,
    "-c",
    "import sys; from kondado_tui.ui.terminal import overrides; "
    "overrides.textual_version = lambda: '8.3.0'; "
    "from kondado_tui.cli import run; run()",
)


def test_on_another_textual_it_runs_on_textuals_own_driver_and_says_so(
    tmp_path: Path, sim_factory: Any
) -> None:
    """The version guard, in the real program: no quiet input thread, Textual's own poll
    (seen waking, as above), the dashboard up, and the reason on screen."""
    child = _start(tmp_path, sim_factory, program=ON_ANOTHER_TEXTUAL)
    try:
        names = {
            Path(f"/proc/{child.pid}/task/{tid}/comm").read_text().strip()
            for tid in os.listdir(f"/proc/{child.pid}/task")
        }
        assert INPUT_THREAD not in names
        steady = _steady_wakeups(child)
        assert steady >= 12, f"Textual's input thread woke only {steady} times in 1.5 s"
        assert b"Textual 8.3.0" in child.output()  # the note (toast; log line before it)
        child.write(b"q")
        assert child.wait(5) == 0, "q did not quit within 5 s"
        assert b"Traceback" not in child.output()
    finally:
        child.stop()


def test_keys_a_lone_esc_and_quit_still_work(started: Any) -> None:
    mark = time.monotonic()
    started.write(b"?")
    assert started.wait_for(b"command palette", 10, since=mark), "no help screen"
    mark = time.monotonic()
    started.write(b"\x1b")  # alone: delivered when ESCDELAY passes with nothing after it
    assert started.wait_for(b"req/min", 5, since=mark), "a lone Esc did not close the help"
    mark = time.monotonic()
    started.write(b"\x1b[B")  # an arrow key: the whole sequence in one read, no wait
    started.write(b"q")
    assert started.wait(5) == 0, "q did not quit within 5 s"
    assert time.monotonic() - mark < 5
    assert b"Traceback" not in started.output()
