"""Noticing that the config file changed under a running dashboard, cheaply.

The dashboard runs for days; meanwhile `kondado-tui add` (or an editor) changes its
config. `ConfigWatcher.poll()` is called from the dashboard's periodic step: at most once
per `interval` (by the injected clock) it stats the file (modification time, size,
inode, device: an editor's save-by-rename changes the inode), and only when that changed
does it read the file again, through the one loader. No thread, no busy poll, no new
dependency.

What the dashboard applies is the pipeline list (`pipeline_changes`): additions,
removals, new names and groups. A change to the other settings is reported, to be
applied at the next start. A file that no longer loads (broken TOML, a bad value, gone)
is reported with the loader's message, which names the line, and the last good config
stays in force; a failure is reported only when the file stayed the same for one more
interval, so an editor caught in the middle of writing does not cause a false alarm.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from kondado_tui.core.clock import Clock
from kondado_tui.core.config.model import Config, PipelineEntry
from kondado_tui.core.errors import ConfigError

CHECK_INTERVAL = 5.0  # seconds: at most a stat per 5 s (the dashboard asks every 10 s)


@dataclass(frozen=True)
class FileStamp:
    """What a stat says about a file's content without reading it."""

    mtime_ns: int
    size: int
    inode: int
    device: int


def stamp_of(path: Path) -> FileStamp | None:
    """The file's stamp, or None when it cannot be seen (gone, no permission)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return FileStamp(info.st_mtime_ns, info.st_size, info.st_ino, info.st_dev)


@dataclass(frozen=True)
class PipelineChanges:
    """From the pipelines shown to the pipelines in the file."""

    entries: tuple[PipelineEntry, ...]  # the file's list, in its order
    added: tuple[PipelineEntry, ...]
    removed: tuple[PipelineEntry, ...]
    relabelled: tuple[PipelineEntry, ...]  # same id, another name or group

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.relabelled)

    def summary(self) -> str:
        """One line for a note: 'added Orders (2041); removed 2040'."""
        parts = []
        for verb, entries in (
            ("added", self.added),
            ("removed", self.removed),
            ("relabelled", self.relabelled),
        ):
            if entries:
                parts.append(f"{verb} " + ", ".join(_named(e) for e in entries))
        return "; ".join(parts)


def _named(entry: PipelineEntry) -> str:
    return f"{entry.name} ({entry.id})" if entry.name else str(entry.id)


def pipeline_changes(
    shown: Sequence[PipelineEntry], loaded: Sequence[PipelineEntry]
) -> PipelineChanges:
    before = {entry.id: entry for entry in shown}
    after = {entry.id: entry for entry in loaded}
    return PipelineChanges(
        entries=tuple(loaded),
        added=tuple(e for e in loaded if e.id not in before),
        removed=tuple(e for e in shown if e.id not in after),
        relabelled=tuple(e for e in loaded if e.id in before and before[e.id] != e),
    )


@dataclass(frozen=True)
class Reloaded:
    """The file changed and loads: its config (apply the pipelines from it)."""

    config: Config
    settings_changed: bool  # something besides the pipelines: applies at the next start


@dataclass(frozen=True)
class ReloadFailed:
    """The file changed and does not load; the running config stays."""

    message: str  # the loader's words: file, line, key and fix


ConfigChange = Reloaded | ReloadFailed


def _settings(config: Config) -> tuple[object, ...]:
    """What the dashboard cannot change while it runs (the token is left out: it may come
    from token_command, which a reload does not run)."""
    api = config.api
    return (
        api.base_url,
        api.key,
        api.requests_per_minute,
        api.timeout,
        api.ledger,
        replace(config.ui, theme=None),  # the dashboard saves the theme it shows itself
        config.history,
        config.alerts,
        config.log,
        dict(config.keys),
    )


class ConfigWatcher:
    """Polled by the dashboard: says when its config file changed, and to what."""

    def __init__(
        self,
        config: Config,
        load: Callable[[], Config],
        clock: Clock,
        *,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        """`config`: the one running; `load`: reads the file again with the options the
        running config was loaded with, without running token_command."""
        self.path = config.path
        self._load = load
        self._clock = clock
        self.interval = interval
        self._settings = _settings(config)
        self._stamp = stamp_of(self.path)  # the content the running config came from
        self._checked_at: float | None = None
        self._pending: FileStamp | None = None  # changed, failed once: confirm next time
        self._pending_missing = False
        self.failure: ReloadFailed | None = None  # the last failure reported, until fixed

    def poll(self, *, force: bool = False) -> ConfigChange | None:
        """What changed since the last call (None: nothing to say). Stats the file at most
        once per interval unless `force` (e.g. before the add form trusts the list)."""
        now = self._clock.now()
        if not force and self._checked_at is not None and now - self._checked_at < self.interval:
            return None
        self._checked_at = now
        current = stamp_of(self.path)
        if current is None:
            return self._missing(force)
        self._pending_missing = False
        if current == self._stamp:
            return None
        try:
            config = self._load()
        except ConfigError as exc:
            if self._pending != current and not force:
                self._pending = current  # maybe half written: look again next time
                return None
            self._stamp = current
            self._pending = None
            self.failure = ReloadFailed(str(exc))
            return self.failure
        self._stamp = current
        self._pending = None
        self.failure = None
        settings = _settings(config)
        changed, self._settings = settings != self._settings, settings
        return Reloaded(config, changed)

    def _missing(self, force: bool) -> ReloadFailed | None:
        if self._stamp is None:
            return None  # already reported (or never there)
        if not self._pending_missing and not force:
            self._pending_missing = True  # an editor's save-by-rename: look again next time
            return None
        self._stamp = None
        self._pending_missing = False
        self.failure = ReloadFailed(
            f"{self.path}: the config file is gone or unreadable; put it back (nothing "
            "else changes until then)"
        )
        return self.failure


__all__ = [
    "CHECK_INTERVAL",
    "ConfigChange",
    "ConfigWatcher",
    "FileStamp",
    "PipelineChanges",
    "ReloadFailed",
    "Reloaded",
    "pipeline_changes",
    "stamp_of",
]
