"""A config file for CLI tests against a simulator: everything it writes stays in tmp."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from kondado_tui.sim import SimServer

Entry = tuple[int, str | None]  # (id, name or None)


def isolate_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """State (rate ledger, history, remembered mappings) and config defaults in tmp."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))


def write_config(tmp_path: Path, sim: SimServer, pipelines: Iterable[Entry] = ((2040, None),),
                 *, extra: str = "") -> Path:
    """config.toml pointing at `sim`, its ledger and history beside it (mode 0600)."""
    lines = ["[api]", f'base_url = "{sim.base_url}"', f'key = "{sim.key}"',
             f'token = "{sim.token}"', f'ledger = "{tmp_path / "ledger.sqlite3"}"', extra,
             "[history]", f'path = "{tmp_path / "history.sqlite3"}"', ""]
    for pid, name in pipelines:
        lines += ["[[pipelines]]", f"id = {pid}", *([f'name = "{name}"'] if name else []), ""]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path
