"""Running the alert command: without a shell, in a minimal environment, with a timeout,
never blocking the poller or the screen.

Each run is an asyncio subprocess on the caller's event loop, one at a time (so a
recovery never overtakes its trouble). The command is the leader of a new session: it
has no controlling terminal (it cannot draw over the dashboard or wait for a password),
and when the timeout expires its whole process group is killed, a `curl` it started
included. What became of each run is reported (`AlertNotice`) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from kondado_tui.core.alerts.payload import (
    BASE_ENV,
    Delivery,
    command_env,
    host_name,
    payload_json,
    safe,
    who,
)
from kondado_tui.core.alerts.throttle import Throttle
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.config import AlertSettings
from kondado_tui.core.events import Alert, AlertNotice, AlertOutcome

log = logging.getLogger(__name__)

STDERR_KEPT = 4096  # bytes of the command's stderr read for the report
STDERR_SHOWN = 200  # characters of it shown
KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL of the group
EXIT_POLL = 0.05  # seconds between looks at a running command's exit status
CLOSE_GRACE = 2.0  # seconds a run may still take when the program is ending


@dataclass(frozen=True)
class RunResult:
    ok: bool
    summary: str  # safe to show: "exit 0 in 0.3 s", "exit 7: curl: (6) ...", "not found"
    exit_code: int | None = None
    seconds: float = 0.0
    stderr: str = ""  # first line(s) of stderr, cleaned and redacted


def _program(argv: tuple[str, ...]) -> str:
    # Only the program is ever named: its arguments may hold a webhook's secret URL.
    return safe(argv[0], 200)


async def execute(
    argv: tuple[str, ...], env: Mapping[str, str], stdin: bytes, timeout: float
) -> RunResult:
    """Run the command once and say how it went; never raises for the command's sake.

    Its stdin is an unlinked temporary file (a command that never reads it cannot make us
    wait); its stderr a pipe read as it comes, the first STDERR_KEPT bytes kept and the
    rest discarded (a command spewing errors fills neither memory nor disk). Its exit is
    watched on the return code, not on the pipes closing (something it left running may
    hold them). The timeout is real time: it bounds a real process.
    """
    started = time.monotonic()
    program = _program(argv)
    with tempfile.TemporaryFile() as given:
        given.write(stdin)
        given.seek(0)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=given,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=dict(env),
                cwd=env.get("HOME") if os.path.isdir(env.get("HOME", "")) else "/",
                start_new_session=True,
            )
        except FileNotFoundError:
            where = "" if "/" in argv[0] else " in PATH"
            return RunResult(False, f"program {program} not found{where} (no shell is used)")
        except PermissionError:
            return RunResult(False, f"{program} is not executable (permission denied)")
        except OSError as exc:
            why = safe(exc.strerror or str(exc))
            return RunResult(False, f"{program} could not start ({why})")
    errors = bytearray()
    reader = asyncio.ensure_future(_read_errors(process, errors))
    try:
        code = await _exit_code(process, timeout)
    except asyncio.CancelledError:
        await _kill_group(process.pid)
        reader.cancel()
        raise
    # Killed on a timeout; after an exit, whatever it left running in its group (over
    # days of alerts, leftovers would pile up). Then stderr closes and the reader ends.
    await _kill_group(process.pid)
    await asyncio.wait({reader}, timeout=KILL_GRACE)
    reader.cancel()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), KILL_GRACE)
    said = _first_lines(bytes(errors))
    seconds = time.monotonic() - started
    detail = f": {said}" if said else ""
    if code is None:
        killed = f"{program} did not finish within {timeout:g} s: its process group was killed"
        return RunResult(False, killed + detail, None, seconds, said)
    if code != 0:
        how = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        return RunResult(False, f"{program} failed ({how}){detail}", code, seconds, said)
    return RunResult(True, f"exit 0 in {seconds:.1f} s", 0, seconds, said)


async def _read_errors(process: asyncio.subprocess.Process, kept: bytearray) -> None:
    assert process.stderr is not None
    while chunk := await process.stderr.read(65536):
        if len(kept) < STDERR_KEPT:
            kept.extend(chunk[: STDERR_KEPT - len(kept)])


async def _exit_code(process: asyncio.subprocess.Process, timeout: float) -> int | None:
    """The command's exit status, or None when it ran past `timeout`. Looked at every
    EXIT_POLL seconds: `Process.wait` would also wait for its pipes to close."""
    deadline = time.monotonic() + timeout
    while process.returncode is None:
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(min(EXIT_POLL, max(0.0, deadline - time.monotonic())))
    return process.returncode


async def _kill_group(group: int) -> None:
    """SIGTERM to every process left in the command's group, then SIGKILL to those
    still there after a moment. Nothing to do when the group is empty."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, 0)  # anyone left?
        except (ProcessLookupError, PermissionError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
        if sig == signal.SIGTERM:
            await _gone(group, KILL_GRACE)


async def _gone(group: int, within: float) -> None:
    """Wait until the group is empty, or `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        await asyncio.sleep(0.05)


def _first_lines(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return safe(
        " / ".join(line.strip() for line in text.splitlines()[:3] if line.strip()), STDERR_SHOWN
    )


Report = Callable[[AlertNotice], None]


class AlertCommand:
    """The alert command as a sink: alerts in, runs out, within the caps."""

    def __init__(
        self,
        settings: AlertSettings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        report: Report | None = None,
        env: Mapping[str, str] | None = None,
        host: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.report: Report = report or (lambda notice: None)
        parent = os.environ if env is None else env
        # only what the command may see is kept: never the token, even in memory here
        wanted = (*BASE_ENV, *settings.pass_env)
        self.env = {name: parent[name] for name in wanted if name in parent}
        self.host = host or host_name()
        self.throttle = Throttle(
            settings.max_per_minute,
            settings.repeat_minutes * 60.0,
            on_recovery=settings.on_recovery,
        )
        self.runs = 0  # completed runs (tests, `info`)
        self.failures = 0
        self._lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._closing = False

    # -- what the session calls ---------------------------------------------------------

    def submit(self, alert: Alert) -> None:
        """An alert decided on: run the command now, or hold it. Never blocks."""
        if self._closing:
            return
        decision = self.throttle.offer(alert, self.clock.now())
        if decision is None:
            return
        if isinstance(decision, str):
            log.info("%s", decision)
            if self.throttle.held == 1:  # the first one held: say it once, not each time
                self._notice(AlertOutcome.HELD, decision)
            self._arm_timer()
            return
        self._spawn(self._deliver(decision))

    async def send(self, delivery: Delivery) -> RunResult:
        """One run now, outside the caps (`kondado-tui alert-test`)."""
        return await self._run(delivery)

    async def aclose(self) -> None:
        """Stop: runs still going get CLOSE_GRACE seconds, then their group is killed;
        alerts still held are logged as not sent."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        for alert in self.throttle.take_all():
            log.warning(
                "alert for %s (%d) not sent: kondado-tui ended while it was held back",
                safe(alert.name),
                alert.pipeline_id,
            )
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=CLOSE_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    # -- internals ----------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """On the running loop (the session's listeners are called on it)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm_timer(self) -> None:
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._flush_when_due())

    async def _flush_when_due(self) -> None:
        while (due := self.throttle.due_at(self.clock.now())) is not None:
            await self.clock.sleep(max(0.0, due - self.clock.now()))
            delivery = self.throttle.flush(self.clock.now())
            if delivery is not None:
                self._spawn(self._deliver(delivery))

    async def _deliver(self, delivery: Delivery) -> None:
        await self._run(delivery)

    async def _run(self, delivery: Delivery) -> RunResult:
        if self._lock is None:
            self._lock = asyncio.Lock()
        about = _about(delivery)
        async with self._lock:  # one at a time: a recovery never overtakes its trouble
            try:
                result = await execute(
                    self.settings.command,
                    command_env(delivery, self.host, self.env, self.settings.pass_env),
                    payload_json(delivery, self.host),
                    self.settings.timeout,
                )
            except asyncio.CancelledError:
                log.warning("alert command for %s stopped: kondado-tui was ending", about)
                raise
            except Exception as exc:  # our bug: reported like a failure, never raised
                log.exception("alert command for %s: unexpected error", about)
                result = RunResult(False, f"unexpected {type(exc).__name__}: {safe(str(exc))}")
        self.runs += 1
        if result.ok:
            log.info("alert command for %s: %s", about, result.summary)
            self._notice(AlertOutcome.SENT, f"alert sent for {about} ({result.summary})")
        else:
            self.failures += 1
            log.warning("alert command for %s failed: %s", about, result.summary)
            self._notice(AlertOutcome.FAILED, f"alert command failed for {about}: {result.summary}")
        return result

    def _notice(self, outcome: AlertOutcome, message: str) -> None:
        try:
            self.report(AlertNotice(outcome, safe(message, 500), self.clock.now()))
        except Exception:  # a front end's bug must not stop the alerts
            log.exception("alert command: reporting its outcome failed")


def _about(delivery: Delivery) -> str:
    if len(delivery.alerts) == 1:
        alert = delivery.alerts[0]
        return who(safe(alert.name, 200), alert.pipeline_id)
    return f"{len(delivery.alerts)} pipelines ({delivery.held} alerts held back)"
