"""What every subcommand does the same way: load the config from the global options."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kondado_tui.config import Config, load_config


def load_for_command(args: argparse.Namespace, *, require_credentials: bool = True) -> Config:
    """The config named by the global options (`--config`, `--base-url`, `--read-only`)."""
    config = load_config(
        _path(args.config),
        os.environ,
        base_url=args.base_url,
        read_only=args.read_only,
        require_credentials=require_credentials,
    )
    for warning in config.warnings:
        print(f"kondado-tui: warning: {warning}", file=sys.stderr)
    return config


def credentials_fix(config: Config | None = None) -> str:
    """What to do when the API turns the key or token down (wrong, or deactivated)."""
    where = f"[api] of {config.path}" if config is not None else "[api] of your config"
    return (
        f"check key and token in {where} "
        "(KONDADO_KEY / KONDADO_TOKEN override them); a token deactivated in the Kondado "
        "app needs a new one"
    )


def read_only_refusal(action: str) -> int:
    print(
        f"kondado-tui: refusing to {action}: read-only mode is on "
        "(--read-only, or [ui] read_only = true in the config)",
        file=sys.stderr,
    )
    return 2


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None
