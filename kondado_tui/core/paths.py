"""Where kondado-tui keeps its files: the config, the history and the shared rate ledger.

Every function takes the environment as a mapping (default: `os.environ`) so tests can
point everything at a temporary directory without touching the real home.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP_NAME = "kondado-tui"
CONFIG_ENV = "KONDADO_TUI_CONFIG"
CONFIG_FILENAME = "config.toml"
HISTORY_FILENAME = "history.sqlite3"
LEDGER_FILENAME = "ledger.sqlite3"
DUPLICATES_FILENAME = "duplicates.json"
DOUBTS_FILENAME = "unknown-outcomes.json"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _xdg_dir(env: Mapping[str, str], name: str) -> Path | None:
    """`$XDG_..._HOME`, ignored when unset, empty or relative (as the XDG spec says)."""
    value = env.get(name, "")
    if value and os.path.isabs(value):
        return Path(value)
    return None


def expand(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Path:
    """`~` and `~/...` against `$HOME` from `env` (falls back to the real home)."""
    text = os.fspath(path)
    home = _env(env).get("HOME")
    if home and (text == "~" or text.startswith("~/")):
        return Path(home + text[1:])
    return Path(os.path.expanduser(text))


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$KONDADO_TUI_CONFIG`, else `$XDG_CONFIG_HOME/kondado-tui/config.toml`, else the
    platform's user config dir (`~/.config/kondado-tui/config.toml` on Linux)."""
    env = _env(env)
    explicit = env.get(CONFIG_ENV, "")
    if explicit:
        return expand(explicit, env)
    base = _xdg_dir(env, "XDG_CONFIG_HOME")
    if base is not None:
        return base / APP_NAME / CONFIG_FILENAME
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / CONFIG_FILENAME


def config_path(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The config file to use: `--config PATH` when given, else the default."""
    if explicit:
        return expand(explicit, env)
    return default_config_path(env)


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/kondado-tui`, else the platform's user state dir
    (`~/.local/state/kondado-tui` on Linux). Not created here."""
    base = _xdg_dir(_env(env), "XDG_STATE_HOME")
    if base is not None:
        return base / APP_NAME
    return platformdirs.user_state_path(APP_NAME, appauthor=False)


def default_history_path(env: Mapping[str, str] | None = None) -> Path:
    """The history database when `[history] path` is not set."""
    return default_state_dir(env) / HISTORY_FILENAME


def default_ledger_path(env: Mapping[str, str] | None = None) -> Path:
    """The rate ledger every kondado-tui process of this user shares when `[api] ledger`
    is not set. It lives in the state dir (not the runtime dir) so a 60 s lock-out
    survives a logout and is seen by cron jobs that run without a login session."""
    return default_state_dir(env) / LEDGER_FILENAME


def default_duplicates_path(env: Mapping[str, str] | None = None) -> Path:
    """Remembered duplicate mappings (source/destination/table names last used)."""
    return default_state_dir(env) / DUPLICATES_FILENAME


def default_doubts_path(env: Mapping[str, str] | None = None) -> Path:
    """Runs and duplicates sent whose outcome is unknown (answer lost or unreadable)."""
    return default_state_dir(env) / DOUBTS_FILENAME
