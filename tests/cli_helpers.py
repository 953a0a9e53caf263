"""A config file for CLI tests against a simulator: everything it writes stays in tmp."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from kondado_tui.core.sim import SimServer, SimWorld

Entry = tuple[int, str | None]  # (id, name or None)

# `duplicate` of the demo account's 2040 that the simulator accepts, sent without asking.
DUPLICATE = [
    "--from",
    "2040",
    "--src",
    "5052",
    "--dest",
    "7002",
    "--table",
    "=outlet_orders",
    "--table",
    "line_items=outlet_line_items",
    "--table",
    "customers=outlet_customers",
    "--table",
    "fulfillments=outlet_fulfillments",
    "--yes",
    "--no-save",
]


def demo_sim(
    sim_factory: Callable[..., SimServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    **options: Any,
) -> SimServer:
    """The demo account (2040 active, 2071 blocked, ...), rate limits off unless
    `options` say otherwise; the process's state and config defaults kept in tmp."""
    isolate_dirs(tmp_path, monkeypatch)
    return sim_factory(world=SimWorld(demo=True), **{"rate_limit": False, **options})


def isolate_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """State (rate ledger, history, remembered mappings) and config defaults in tmp."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))


def write_config(
    tmp_path: Path, sim: SimServer, pipelines: Iterable[Entry] = ((2040, None),), *, extra: str = ""
) -> Path:
    """config.toml pointing at `sim`, its ledger and history beside it (mode 0600)."""
    lines = [
        "[api]",
        f'base_url = "{sim.base_url}"',
        f'key = "{sim.key}"',
        f'token = "{sim.token}"',
        f'ledger = "{tmp_path / "ledger.sqlite3"}"',
        extra,
        "[history]",
        f'path = "{tmp_path / "history.sqlite3"}"',
        "",
    ]
    for pid, name in pipelines:
        lines += ["[[pipelines]]", f"id = {pid}", *([f'name = "{name}"'] if name else []), ""]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path
