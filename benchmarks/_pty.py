"""Run a program on a pseudo-terminal and watch it as a terminal would (Linux only).

Shared by the UI cost benchmarks and the lifecycle tests. `spawn()` starts a command as
the session leader of a fresh pty (so the pty is its controlling terminal and closing
the master side hangs it up, as a dropped SSH connection does); a reader thread drains
the master and timestamps every chunk, so a caller can count the bytes written to the
"terminal" in any window. CPU time and resident memory come from /proc.

`sim_config()` writes a kondado-tui config pointing at a simulator served by the calling
process, with every file (history, rate ledger) in a directory of the caller's choice.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
KONDADO = (sys.executable, "-m", "kondado_tui")
CSI_MOVE = re.compile(rb"\x1b\[(\d+);(\d+)H")  # cursor positioning: one per painted strip


def terminal_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A plain modern terminal: 256 colours, truecolor, no NO_COLOR, no theme override."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "NO_COLOR",
            "TEXTUAL_THEME",
            "KONDADO_KEY",
            "KONDADO_TOKEN",
            "KONDADO_BASE_URL",
            "KONDADO_TUI_CONFIG",
            "TMUX",
            "TEXTUAL",
        }
    }
    env.update({"TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8"})
    env.update(extra or {})
    return env


def set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


@dataclass
class Chunk:
    at: float  # time.monotonic() when read
    data: bytes


class PtyProcess:
    """A child on a pty. Output is kept whole (chunks with read times)."""

    def __init__(self, process: subprocess.Popen[bytes], master: int) -> None:
        self.process = process
        self.pid = process.pid
        self.master: int | None = master
        self.chunks: list[Chunk] = []
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()

    # -- output -------------------------------------------------------------------------

    def _read(self) -> None:
        while self.master is not None:
            fd = self.master
            try:
                ready, _, _ = select.select([fd], [], [], 0.2)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child side is gone
                return
            if not data:
                return
            with self._lock:
                self.chunks.append(Chunk(time.monotonic(), data))

    def output(self, since: float = 0.0, until: float = float("inf")) -> bytes:
        with self._lock:
            return b"".join(c.data for c in self.chunks if since <= c.at < until)

    def bytes_between(self, since: float, until: float = float("inf")) -> int:
        with self._lock:
            return sum(len(c.data) for c in self.chunks if since <= c.at < until)

    def last_output_at(self) -> float:
        with self._lock:
            return self.chunks[-1].at if self.chunks else self.started

    def wait_for(self, needle: bytes, timeout: float, since: float = 0.0) -> float | None:
        """The read time of the chunk that completed `needle` (None after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = b""
                for chunk in self.chunks:
                    if chunk.at < since:
                        continue
                    seen = seen[-len(needle) :] + chunk.data
                    if needle in seen:
                        return chunk.at
            if time.monotonic() > deadline or not self.alive:
                return None
            time.sleep(0.02)

    def wait_quiet(self, quiet: float, timeout: float) -> bool:
        """Wait until nothing was written for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if time.monotonic() - self.last_output_at() >= quiet:
                return True
            time.sleep(0.05)
        return False

    # -- input and control ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.master is not None:
            os.write(self.master, data)

    def resize(self, columns: int, rows: int) -> None:
        if self.master is not None:
            set_size(self.master, columns, rows)
            os.kill(self.pid, signal.SIGWINCH)

    def close_master(self) -> None:
        """Hang up: what the kernel sees when an SSH connection without tmux drops."""
        fd, self.master = self.master, None
        if fd is not None:
            self._reader.join(timeout=1)
            os.close(fd)

    # -- the process ------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (0.0 once it is gone)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def wakeups(self) -> dict[int, int]:
        """Voluntary context switches so far, per thread id: how often each thread woke
        from a wait (a thread that ended is no longer counted)."""
        counts: dict[int, int] = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return counts
        for tid in tids:
            try:
                status = Path(f"/proc/{self.pid}/task/{tid}/status").read_text()
            except OSError:
                continue
            found = re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M)
            counts[int(tid)] = int(found.group(1)) if found else 0
        return counts

    def rss_bytes(self) -> int:
        try:
            pages = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1])
        except OSError:
            return 0
        return pages * PAGE

    def signal(self, signum: int) -> None:
        if self.alive:
            os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> int | None:
        """End it for sure: SIGTERM, then SIGKILL after 5 s."""
        if self.alive:
            self.signal(signal.SIGTERM)
            if self.wait(5) is None:
                self.signal(signal.SIGKILL)
                self.wait(5)
        self.close_master()
        return self.process.returncode


def spawn(
    argv: Sequence[str],
    *,
    size: tuple[int, int] = (120, 36),
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> PtyProcess:
    """Start `argv` as the session leader of a new pty of `size` (columns, rows)."""
    master, slave = os.openpty()
    set_size(slave, *size)

    def controlling_terminal() -> None:  # runs in the child after setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(env or terminal_env()),
        cwd=cwd,
        start_new_session=True,
        preexec_fn=controlling_terminal,
        close_fds=True,
    )
    os.close(slave)
    return PtyProcess(process, master)


def painted_rows(data: bytes) -> set[int]:
    """The screen rows a burst of output moved the cursor to (Textual paints by strips)."""
    return {int(m.group(1)) for m in CSI_MOVE.finditer(data)}


# -- a simulated account and a config for it ---------------------------------------------


def pipeline_name(pid: int) -> str:
    return f"bench-{pid}"


def sim_config(
    directory: Path,
    base_url: str,
    key: str,
    token: str,
    ids: Iterable[int],
    *,
    requests_per_minute: int = 18,
    timeout: float = 10.0,
    retention_days: float | None = None,
    max_rows: int | None = None,
    history: Path | None = None,
) -> Path:
    """A config file for `kondado-tui --config`; every file it names lives in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "# written by benchmarks/_pty.py",
        "[api]",
        f'base_url = "{base_url}"',
        f'key = "{key}"',
        f'token = "{token}"',
        f"requests_per_minute = {requests_per_minute}",
        f"timeout = {timeout}",
        f'ledger = "{directory / "ledger.sqlite3"}"',
        "",
        "[history]",
        f'path = "{history or directory / "history.sqlite3"}"',
    ]
    if retention_days is not None:
        lines.append(f"retention_days = {retention_days}")
    if max_rows is not None:
        lines.append(f"max_rows_per_pipeline = {max_rows}")
    for pid in ids:
        lines += ["", "[[pipelines]]", f"id = {pid}", f'name = "{pipeline_name(pid)}"']
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def write_result(name: str, text: str) -> Path:
    path = Path(__file__).resolve().parent / "results" / f"{name}.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def machine_note() -> str:
    load = os.getloadavg()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at the end; "
        f"Python {sys.version.split()[0]}; {when}"
    )


def prefill_history(
    path: Path, world: object, ids: Iterable[int], *, per_minute: int = 18, entered: float = 86400.0
) -> int:
    """Record every pipeline's current state as a long session would have left it: the
    state entered `entered` seconds ago, last seen at a time spread over one polling
    round (`len(ids) / per_minute` minutes), so ages are as varied as in a steady state."""
    from kondado_tui.core.api import parse_status
    from kondado_tui.core.history.store import HistoryStore
    from kondado_tui.core.models import Observation
    from kondado_tui.core.sim import SimWorld

    assert isinstance(world, SimWorld)
    ids = list(ids)
    round_seconds = len(ids) / per_minute * 60.0
    store = HistoryStore(path)
    now = time.time()
    count = 0
    try:
        for n, pid in enumerate(ids):
            status = parse_status(pid, {str(pid): world.status(pid)})
            count += store.record(Observation(status, now - entered))
            seen = now - round_seconds * ((n * 7919) % len(ids)) / len(ids)
            store.record(Observation(status, seen))
    finally:
        store.close()
    return count
