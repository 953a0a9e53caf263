"""`kondado-tui info`: versions, files, budget, alerts, log, terminal and (unless
`--offline`) one request to see the API answer: text to paste into a bug report, or
`--json`. Never the token nor the key; a problem is a line of the output, not a failure."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from rich.console import Console

from kondado_tui.core import diagnostics, paths
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.config import Config, load_config
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.logfile import mask_line

HEADER = "kondado-tui info (safe to paste into a bug report: no token, no key)"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "info",
        help="what to paste into a bug report (versions, files, budget, terminal)",
        description=(
            "Versions, the config and its permissions, the files kept, how the rate "
            "budget is shared on this host, the alert command, the log, the terminal, and "
            "whether the API answers and accepts the key and token (one request through "
            "the budget; --offline skips it). Holds no token and no key."
        ),
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument(
        "--offline", action="store_true", help="send no request (and run no token_command)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_OK

    env = os.environ
    path = paths.config_path(args.config, env)
    config, error, usable_for_api = _load(args, env)
    warnings: list[str] = []
    report: dict[str, Any] = {"versions": diagnostics.versions()}
    report["config"] = diagnostics.config_facts(path, config, error, env, warnings)
    if args.offline:
        report["api"] = {"check": "skipped (--offline)"}
    elif config is None or not usable_for_api:
        report["api"] = {"check": "skipped: the config cannot be used as it is (see config)"}
    else:
        report["api"] = asyncio.run(diagnostics.api_facts(config, SYSTEM_CLOCK))
    report["files"] = diagnostics.file_facts(config, env)
    report["budget"] = diagnostics.budget_facts(config, env, SYSTEM_CLOCK)
    report["budget"]["broker"] = diagnostics.broker_facts(config, env, SYSTEM_CLOCK)
    report["alerts"] = diagnostics.alert_facts(config, env)
    report["log"] = diagnostics.log_facts(config, env)
    terminal = diagnostics.terminal_facts(env, warnings)
    terminal["colours"] = Console(file=sys.stderr).color_system or "none (monochrome)"
    report["terminal"] = terminal
    tmux = terminal.get("tmux") or {}
    if config is not None and config.ui.desktop_notify and tmux.get("allow_passthrough") == "off":
        warnings.append(
            "desktop_notify is on but tmux allow-passthrough is off: the notifications stop "
            "at tmux; add 'set -g allow-passthrough on' to ~/.tmux.conf"
        )
    report["warnings"] = warnings
    report = _masked(report)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print("\n".join([HEADER, *_text(report)]))
    return EXIT_OK


def _load(args: argparse.Namespace, env: os._Environ[str]) -> tuple[Config | None, str, bool]:
    """(config, why it is not usable, whether it can ask the API). Without credentials
    the rest of the file still tells a lot: it is read again without them."""
    options: dict[str, Any] = {"base_url": args.base_url, "read_only": args.read_only}
    config_path = paths.config_path(args.config, env) if args.config else None
    try:
        config = load_config(config_path, env, require_credentials=not args.offline, **options)
        return config, "", True
    except ConfigError as exc:
        error = str(exc)
    if args.offline:
        return None, error, False
    try:
        return load_config(config_path, env, require_credentials=False, **options), error, False
    except ConfigError:
        return None, error, False


def _masked(value: Any) -> Any:
    """Every string once more through the log's mask (token, and a URL's key)."""
    if isinstance(value, str):
        return mask_line(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _text(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for section, facts in report.items():
        if section == "warnings":
            continue
        lines.append("")
        lines.append(section)
        lines.extend(_facts(facts, "  "))
    warnings = report.get("warnings") or []
    lines.append("")
    lines.append("warnings" if warnings else "warnings: none")
    lines.extend(f"  - {w}" for w in warnings)
    return lines


def _facts(facts: dict[str, Any], indent: str) -> list[str]:
    width = max((len(key) for key in facts), default=0)
    lines: list[str] = []
    for key, value in facts.items():
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{key}")
            lines.extend(_facts(value, indent + "  "))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines.append(f"{indent}{key}")
            lines.extend(f"{indent}  - {_inline(v)}" for v in value)
        else:
            lines.append(f"{indent}{key.ljust(width)}  {_word(value)}")
    return lines


def _inline(facts: dict[str, Any]) -> str:
    return ", ".join(f"{key} {_word(value)}" for key, value in facts.items())


def _word(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_word(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return "none" if not value else _inline(value)
    return str(value)
