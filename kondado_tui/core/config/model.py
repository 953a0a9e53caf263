"""What a config is once loaded: the dataclasses every other module receives, and the
numbers and names the loader and the CLI share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kondado_tui.core.api import DEFAULT_BASE_URL
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.models import MAX_PIPELINE_ID as MAX_PIPELINE_ID  # defined there

MAX_REQUESTS_PER_MINUTE = 20  # the API's documented limit per key and per IP
ENV_KEY = "KONDADO_KEY"
ENV_TOKEN = "KONDADO_TOKEN"
ENV_BASE_URL = "KONDADO_BASE_URL"


@dataclass(frozen=True)
class PipelineEntry:
    id: int
    name: str | None = None
    group: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or f"pipeline {self.id}"


@dataclass(frozen=True)
class ApiSettings:
    base_url: str = DEFAULT_BASE_URL
    key: str = ""
    token: str = field(default="", repr=False)
    requests_per_minute: int = 18  # 1..20
    timeout: float = 10.0
    ledger: Path | None = None  # shared rate ledger; None = default path


@dataclass(frozen=True)
class UiSettings:
    read_only: bool = False
    bell: bool = True
    desktop_notify: bool = False  # OSC 9 / OSC 777
    theme: str | None = None  # a Textual theme's name; checked by the dashboard


@dataclass(frozen=True)
class HistorySettings:
    path: Path | None = None  # the history database file; None = default state dir
    retention_days: float = 30.0
    max_rows_per_pipeline: int = 2000


@dataclass(frozen=True)
class AlertSettings:
    """`[alerts]`: the command started on new trouble (docs/alerts.md)."""

    command: tuple[str, ...] = ()  # argv, run without a shell; () = no alert command
    on_recovery: bool = False  # also when a pipeline gets out of trouble
    timeout: float = 10.0  # seconds; then its process group is killed
    max_per_minute: int = 6  # runs of the command in any 60 s, all pipelines together
    repeat_minutes: float = 10.0  # the same pipeline and state again within: held back
    pass_env: tuple[str, ...] = ()  # variables of ours it may also see (HTTPS_PROXY, ...)


LOG_LEVELS = ("debug", "info", "warning", "error", "off")


@dataclass(frozen=True)
class LogSettings:
    """`[log]`: the log file (docs/operations.md#the-log-file)."""

    path: Path | None = None  # None = kondado-tui.log in the state dir
    level: str = "info"  # one of LOG_LEVELS; "off": no log file


@dataclass(frozen=True)
class Config:
    path: Path
    api: ApiSettings
    ui: UiSettings
    history: HistorySettings
    pipelines: tuple[PipelineEntry, ...]
    warnings: tuple[str, ...] = ()
    alerts: AlertSettings = field(default_factory=AlertSettings)
    log: LogSettings = field(default_factory=LogSettings)
    keys: Mapping[str, str] = field(default_factory=dict)  # [keys]: action id -> keys


class PipelineRefError(ConfigError):
    """Text that is neither a pipeline id nor a Kondado pipeline URL."""
