"""`kondado-tui duplicate`: create a pipeline from another (`POST /pipelines`).

The body comes from a file (`--body`, JSON or TOML) and/or flags; flags override the
file. It goes through the same validator as the TUI form before anything is sent, and
the user confirms the table names, because the API silently recreates an existing table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from kondado_tui.cli.completion.spec import Kind, complete_with
from kondado_tui.cli.output import confirm
from kondado_tui.cli.support import (
    api_for_command,
    load_for_command,
    pipeline_label,
    read_only_refusal,
)
from kondado_tui.cli.unknown_outcome import open_doubts, report_failure, second_confirmation
from kondado_tui.core.actions import duplicate_target
from kondado_tui.core.config import Config, PipelineEntry, append_pipeline
from kondado_tui.core.duplicate import (
    BASE,
    BODY,
    CLIENT,
    DELTA,
    DEST,
    EXECUTE,
    FULL,
    NAME,
    PARAMS,
    SRC,
    DuplicateDraft,
    MappingMemory,
    ParamRow,
    TableRow,
    body_json,
    body_text,
    build_body,
    draft_from_body,
    field_label,
    load_body_file,
    parse_body_text,
    tables_to_be_created,
    validate,
    warnings,
)
from kondado_tui.core.errors import ApiError, ConfigError, KondadoError
from kondado_tui.core.guards.limits import MAX_BODY_FILE
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.core.models import APP_URL, Priority

# Which option sets each field: problems name the option the user typed.
_OPTION_OF = {
    BASE: "--from",
    SRC: "--src",
    DEST: "--dest",
    CLIENT: "--client",
    NAME: "--name",
    EXECUTE: "--execute",
    FULL: "--table",
    DELTA: "--delta-table",
    PARAMS: "--param",
    BODY: "--body",
}

EXAMPLE = """\
examples:
  kondado-tui duplicate --from 2040 --src 5052 --dest 7002 \\
      --table =outlet_orders --table line_items=outlet_line_items \\
      --param start_date=2024-01-01 --dry-run
  kondado-tui duplicate --body acme.toml --client 31552 --yes

--table =NAME sets the main table (its path is empty). Parameter values that look like
JSON (12, 1.5, true, [1, 2], "quoted text") are sent as JSON, anything else as text.
Exit codes: 0 created (or --dry-run), 2 invalid input or not confirmed, 3 the API failed.
A send whose answer was lost or unreadable may have created the pipeline: it is
remembered, and the same body (base, destination, tables) asks a second time before it
goes again (--again answers it, for scripts).
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "duplicate",
        help="create a pipeline from another",
        description=(
            "Create a pipeline from an existing one (POST /pipelines). Every table named "
            "is created in the destination, and an existing table of that name is "
            "SILENTLY RECREATED: check the names."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--body",
        metavar="FILE",
        help="the request body, JSON or TOML ('-': standard input); flags override its fields",
    )
    complete_with(
        parser.add_argument("--from", dest="base", metavar="ID", help="the base pipeline's id"),
        Kind.PIPELINE,
    )
    parser.add_argument("--src", metavar="N", help="the new source collection id")
    parser.add_argument("--dest", metavar="N", help="the new destination collection id")
    parser.add_argument(
        "--client",
        metavar="N",
        help="target account id (the number before the dash of the team id)",
    )
    parser.add_argument(
        "--name", metavar="TEXT", help="the new pipeline's name (default: the base pipeline's)"
    )
    parser.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="PATH=NAME",
        help="a full table: its path in the base -> the new table's name; "
        "repeat for every path (=NAME is the main table)",
    )
    parser.add_argument(
        "--delta-table",
        action="append",
        default=[],
        metavar="PATH=NAME",
        help="a delta table, same form as --table",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="overwrite a parameter of the base pipeline",
    )
    parser.add_argument(
        "--execute",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the new pipeline right after creating it (default: no)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and print the JSON body; send nothing"
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask for confirmation (needed without a terminal)",
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="send even though the same body (base, destination, tables) was sent before "
        "and got no readable answer: it may have created the pipeline already",
    )
    parser.add_argument(
        "--no-save", action="store_true", help="do not add the new pipeline to the config file"
    )
    parser.set_defaults(handler=handle)


# -- from arguments to a draft ----------------------------------------------------------


def _split(text: str, *, last: bool) -> tuple[str, str] | None:
    if "=" not in text:
        return None
    left, _, right = text.rpartition("=") if last else text.partition("=")
    return left, right


def _apply_tables(
    rows: list[TableRow], pairs: list[str], option: str, problems: dict[str, str]
) -> None:
    """`PATH=NAME` pairs onto rows: a path from the body file is replaced once; a path
    given twice on the command line stays twice, so the validator reports it."""
    from_file = {row.path: row for row in rows}
    for text in pairs:
        # Table names never hold "=", paths might: split at the last one.
        pair = _split(text, last=True)
        if pair is None:
            problems[f"{option} {clean(text, keep_newlines=False)!r}"] = (
                f"write PATH=NAME ({option} =NAME for the main table)"
            )
            continue
        path, name = pair
        row = from_file.pop(path, None)
        if row is not None:
            row.name = name
        else:
            rows.append(TableRow(path, name))


def _apply_params(rows: list[ParamRow], pairs: list[str], problems: dict[str, str]) -> None:
    from_file = {row.name: row for row in rows}
    for text in pairs:
        pair = _split(text, last=False)  # values may hold "=", names do not
        if pair is None:
            problems[f"--param {clean(text, keep_newlines=False)!r}"] = "write NAME=VALUE"
            continue
        name, value = pair
        row = from_file.pop(name, None)
        if row is not None:
            row.value = value
        else:
            rows.append(ParamRow(name, value))


def _stdin_text() -> str:
    """Standard input as a body's text, read no further than a body may be long."""
    raw = getattr(sys.stdin, "buffer", None)  # absent when a test hands in a StringIO
    if raw is not None:
        data = raw.read(MAX_BODY_FILE + 1)
    else:
        data = sys.stdin.read(MAX_BODY_FILE + 1).encode("utf-8", "surrogatepass")
    return body_text(data, "<stdin>")


def draft_from_args(args: argparse.Namespace) -> tuple[DuplicateDraft, dict[str, str]]:
    """The draft the options describe, and problems that are not about a field's value."""
    problems: dict[str, str] = {}
    if args.body == "-":  # generated by a script: `... | kondado-tui duplicate --body - --yes`
        draft, problems = draft_from_body(parse_body_text(_stdin_text(), "<stdin>"))
    elif args.body:
        draft, problems = draft_from_body(load_body_file(Path(args.body).expanduser()))
    else:
        draft = DuplicateDraft(full_tables=[])
    for attr, value in (
        ("base_id", args.base),
        ("src", args.src),
        ("dest", args.dest),
        ("client", args.client),
        ("name", args.name),
    ):
        if value is not None:
            setattr(draft, attr, value)
    if args.execute is not None:
        draft.execute_immediately = args.execute
    _apply_tables(draft.full_tables, args.table, "--table", problems)
    _apply_tables(draft.delta_tables, args.delta_table, "--delta-table", problems)
    _apply_params(draft.parameters, args.param, problems)
    return draft, problems


def _where(draft: DuplicateDraft, key: str) -> str:
    option = _OPTION_OF.get(key.split("[", 1)[0], key)
    if key.startswith("--"):
        return key
    return f"{field_label(draft, key)} [{option}]"


def _report_problems(draft: DuplicateDraft, problems: dict[str, str]) -> None:
    count = len(problems)
    print(
        f"kondado-tui: nothing was sent: {count} problem{'s' if count != 1 else ''} to fix first:",
        file=sys.stderr,
    )
    for key, message in problems.items():
        print(f"  - {_where(draft, key)}: {message}", file=sys.stderr)


def tables_warning(body: dict[str, Any]) -> str:
    names = tables_to_be_created(body)
    return (
        "WARNING: these tables will be created in the destination, and any existing table "
        "of the same name will be SILENTLY RECREATED (its data replaced):\n"
        + "\n".join(f"  - {name}" for name in names)
    )


# -- the command ------------------------------------------------------------------------


def handle(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_OK, EXIT_USAGE

    draft, problems = draft_from_args(args)
    problems = {**validate(draft), **problems}  # a shape problem says more than its echo
    if problems:
        _report_problems(draft, problems)
        return EXIT_USAGE
    body = build_body(draft)
    for key, message in warnings(draft).items():
        print(f"kondado-tui: warning: {_where(draft, key)}: {message}", file=sys.stderr)
    if args.dry_run:
        print(body_json(body))
        print(tables_warning(body), file=sys.stderr)
        print("(dry run: nothing was sent)", file=sys.stderr)
        return EXIT_OK

    config = load_for_command(args)
    if config.ui.read_only:
        return read_only_refusal("duplicate a pipeline")
    base = _entry(config, body["pipeline_id"])
    base_label = pipeline_label(config, body["pipeline_id"])
    print(f"Duplicating {base_label} with this body:", file=sys.stderr)
    print(body_json(body), file=sys.stderr)
    print(tables_warning(body), file=sys.stderr)
    answer = confirm("Create this pipeline?", assume_yes=args.yes)
    if answer is None:
        print(
            "kondado-tui: not duplicating: no terminal to confirm on; check the body "
            "(--dry-run) and add --yes to send it",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not answer:
        print("Cancelled: nothing was sent.", file=sys.stderr)
        return EXIT_OK
    target = duplicate_target(body)
    doubts = open_doubts()
    stop = second_confirmation(doubts, target, again=args.again, question="Send it again anyway?")
    if stop is not None:
        return stop

    try:
        new_id = asyncio.run(_send(config, body))
    except ApiError as exc:
        return report_failure(exc, target, doubts, config)
    doubts.clear(target)

    print(new_id)  # alone on stdout: `NEW=$(kondado-tui duplicate ... --yes)`
    print(
        f"Created pipeline {new_id} from {base_label}: {APP_URL.format(id=new_id)}", file=sys.stderr
    )
    _after_success(args, config, body, base, new_id)
    return EXIT_OK


def _entry(config: Config, pipeline_id: int) -> PipelineEntry | None:
    return next((p for p in config.pipelines if p.id == pipeline_id), None)


async def _send(config: Config, body: dict[str, Any]) -> int:
    async with api_for_command(config, "the new pipeline's request") as (client, _):
        return await client.duplicate(body, Priority.INTERACTIVE)


def _after_success(
    args: argparse.Namespace,
    config: Config,
    body: dict[str, Any],
    base: PipelineEntry | None,
    new_id: int,
) -> None:
    """Keep the new pipeline and the mappings; a failure here is a warning, not an error:
    the pipeline exists either way."""
    if not args.no_save:
        entry = PipelineEntry(
            id=new_id,
            name=body.get("name") or (base.name if base else None),
            group=base.group if base else None,
        )
        try:
            append_pipeline(config.path, entry)
            print(f"Added pipeline {new_id} to {config.path}", file=sys.stderr)
        except ConfigError as exc:
            print(f"kondado-tui: warning: not added to the config: {exc}", file=sys.stderr)
    memory = MappingMemory()
    try:
        memory.remember(body)
    except KondadoError as exc:
        print(f"kondado-tui: warning: {exc}", file=sys.stderr)
    if memory.note:
        print(f"kondado-tui: note: {memory.note}", file=sys.stderr)


__all__ = ["draft_from_args", "handle", "register", "tables_warning"]
