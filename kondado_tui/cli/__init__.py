"""The entry layer: the `kondado-tui` command line and the dashboard launcher.

It sits above the UI and the core; the console script is `kondado_tui.cli:run`.
`kondado-tui __complete ...` (what the shell completion scripts call on every TAB) is
answered before the rest of the command line is imported: see `completion/candidates.py`.
"""

from __future__ import annotations

import sys
from typing import Any


def run() -> None:
    if sys.argv[1:2] == ["__complete"]:  # candidates.COMMAND, without importing it first
        from kondado_tui.cli.completion.candidates import run_complete

        sys.exit(run_complete(sys.argv[2:]))
    from kondado_tui.cli.main import run as run_main

    run_main()


def __getattr__(name: str) -> Any:  # `from kondado_tui.cli import main`, imported on use
    if name == "main":
        from kondado_tui.cli.main import main

        return main
    raise AttributeError(name)


__all__ = ["main", "run"]
