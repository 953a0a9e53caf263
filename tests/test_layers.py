"""The import-linter contract covers every core module, so a new one cannot slip past it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kondado_tui"


def test_every_module_outside_the_ui_is_in_the_core_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    core = next(c for c in contracts if c["name"] == "The core knows nothing of Textual")
    listed = set(core["source_modules"])
    modules = {f"kondado_tui.{p.stem}" for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    packages = {f"kondado_tui.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    # cli.py is the entry point above both layers: it may open the UI.
    expected = (modules | packages) - {"kondado_tui.ui", "kondado_tui.cli"}
    assert expected - listed == set(), "add these modules to the contract in pyproject.toml"
    assert "kondado_tui.ui" not in listed
