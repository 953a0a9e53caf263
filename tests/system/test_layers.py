"""The package is three layers, and import-linter's layers contract covers all of it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "kondado_tui"
LAYERS = ["kondado_tui.cli", "kondado_tui.ui", "kondado_tui.core"]


def test_the_contract_names_the_three_layers() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layered = next(c for c in contracts if c["type"] == "layers")
    assert layered["layers"] == LAYERS


def test_every_module_lives_in_a_layer() -> None:
    """Nothing at the top of the package but the layers, `__init__` and `__main__`: a new
    module must be put in a layer, where the contracts see it."""
    top = {p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert top == {"__init__.py", "__main__.py", "cli", "ui", "core"}
