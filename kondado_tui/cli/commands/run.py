"""`kondado-tui run ID [--yes]`: queue a pipeline run, like pressing RUN in the app."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from kondado_tui.cli.completion.spec import Kind, complete_with
from kondado_tui.cli.output import confirm
from kondado_tui.cli.support import (
    api_for_command,
    load_for_command,
    pipeline_arg,
    pipeline_label,
    read_only_refusal,
)
from kondado_tui.cli.unknown_outcome import open_doubts, report_failure, second_confirmation
from kondado_tui.core.actions import run_target
from kondado_tui.core.config import Config
from kondado_tui.core.errors import ApiError
from kondado_tui.core.models import Priority


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a pipeline now",
        description="Queue a run of a pipeline (like pressing RUN in Kondado's app).",
    )
    pipeline = parser.add_argument(
        "pipeline_id", metavar="ID", type=pipeline_arg, help="pipeline id, or its app URL"
    )
    complete_with(pipeline, Kind.PIPELINE)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--again",
        action="store_true",
        help="run even though the last run asked (within the hour) got no readable answer "
        "and may be queued already",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_OK, EXIT_USAGE

    config = load_for_command(args)
    if config.ui.read_only:
        return read_only_refusal("run a pipeline")
    pid: int = args.pipeline_id
    label = pipeline_label(config, pid)
    answer = confirm(f"Run {label} now?", assume_yes=args.yes)
    if answer is None:
        print(
            "kondado-tui: not running: no terminal to confirm on; add --yes to run anyway",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not answer:
        print("Cancelled: nothing was sent.")
        return EXIT_OK
    target = run_target(pid, label)
    doubts = open_doubts()
    stop = second_confirmation(doubts, target, again=args.again, question="Run it again anyway?")
    if stop is not None:
        return stop
    try:
        message = asyncio.run(_run(config, pid))
    except ApiError as exc:
        return report_failure(exc, target, doubts, config)
    doubts.clear(target)
    print(f"{label}: {message}")
    return EXIT_OK


async def _run(config: Config, pid: int) -> str:
    async with api_for_command(config, "the run") as (client, _):
        return await client.run(pid, Priority.INTERACTIVE)
