"""`kondado-tui init`, `add` and `remove`: create the config and edit its pipeline list.

Edits go through `config.append_pipeline` / `remove_pipeline`, so the user's comments
and layout survive and a crash can never leave a half-written file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from kondado_tui.cli.completion.spec import Kind, complete_with
from kondado_tui.cli.support import (
    api_for_command,
    config_names,
    credentials_hint,
    load_for_command,
    pipeline_arg,
)
from kondado_tui.core import paths
from kondado_tui.core.config import (
    ENV_KEY,
    ENV_TOKEN,
    Config,
    EntryError,
    PipelineEntry,
    append_pipeline,
    normalize_entry,
    remove_pipeline,
    write_starter_config,
)
from kondado_tui.core.errors import ApiError
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.core.models import PipelineStatus, Priority

REF_HELP = "pipeline id, or its app URL (https://app.kondado.com.br/pipelines/<id>)"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    init = subparsers.add_parser(
        "init",
        help="create a commented starter config file",
        description="Write a commented starter config (mode 0600) at the config path "
        "(--config, $KONDADO_TUI_CONFIG or the default). Never overwrites a file.",
    )
    init.set_defaults(handler=handle_init)

    add = subparsers.add_parser(
        "add",
        help="add a pipeline to the config",
        description="Add a pipeline to the config after checking it with one status "
        "request. Comments and layout of the file are kept.",
    )
    add.add_argument("pipeline_id", metavar="ID|URL", type=pipeline_arg, help=REF_HELP)
    add.add_argument("--name", metavar="NAME", help="a name to show instead of the id")
    add.add_argument("--group", metavar="GROUP", help="a group to list it under")
    add.add_argument(
        "--no-check",
        action="store_true",
        help="save without asking the API first (no credentials needed)",
    )
    add.set_defaults(handler=handle_add)

    remove = subparsers.add_parser(
        "remove",
        help="remove a pipeline from the config",
        description="Remove a pipeline's [[pipelines]] entry from the config (comments "
        "inside that entry go with it; everything else is kept). Its history is kept.",
    )
    complete_with(
        remove.add_argument("pipeline_id", metavar="ID|URL", type=pipeline_arg, help=REF_HELP),
        Kind.PIPELINE,
    )
    remove.set_defaults(handler=handle_remove)


def handle_init(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_OK

    path = write_starter_config(paths.config_path(args.config, os.environ))
    print(
        f"Created {path} (readable only by you).\n"
        "Next steps:\n"
        f'  1. Put your API key in it (key = "...") and give the token with token_command,\n'
        f"     or set {ENV_KEY} and {ENV_TOKEN} in the environment.\n"
        "  2. Add the pipelines to watch:\n"
        "       kondado-tui add https://app.kondado.com.br/pipelines/<id>\n"
        "  3. Open the dashboard:\n"
        "       kondado-tui"
    )
    return EXIT_OK


def handle_add(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_API, EXIT_OK, EXIT_USAGE

    pid: int = args.pipeline_id
    try:
        entry = normalize_entry(PipelineEntry(pid, args.name, args.group))
    except EntryError as exc:
        print(f"kondado-tui: --{exc.field}: {exc.problem}; {exc.fix}", file=sys.stderr)
        return EXIT_USAGE
    config = load_for_command(args, require_credentials=not args.no_check)
    for known in config.pipelines:
        if known.id == pid:
            named = f" (as '{clean(known.name)}')" if known.name else ""
            print(
                f"kondado-tui: pipeline {pid} is already in {config.path}{named}; nothing to add",
                file=sys.stderr,
            )
            return EXIT_USAGE
    seen = ""
    if not args.no_check:
        try:
            status = asyncio.run(check_pipeline(config, pid))
        except ApiError as exc:
            print(
                f"kondado-tui: pipeline {pid} was not added: {exc}{credentials_hint(exc, config)}",
                file=sys.stderr,
            )
            return EXIT_API
        seen = f" (status now: {clean(status.status, keep_newlines=False)})"
    append_pipeline(config.path, entry)
    extra = "".join(
        f", {label} '{value}'"
        for label, value in (("name", entry.name), ("group", entry.group))
        if value
    )
    print(f"Added pipeline {pid}{extra} to {config.path}{seen}.")
    return EXIT_OK


async def check_pipeline(config: Config, pid: int) -> PipelineStatus:
    """One status request through the shared rate budget: does this pipeline exist for us?"""
    async with api_for_command(config, "the check") as (client, _):
        return await client.get_status(pid, Priority.INTERACTIVE)


def handle_remove(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_OK, EXIT_USAGE

    pid: int = args.pipeline_id
    config = load_for_command(args, require_credentials=False)
    listed = ", ".join(str(p.id) for p in config.pipelines) or "none"
    name = config_names(config).get(pid)
    if not remove_pipeline(config.path, pid):
        print(
            f"kondado-tui: pipeline {pid} is not in {config.path} (listed: {listed}); "
            "nothing was changed",
            file=sys.stderr,
        )
        return EXIT_USAGE
    shown = f" ({name})" if name else ""
    print(f"Removed pipeline {pid}{shown} from {config.path}. Its recorded history is kept.")
    return EXIT_OK
