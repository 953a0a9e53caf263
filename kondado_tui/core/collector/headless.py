"""`kondado-tui serve`: the account's collector with no screen.

It is a `SharedSession` like a dashboard's, with nobody looking: it polls the pipelines
of its config (with its viewers' interest, as any collector does), writes history,
runs the `[alerts] command` on new trouble, and serves the account's dashboards. When
the account already has a collector (a dashboard opened first), it attaches to it as a
standby viewer and takes over, as any viewer does, when that one ends: a unit under
systemd stays up whatever was started first. What it does goes to the log; the caller
prints one line at start.

One `serve` per account and login: a second one is refused (`AlreadyServing`), by a
lock file in the state dir. A `serve` of another login for the same account is a
standby viewer like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from kondado_tui.core.clock import Clock
from kondado_tui.core.collector.shared import SharedSession
from kondado_tui.core.collector.trust import account
from kondado_tui.core.config import Config, PipelineEntry
from kondado_tui.core.config.watch import CHECK_INTERVAL, Reloaded, ReloadFailed, pipeline_changes
from kondado_tui.core.errors import KondadoError
from kondado_tui.core.events import (
    CollectorLink,
    Connection,
    Health,
    HealthChanged,
    Role,
    SessionEvent,
)
from kondado_tui.core.paths import default_state_dir

log = logging.getLogger(__name__)

LOCK_PREFIX = "serve-"


class AlreadyServing(KondadoError):
    """Another `serve` of this login runs for this account."""


class CannotCollect(KondadoError):
    """The account's name is held by a process that cannot prove it holds the account
    (or speaks another version): `serve` does not start beside it."""


class CredentialsRefused(KondadoError):
    """The API refused the key or token before answering anything."""


# -- one serve per account and login ----------------------------------------------------------


def lock_path(config: Config, env: Mapping[str, str] | None = None) -> Path:
    """The lock file of this account's `serve` (named by the account's HMAC, not its key)."""
    api = config.api
    name = account(api.base_url, api.key, api.token).id
    return default_state_dir(env) / f"{LOCK_PREFIX}{name}.lock"


class ServeLock:
    """An exclusive `flock` held for the process's life (the kernel lets go when it
    ends, even SIGKILLed); the file says the holder's pid."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path) -> ServeLock:
        """Raises `AlreadyServing` (naming its pid) or OSError (the state dir)."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise AlreadyServing(
                f"another 'kondado-tui serve' for this account already runs{who}: stop it "
                "first (under systemd: systemctl --user stop kondado-tui)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # the lock goes with it; the file stays (another may hold it)


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    return None


# -- the collector with no screen ------------------------------------------------------------


def describe(link: CollectorLink | None, pipelines: int) -> str:
    """Where `serve` stands, in a few words (the start line, the log)."""
    polling = f"{pipelines} pipeline{'s' if pipelines != 1 else ''}"
    if link is None:
        return f"polling {polling} alone (sharing with other dashboards is off)"
    match link.role:
        case Role.SERVING:
            return f"collecting for this account: polling {polling} and serving its dashboards"
        case Role.VIEWING:
            who = f"pid {link.pid}" + (f", login {link.login}" if link.login else "")
            return (
                f"standing by: this account's collector is another process ({who}); "
                f"it polls our {polling}, and this one takes over when it ends"
            )
        case Role.LOST:
            return f"the collector (pid {link.pid}) ended ({link.why}): taking over"
        case Role.ALONE:
            return f"polling {polling} alone: {link.why}"


class Headless:
    """Runs a `SharedSession` with nobody looking until `stop()`; logs what changes."""

    def __init__(
        self, session: SharedSession, clock: Clock, *, check_every: float = CHECK_INTERVAL
    ) -> None:
        self.session = session
        self.clock = clock
        self.check_every = check_every
        self.fatal: KondadoError | None = None  # why it stopped by itself
        self.stopped_by = ""
        self._entries: tuple[PipelineEntry, ...] = tuple(session.config.pipelines)
        self._stopping = asyncio.Event()
        self._check_now = asyncio.Event()
        self._link: tuple[Role, int | None] | None = None
        self._connection = Connection.STARTING
        self._answered = False
        session.subscribe(self._heard)

    @property
    def pipelines(self) -> int:
        return len(self._entries)

    async def start(self) -> CollectorLink | None:
        """Become the account's collector or its standby viewer. `CannotCollect` when a
        process that cannot prove itself holds the account's name (the session is
        closed then)."""
        await self.session.start()
        link = self.session.health.collector
        if link is not None and link.role is Role.ALONE and not self.session.standing_in:
            await self.session.aclose()
            raise CannotCollect(link.why)
        return link

    def stop(self, why: str) -> None:
        """Ask `run` to end (a signal handler calls this)."""
        if not self._stopping.is_set():
            self.stopped_by = why
            self._stopping.set()

    def check_config_now(self) -> None:
        """Look at the config file at once (SIGHUP)."""
        self._check_now.set()

    async def run(self) -> None:
        """Until `stop()` (or `fatal`): poll or view, apply the config file's pipelines
        when it changes. Closes the session (socket, history, client) on the way out."""
        polling = asyncio.ensure_future(self.session.run())
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                nudged = asyncio.ensure_future(self._check_now.wait())
                done, _ = await asyncio.wait(
                    {polling, stopping, nudged},
                    timeout=self.check_every,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                nudged.cancel()
                if polling in done:
                    polling.result()  # its error, if it failed
                    break  # the session was closed beneath it
                if self._stopping.is_set():
                    break
                force = self._check_now.is_set()
                self._check_now.clear()
                self._check_config(force=force)
        finally:
            for task in (polling, stopping):
                task.cancel()
            await asyncio.gather(polling, stopping, return_exceptions=True)
            await self.session.aclose()
        if self.stopped_by:
            log.info("serve: ended (%s)", self.stopped_by)

    # -- the config file --------------------------------------------------------------------

    def _check_config(self, *, force: bool = False) -> None:
        change = self.session.check_config(force=force)
        path = self.session.config.path
        if isinstance(change, ReloadFailed):
            log.warning("config: %s (still polling what the last good config said)", change.message)
        elif isinstance(change, Reloaded):
            changes = pipeline_changes(self._entries, change.config.pipelines)
            if changes:
                self._entries = changes.entries
                self.session.set_entries(changes.entries)
                log.info("config: %s changed: %s", path, changes.summary())
            if change.settings_changed:
                log.warning(
                    "config: %s changed settings other than the pipelines: they apply when "
                    "serve restarts (systemctl --user restart kondado-tui)",
                    path,
                )

    # -- what the session tells -------------------------------------------------------------

    def _heard(self, event: SessionEvent) -> None:
        if not isinstance(event, HealthChanged):
            return
        health = event.health
        self._log_link(health.collector)
        self._log_connection(health)

    def _log_link(self, link: CollectorLink | None) -> None:
        if link is None:
            return
        key = (link.role, link.pid)
        if key != self._link:
            self._link = key
            level = logging.WARNING if link.role in (Role.ALONE, Role.LOST) else logging.INFO
            log.log(level, "serve: %s", describe(link, len(self._entries)))

    def _log_connection(self, health: Health) -> None:
        connection, before = health.connection, self._connection
        if connection is Connection.OK:
            self._answered = True
        if connection is before:
            return
        self._connection = connection
        if connection is Connection.OK:
            if before is not Connection.STARTING:
                log.info("serve: the API answers again")
            return
        if connection is Connection.STARTING:
            return
        log.warning("serve: the API: %s%s", connection.value, _words(health.message))
        if connection is Connection.REJECTED and not self._answered:
            self.fatal = CredentialsRefused(
                "the API refused the key or token" + _words(health.message)
            )
            self.stop("the API refused the credentials")


def _words(message: str) -> str:
    return f" ({message})" if message else ""


__all__ = [
    "AlreadyServing",
    "CannotCollect",
    "CredentialsRefused",
    "Headless",
    "ServeLock",
    "describe",
    "lock_path",
]
