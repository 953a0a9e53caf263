"""`kondado-tui alert-test`: run the configured alert command once with a test alert, to
check a recipe (Slack, Teams, mail) before a pipeline breaks for real."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from typing import Any

from kondado_tui.cli.completion.spec import Kind, complete_with
from kondado_tui.cli.support import load_for_command, pipeline_arg
from kondado_tui.core.alerts.command import AlertCommand
from kondado_tui.core.alerts.payload import Delivery, command_env, host_name, payload, who
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.config import Config, PipelineEntry
from kondado_tui.core.events import Alert, AlertKind
from kondado_tui.core.models import status_kind

TEST_MESSAGE = "This is a test alert sent by 'kondado-tui alert-test'; nothing is wrong."
EXAMPLE = PipelineEntry(2040, "Example pipeline", "example")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "alert-test",
        help="run the alert command once with a test alert",
        description=(
            "Run [alerts] command once, now, with a test alert (KONDADO_ALERT_TEST=1, its "
            "text starts with 'TEST'), and say how it went. No request is sent to Kondado."
        ),
    )
    pipeline = parser.add_argument(
        "--pipeline",
        metavar="ID",
        type=pipeline_arg,
        help="the pipeline the test alert is about (default: the first in the config)",
    )
    complete_with(pipeline, Kind.PIPELINE)
    parser.add_argument(
        "--recovered", action="store_true", help="a recovery instead of new trouble"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the variables and the JSON the command would get, without running it",
    )
    parser.set_defaults(handler=handle)


def test_delivery(config: Config, pipeline_id: int | None, recovered: bool) -> Delivery:
    entries = {entry.id: entry for entry in config.pipelines}
    if pipeline_id is not None:
        entry = entries.get(pipeline_id, PipelineEntry(pipeline_id))
    else:
        entry = config.pipelines[0] if config.pipelines else EXAMPLE
    kind = AlertKind.RECOVERED if recovered else AlertKind.TROUBLE
    status = status_kind("active" if recovered else "error_building_tables")
    alert = Alert(
        kind,
        entry.id,
        entry.display_name,
        entry.group,
        status,
        None if recovered else TEST_MESSAGE,
        SYSTEM_CLOCK.now(),
    )
    return Delivery((alert,), test=True)


def handle(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_OK, EXIT_UNHEALTHY, EXIT_USAGE

    config = load_for_command(args, require_credentials=False)
    delivery = test_delivery(config, args.pipeline, args.recovered)
    host = host_name()
    if args.dry_run:
        env = command_env(delivery, host, {}, ())
        for name in sorted(n for n in env if n.startswith("KONDADO_")):
            print(f"{name}={shlex.quote(env[name])}")
        print(json.dumps(payload(delivery, host), indent=2, ensure_ascii=False))
        return EXIT_OK
    settings = config.alerts
    if not settings.command:
        print(
            f"kondado-tui: no alert command: add one to {config.path}, e.g.\n\n"
            '    [alerts]\n    command = ["/home/you/bin/kondado-alert"]\n\n'
            "(recipes for Slack, Teams and mail: docs/alerts.md; --dry-run shows what the "
            "command gets)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    program = shlex.quote(settings.command[0])  # its arguments may hold a secret URL
    about = who(delivery.alerts[0].name, delivery.alerts[0].pipeline_id)
    print(
        f"Running {program} (timeout {settings.timeout:g} s) with a test "
        f"{delivery.kind} alert for {about}...",
        file=sys.stderr,
    )
    result = asyncio.run(AlertCommand(settings, host=host).send(delivery))
    if result.stderr and result.ok:
        print(f"its stderr: {result.stderr}", file=sys.stderr)
    if result.ok:
        print(f"kondado-tui: the alert command worked ({result.summary}).")
        return EXIT_OK
    print(f"kondado-tui: the alert command failed: {result.summary}", file=sys.stderr)
    return EXIT_UNHEALTHY
