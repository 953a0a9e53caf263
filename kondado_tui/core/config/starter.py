"""The commented starter file that `kondado-tui init` writes."""

from __future__ import annotations

import os
from pathlib import Path

from kondado_tui.core import paths
from kondado_tui.core.api import DEFAULT_BASE_URL
from kondado_tui.core.config.files import NEW_FILE_MODE, fsync_dir, make_dir
from kondado_tui.core.config.model import ENV_KEY, ENV_TOKEN, MAX_REQUESTS_PER_MINUTE
from kondado_tui.core.errors import ConfigError

STARTER_CONFIG = f"""\
# kondado-tui configuration (TOML). Every key is explained in docs/configuration.md.
# This file may hold a secret: keep it readable only by you (chmod 600).

[api]
base_url = "{DEFAULT_BASE_URL}"

# The API key and token come from the Kondado app. The environment variables
# {ENV_KEY} and {ENV_TOKEN} override what is written here.
key = ""

# Prefer a command that prints the token (run once at start, no shell) ...
# token_command = "pass show kondado/token"
# ... or, less safe, the token itself:
# token = ""

# This app's share of the API's budget of {MAX_REQUESTS_PER_MINUTE} requests a minute
# (per key and per IP). Leave room for other tools that use the same key.
requests_per_minute = 18
# Seconds to wait for an answer.
timeout = 10
# Every kondado-tui process of this user shares one rate ledger. To share it with other
# users of this machine (same IP), point them all at one writable file:
# ledger = "/srv/shared/kondado-ledger.sqlite3"

[ui]
# true: never run or duplicate pipelines (a monitor for the whole team).
read_only = false
# Ring the terminal bell when a pipeline turns to error or blocked.
bell = true
# Also send a desktop notification (OSC 9 / OSC 777; works through SSH in most terminals).
desktop_notify = false
# The colour theme; the dashboard writes here the one you pick (ctrl+p, then "theme").
# theme = "textual-dark"

# Other keys for the dashboard's actions (every action id: docs/configuration.md#keys):
# [keys]
# run = "ctrl+r"
# help = "h,f1"

[history]
# path = "~/kondado-history.sqlite3"   # default: the state directory
retention_days = 30
max_rows_per_pipeline = 2000

[alerts]
# A program started when a pipeline turns to error or blocked, or is refused (and
# when it recovers, with on_recovery = true): for a chat channel, a mail, a pager.
# No shell is used; the alert comes in KONDADO_* variables and as JSON on its stdin.
# Recipes (Slack, Teams, mail): docs/alerts.md. Try it with 'kondado-tui alert-test'.
# command = ["/home/you/bin/kondado-alert", "--channel", "data"]
# on_recovery = false

[log]
# A log of what happened while nobody was looking, rotated (1 MiB x 3).
# Default path: kondado-tui.log in the state directory. level: debug, info, warning,
# error, or "off" (no log file; an unexpected error's details are then lost).
# path = "~/kondado-tui.log"
level = "info"

# One [[pipelines]] entry per pipeline to watch. The id is the number at the end of the
# pipeline's app URL: https://app.kondado.com.br/pipelines/<id>
# Add them with 'kondado-tui add <id or URL>', with 'a' in the dashboard, or here:
#
# [[pipelines]]
# id = 2040
# name = "Orders to warehouse"   # optional
# group = "ecommerce"            # optional
"""


def write_starter_config(path: Path) -> Path:
    """Create a commented starter config (mode 0600). Refuses to overwrite anything."""
    path = paths.expand(path)
    if path.is_dir():
        raise ConfigError(
            f"{path}: is a directory; give the config file's path, e.g. "
            f"--config {path / paths.CONFIG_FILENAME}"
        )
    if path.exists() or path.is_symlink():
        raise ConfigError(
            f"{path}: a config file already exists; edit it, or remove it "
            "first to start over (nothing was changed)"
        )
    make_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    except FileExistsError:
        raise ConfigError(f"{path}: a config file already exists (nothing was changed)") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot create the config ({exc.strerror}); choose another path with --config"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(STARTER_CONFIG)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write the config ({exc.strerror})") from None
    fsync_dir(path.parent)
    return path
