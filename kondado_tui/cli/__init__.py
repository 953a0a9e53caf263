"""The entry layer: the `kondado-tui` command line and the dashboard launcher.

It sits above the UI and the core; the console script is `kondado_tui.cli:run`.
"""

from kondado_tui.cli.main import main, run

__all__ = ["main", "run"]
