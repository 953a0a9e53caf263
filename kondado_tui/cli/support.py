"""What every subcommand does the same way: read its arguments, load the config."""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from kondado_tui.cli.exitcodes import EXIT_USAGE
from kondado_tui.core import logfile
from kondado_tui.core.api import KondadoClient
from kondado_tui.core.budget import Budget, HostBudget
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.config import Config, PipelineRefError, load_config, parse_pipeline_ref
from kondado_tui.core.durations import DurationError, parse_duration
from kondado_tui.core.errors import ApiError, Rejected
from kondado_tui.core.session import command_api


def pipeline_arg(text: str) -> int:
    """argparse type of every pipeline argument: an id (`2040`) or its app URL.

    The message names the bad value and shows both accepted forms; argparse prefixes it
    with the argument's name and exits with EXIT_USAGE.
    """
    try:
        return parse_pipeline_ref(text)
    except PipelineRefError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def duration_arg(text: str) -> float:
    """argparse type of a duration option (`90s`, `30m`, `24h`, `7d`, `1h30m`)."""
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# A dash then a digit or a point: `-1m`, `-5`, `-.5h`. No option of ours looks like that,
# so after an option that takes a value it can only be that value.
_DASHED_VALUE = re.compile(r"-[\d.]")


def glue_dashed_values(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """`--max-age -1m` as `--max-age=-1m`, before argparse reads the words.

    argparse takes a word starting with '-' for an option unless it looks like a negative
    number (`-1m` does not), and answers a bare "expected one argument". Glued, the value
    reaches the option's type, whose message names the option and says what a valid
    value is. Only after an option that takes one value, within its (sub)command.
    """
    words = list(argv)
    glued: list[str] = []
    current = parser
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":  # everything after it is positional already
            glued.extend(words[index:])
            break
        following = words[index + 1] if index + 1 < len(words) else "--"  # "--": none
        if following != "--" and word in _one_value_options(current):
            dashed = _DASHED_VALUE.match(following) is not None
            glued.extend([f"{word}={following}"] if dashed else [word, following])
            index += 2
            continue
        current = _subcommands(current).get(word, current)
        glued.append(word)
        index += 1
    return glued


def _one_value_options(parser: argparse.ArgumentParser) -> set[str]:
    # argparse keeps no public list of a parser's options: `_actions` is the one there is.
    return {
        option
        for action in parser._actions
        if action.nargs is None  # exactly one value (flags take none: nargs=0)
        for option in action.option_strings
    }


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


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
    problem = start_logging(args, config, getattr(args, "command", None) or "kondado-tui")
    if problem and (args.log_file or config.log.path or args.debug):
        print(f"kondado-tui: warning: {problem}", file=sys.stderr)  # asked for: say so
    return config


def reloader(args: argparse.Namespace, config: Config) -> Callable[[], Config]:
    """Reads `config`'s file again with the same options (`--base-url`, `--read-only`),
    for a process that watches it change; never runs token_command."""
    base_url = getattr(args, "base_url", None)
    read_only = bool(getattr(args, "read_only", False))

    def reload() -> Config:
        return load_config(
            config.path, base_url=base_url, read_only=read_only, require_credentials=False
        )

    return reload


def start_logging(args: argparse.Namespace, config: Config | None, what: str) -> str:
    """The log file as the options (`--log-file`, `--debug`) and `[log]` say; a problem
    opening it ("" when fine) is for the caller to show or not."""
    plan = logfile.plan_for(
        config.log if config is not None else None,
        log_file=_path(getattr(args, "log_file", None)),
        debug=bool(getattr(args, "debug", False)),
    )
    return logfile.start(plan, what)


def unexpected_error(exc: BaseException, what: str) -> str:
    """The message for a bug in a command; its traceback goes to the log."""
    return logfile.unexpected_message(exc, what, "the command you ran")


def quiet_library_logs() -> None:
    """Commands say what happened in their own words (notes, errors, exit status); the
    core's log lines would repeat it unformatted through logging's last-resort handler.
    Records still propagate to handlers a calling script installs."""
    logger = logging.getLogger("kondado_tui")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@asynccontextmanager
async def api_for_command(
    config: Config, what: str, clock: Clock = SYSTEM_CLOCK
) -> AsyncIterator[tuple[KondadoClient, Budget]]:
    """`session.command_api`, telling the user what the budget makes them wait for: a
    rate-limit lock-out still running (`what` is sent when it ends), a slot other
    kondado-tui processes on the host held, or a budget it cannot share with them."""
    async with command_api(config, clock) as (client, budget):
        told: set[str] = set()

        def note(text: str) -> None:  # once each (may be called on the budget's thread)
            if text not in told:
                told.add(text)
                print(f"kondado-tui: note: {text}", file=sys.stderr)

        if budget.warning:
            note(budget.warning)
        if isinstance(budget, HostBudget):
            budget.notices = note
        until = budget.locked_until
        if until is not None:
            wait = math.ceil(until - clock.now())
            print(
                f"kondado-tui: the API locked this key out for going over its rate limit: {what} "
                f"will be sent when the lock-out ends, in {wait} s (Ctrl-C gives up)",
                file=sys.stderr,
            )
        yield client, budget


def config_names(config: Config) -> dict[int, str]:
    """The names the config gives pipelines. An unnamed one has none here: output shows
    its id alone, never a made-up 'pipeline N' as if it were a name (JSON: null)."""
    return {p.id: p.name for p in config.pipelines if p.name}


def pipeline_label(config: Config, pipeline_id: int) -> str:
    """How a message names a pipeline: 'Shopify orders (2040)', or 'pipeline 2040'."""
    name = config_names(config).get(pipeline_id)
    return f"{name} ({pipeline_id})" if name else f"pipeline {pipeline_id}"


def credentials_fix(config: Config | None = None) -> str:
    """What to do when the API turns the key or token down (wrong, or deactivated)."""
    where = f"[api] of {config.path}" if config is not None else "[api] of your config"
    return (
        f"check key and token in {where} "
        "(KONDADO_KEY / KONDADO_TOKEN override them); a token deactivated in the Kondado "
        "app needs a new one"
    )


def credentials_hint(exc: ApiError, config: Config | None = None) -> str:
    """A line to add after the API's refusal of the key or token ("" for other errors)."""
    if isinstance(exc, Rejected) and exc.auth:
        return f"\nkondado-tui: {credentials_fix(config)}"
    return ""


def read_only_refusal(action: str) -> int:
    print(
        f"kondado-tui: refusing to {action}: read-only mode is on "
        "(--read-only, or [ui] read_only = true in the config)",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None
