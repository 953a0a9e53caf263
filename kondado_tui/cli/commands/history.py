"""`kondado-tui history [ID] [--since 24h] [--json] [--local]`: the status changes seen.

Reads the history database that the dashboard and `kondado-tui status` fill as they poll;
asks the API nothing and needs no credentials. With credentials, and when the account has
a collector (a dashboard, `kondado-tui serve`, maybe another login's), its history of the
same pipelines is merged in (`peek.recall`): while this login's dashboards were its
viewers, what they showed was recorded in the collector's file, not in this one. Each
transition says where it came from (`source`). `--local`: this login's file alone.
Times are local in the table and ISO 8601 UTC in the JSON (`cli.output.iso_utc`, as
`status --json`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from kondado_tui.cli.completion.spec import Kind, complete_with
from kondado_tui.cli.output import format_table, iso_utc
from kondado_tui.cli.support import config_names, duration_arg, load_for_command, pipeline_arg
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.collector.messages import MAX_HISTORY
from kondado_tui.core.collector.peek import NotSeen, Recalled, recall
from kondado_tui.core.config import Config, load_config
from kondado_tui.core.errors import ConfigError
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
            "status` observed, oldest first. Asks the API nothing. Reads this login's "
            "history file and, when the config has credentials and this account has a "
            "collector (a dashboard, kondado-tui serve), merges in the collector's history "
            "of the same pipelines."
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
        "raw_msg, refusal, previous_seen_at, source, collector_pid)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="read this login's history file only, not the history of this account's "
        "collector (a dashboard, kondado-tui serve)",
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


class Source(Enum):
    """Where a transition was read (`--json`'s `source`)."""

    LOCAL = "local"  # this login's history file
    COLLECTOR = "collector"  # the account's collector's history, not in this login's file
    BOTH = "both"  # in both


@dataclass(frozen=True)
class Entry:
    transition: Transition
    source: Source = Source.LOCAL
    collector_pid: int | None = None


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
    entries = [Entry(t) for t in transitions]
    recalled = None if args.local else _from_collector(args, config, transitions)
    if recalled is not None:
        entries = merge(transitions, recalled, args.pipeline, since)
        _tell(recalled, entries, args.pipeline, since)
    if args.json:
        print(json.dumps([_as_json(e, names) for e in entries], indent=2))
    elif entries:
        print(_as_table(entries, names))
    elif path.exists() or recalled is not None:
        window = "" if seconds is None else f" in the last {args.since.text}"
        which = "" if args.pipeline is None else f" for pipeline {args.pipeline}"
        where = str(path) + (", nor by this account's collector" if recalled else "")
        print(f"No status changes recorded{which}{window} ({where}).")
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


# -- the account's collector ------------------------------------------------------------


def _from_collector(
    args: argparse.Namespace, config: Config, local: list[Transition]
) -> Recalled | None:
    """The collector's history of the pipelines asked about (the one named, else those
    of the config and of this login's file); None when there is no collector, the config
    has no credentials, or the one there is not believed (then stderr says why)."""
    config = _with_token(args, config)
    if args.pipeline is not None:
        ids = [args.pipeline]
    else:
        ids = list(dict.fromkeys([p.id for p in config.pipelines] + [t.pipeline_id for t in local]))
    if not ids:
        return None
    found = asyncio.run(recall(config, ids))
    if isinstance(found, NotSeen):
        if found.why:
            why = f"note: not using this account's collector: {found.why}"
            _say(f"{why}; showing this login's history only")
        return None
    return found


def _with_token(args: argparse.Namespace, config: Config) -> Config:
    """The config with its token when only a `token_command` holds it (the loader runs
    it only when asked to): the collector's proof needs it. A command that fails leaves
    the config without one (this login's history alone), saying why."""
    if not config.api.key or config.api.token:
        return config
    try:
        return load_config(
            config.path,
            os.environ,
            base_url=getattr(args, "base_url", None),
            read_only=bool(getattr(args, "read_only", False)),
        )
    except ConfigError as exc:
        if "no API token configured" not in exc.message:  # there was a command: it failed
            _say(f"note: not using this account's collector: {exc.message}")
        return config


def _key(t: Transition) -> tuple[int, float, str]:
    # the same observation read from two files (the collector is this login's process
    # with the same file): one moment and one status
    return t.pipeline_id, round(t.at, 3), t.to_status


def merge(
    local: list[Transition], recalled: Recalled, pipeline: int | None, since: float | None
) -> list[Entry]:
    """This login's transitions and the collector's, in time order, each once; a
    transition in both keeps this login's copy (its raw_msg is never cut)."""
    pid = recalled.collector.pid
    entries = {_key(t): Entry(t) for t in local}
    for t in recalled.transitions:
        if (pipeline is not None and t.pipeline_id != pipeline) or (
            since is not None and t.at < since
        ):
            continue
        mine = entries.get(_key(t))
        if mine is None:
            entries[_key(t)] = Entry(t, Source.COLLECTOR, pid)
        elif mine.source is Source.LOCAL:
            entries[_key(t)] = Entry(mine.transition, Source.BOTH, pid)
    return sorted(entries.values(), key=lambda e: (e.transition.at, e.transition.pipeline_id))


def _tell(
    recalled: Recalled, entries: list[Entry], pipeline: int | None, since: float | None
) -> None:
    """Where the list came from, and what the collector did not send (stderr)."""
    who = recalled.collector
    theirs = sum(e.source is not Source.LOCAL for e in entries)
    only = sum(e.source is Source.COLLECTOR for e in entries)
    _say(
        f"merged with the history of this account's collector (pid {who.pid}, login "
        f"{who.login}): {theirs} change{'s' if theirs != 1 else ''} from it, {only} of them "
        "not in this login's history"
    )
    for pid in sorted(recalled.full):
        oldest = min(t.at for t in recalled.transitions if t.pipeline_id == pid)
        if since is None or oldest > since:
            _say(
                f"note: the collector sent the newest {MAX_HISTORY} changes of pipeline "
                f"{pid} (from {iso_utc(oldest)} on): older ones are only in its own file"
            )
    for pid, why in sorted(recalled.unanswered.items()):
        _say(f"note: the collector did not answer about pipeline {pid}: {why}")
    if recalled.skipped:
        _say(f"note: {recalled.skipped} pipelines were not asked of the collector (too many)")


def _say(text: str) -> None:
    print(f"kondado-tui: {clean(text, keep_newlines=False)}", file=sys.stderr)


def _as_json(entry: Entry, names: dict[int, str]) -> dict[str, object]:
    t = entry.transition
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
        # local (this login's file), collector (only the account's collector's), both
        "source": entry.source.value,
        "collector_pid": entry.collector_pid,
    }


def _as_table(entries: list[Entry], names: dict[int, str]) -> str:
    # a SOURCE column only when it tells something: the sources differ
    sources = len({e.source for e in entries}) > 1
    rows = []
    for entry in entries:
        t = entry.transition
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
                *([entry.source.value] if sources else []),
                first_line(t.raw_msg),
            ]
        )
    zone = datetime.now().astimezone().tzname() or "local"
    headers = [f"TIME ({zone})", "ID", "NAME", "FROM", "TO"]
    return format_table([*headers, *(["SOURCE"] if sources else []), "MESSAGE"], rows)
