"""What a config is once loaded: the dataclasses every other module receives, and the
numbers and names the loader and the CLI share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kondado_tui.core.api import DEFAULT_BASE_URL
from kondado_tui.core.errors import ConfigError

MAX_REQUESTS_PER_MINUTE = 20  # the API's documented limit per key and per IP
ENV_KEY = "KONDADO_KEY"
ENV_TOKEN = "KONDADO_TOKEN"
ENV_BASE_URL = "KONDADO_BASE_URL"
MAX_PIPELINE_ID = 2**63 - 1  # what the history (SQLite INTEGER) can hold


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


@dataclass(frozen=True)
class HistorySettings:
    path: Path | None = None  # the history database file; None = default state dir
    retention_days: float = 30.0
    max_rows_per_pipeline: int = 2000


@dataclass(frozen=True)
class Config:
    path: Path
    api: ApiSettings
    ui: UiSettings
    history: HistorySettings
    pipelines: tuple[PipelineEntry, ...]
    warnings: tuple[str, ...] = ()


class PipelineRefError(ConfigError):
    """Text that is neither a pipeline id nor a Kondado pipeline URL."""
