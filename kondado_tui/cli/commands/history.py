"""`kondado-tui history [ID] [--since 24h] [--json]`: the status changes this host saw.

Reads the history database that the dashboard and `kondado-tui status` fill as they poll;
asks the API nothing and needs no credentials. Times are local in the table and ISO 8601
UTC in the JSON (`cli.output.iso_utc`, as `status --json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kondado_tui.cli.completion.spec import Kind, complete_with
from kondado_tui.cli.output import format_table, iso_utc
from kondado_tui.cli.support import config_names, duration_arg, load_for_command, pipeline_arg
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.config import Config
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.history.timeline import Transition, stored_kind
from kondado_tui.core.paths import default_history_path
from kondado_tui.core.session import open_store

DEFAULT_SINCE = "24h"
EVERYTHING = "all"


@dataclass(frozen=True)
class Since:
    seconds: float | None  # None: everything kept
    text: str  # as typed, to say it back


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "history",
        help="print the status changes recorded on this host",
        description=(
            "Print every change of status or message the dashboard and `kondado-tui "
            "status` observed, oldest first. Reads the local history only: asks the API "
            "nothing and needs no credentials."
        ),
    )
    pipeline = parser.add_argument(
        "pipeline",
        metavar="ID",
        nargs="?",
        type=pipeline_arg,
        help="only this pipeline (an id or its app URL)",
    )
    complete_with(pipeline, Kind.PIPELINE)
    since = parser.add_argument(
        "--since",
        metavar="DURATION",
        type=_since,
        default=DEFAULT_SINCE,
        help=f"how far back: 90s, 30m, 24h, 7d, or '{EVERYTHING}' (default: {DEFAULT_SINCE})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list (time in ISO 8601 UTC, id, name, from_status, to_status, "
        "raw_msg, refusal, previous_seen_at)",
    )
    complete_with(since, Kind.WORDS, ("1h", "24h", "7d", EVERYTHING))
    parser.set_defaults(handler=handle)


def _since(text: str) -> Since:
    if text.strip().lower() == EVERYTHING:
        return Since(None, EVERYTHING)
    try:
        return Since(duration_arg(text), text.strip())
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or '{EVERYTHING}')") from None


def handle(args: argparse.Namespace, clock: Clock = SYSTEM_CLOCK) -> int:
    config = load_for_command(args, require_credentials=False)
    path = config.history.path or default_history_path()
    seconds = args.since.seconds
    since = None if seconds is None else clock.now() - seconds
    names = config_names(config)
    if not path.exists():
        _say(
            f"no history yet: {path} does not exist (the dashboard and "
            "'kondado-tui status' record it as they poll)"
        )
        transitions: list[Transition] = []
    else:
        transitions = _read(config, clock, args.pipeline, since)
    if args.json:
        print(json.dumps([_as_json(t, names) for t in transitions], indent=2))
    elif transitions:
        print(_as_table(transitions, names))
    elif path.exists():
        window = "" if seconds is None else f" in the last {args.since.text}"
        which = "" if args.pipeline is None else f" for pipeline {args.pipeline}"
        print(f"No status changes recorded{which}{window} ({path}).")
    return 0


def _read(
    config: Config, clock: Clock, pipeline: int | None, since: float | None
) -> list[Transition]:
    # With the configured retention (opening prunes); the dashboard checks the file whole.
    store = open_store(config, clock, quick_check=False)
    try:
        transitions = store.transitions(pipeline, since)
        if store.note:
            _say(store.note)
    finally:
        store.close()
    return transitions


def _say(text: str) -> None:
    print(f"kondado-tui: {clean(text, keep_newlines=False)}", file=sys.stderr)


def _as_json(t: Transition, names: dict[int, str]) -> dict[str, object]:
    return {
        "time": iso_utc(t.at),
        "id": t.pipeline_id,
        "name": names.get(t.pipeline_id),
        "from_status": t.from_status,
        "to_status": t.to_status,
        "raw_msg": t.raw_msg,
        # Set when the API refused to describe the pipeline from `time` on; `to_status`
        # then holds the same value ("not_found", "no_access", "refused").
        "refusal": None if t.refusal is None else t.refusal.value,
        # The change happened between this and `time` (null: the first sighting).
        "previous_seen_at": None if t.previous_seen_at is None else iso_utc(t.previous_seen_at),
    }


def _as_table(transitions: list[Transition], names: dict[int, str]) -> str:
    rows = []
    for t in transitions:
        local = datetime.fromtimestamp(t.at).astimezone()
        before = "(first seen)" if t.from_status is None else stored_kind(t.from_status).label
        after = stored_kind(t.to_status)
        rows.append(
            [
                local.strftime("%Y-%m-%d %H:%M:%S"),
                str(t.pipeline_id),
                names.get(t.pipeline_id, ""),
                before,
                f"{after.glyph} {after.label}",
                first_line(t.raw_msg),
            ]
        )
    zone = datetime.now().astimezone().tzname() or "local"
    return format_table([f"TIME ({zone})", "ID", "NAME", "FROM", "TO", "MESSAGE"], rows)
