"""`kondado-tui status [--json] [--max-age D] [ID ...]`: one look at each pipeline.

For cron and monitoring scripts. Every request goes through the host-wide rate budget,
so it never trips the API's limits, even beside an open TUI (60 pipelines take about
three minutes at 20 a minute; progress goes to stderr on a terminal). With `--max-age`,
observations younger than that, made by any process on this host, are used as they are.

When the account has a collector (a dashboard, `kondado-tui serve`), its observations
are used as it made them, their ages its own, with no request at all; only the pipelines
it has not observed (or, with `--max-age`, observed longer ago) are asked. `--direct`
asks the API about every one, as before collectors existed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

from kondado_tui.cli.completion.spec import Kind, complete_with
from kondado_tui.cli.output import Progress, format_table, iso_utc
from kondado_tui.cli.support import (
    api_for_command,
    config_names,
    credentials_hint,
    duration_arg,
    load_for_command,
    pipeline_arg,
)
from kondado_tui.core.api import KondadoClient
from kondado_tui.core.budget import Budget
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.collector.peek import NotSeen, peek
from kondado_tui.core.config import Config
from kondado_tui.core.durations import format_age
from kondado_tui.core.errors import ApiError, RateLimited, Rejected, Unreachable
from kondado_tui.core.events import Connection
from kondado_tui.core.guards.sanitize import first_line
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus, Priority, Severity
from kondado_tui.core.session import open_store


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="print the status of pipelines (for scripts and cron)",
        description=(
            "Ask the status of each pipeline once, within the rate budget. Exit status: "
            "0 all healthy, 1 a pipeline in an error or blocked status or in a status "
            "Kondado's docs do not list (the dashboard alerts on the same ones), 2 usage "
            "or config error, 3 the API could not be asked (network, credentials, rate limit)."
        ),
    )
    ids = parser.add_argument(
        "ids",
        metavar="ID",
        nargs="*",
        type=pipeline_arg,
        help="pipeline ids or app URLs (default: every pipeline in the config)",
    )
    complete_with(ids, Kind.PIPELINE)
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    max_age = parser.add_argument(
        "--max-age",
        metavar="DURATION",
        type=duration_arg,
        help="reuse observations younger than this (e.g. 5m) made by any process on this host",
    )
    complete_with(max_age, Kind.WORDS, ("1m", "5m", "15m"))  # examples
    parser.add_argument(
        "--direct",
        action="store_true",
        help="ask the API about every pipeline, even when this account's collector "
        "(a dashboard, kondado-tui serve) already observed it",
    )
    parser.set_defaults(handler=handle)


class Source(Enum):
    """Where a row's observation came from (`--json`'s `source`)."""

    API = "api"  # asked by this command
    HISTORY = "history"  # `--max-age`: an observation some process on this host recorded
    COLLECTOR = "collector"  # the account's collector: its observation, at its time


@dataclass
class Row:
    pipeline_id: int
    name: str
    observation: Observation | None = None
    error: str = ""
    source: Source = Source.API
    collector_pid: int | None = None

    @property
    def cached(self) -> bool:
        return self.source is Source.HISTORY


def handle(args: argparse.Namespace) -> int:
    from kondado_tui.cli.exitcodes import EXIT_API, EXIT_OK, EXIT_UNHEALTHY, EXIT_USAGE

    config = load_for_command(args)
    ids: list[int] = list(dict.fromkeys(args.ids)) or [p.id for p in config.pipelines]
    if not ids:
        print(
            f"kondado-tui: no pipelines to ask: add some to {config.path} "
            "(kondado-tui add ID) or name them: kondado-tui status ID ...",
            file=sys.stderr,
        )
        return EXIT_USAGE
    names = config_names(config)
    rows = [Row(pid, names.get(pid, "")) for pid in ids]
    aborted = asyncio.run(
        collect(config, rows, args.max_age, SYSTEM_CLOCK, direct=bool(args.direct))
    )
    now = SYSTEM_CLOCK.now()
    if args.json:
        print(json.dumps([_as_json(row, now) for row in rows], indent=2))
    else:
        print(_as_table(rows, now))
    if aborted:
        print(f"kondado-tui: {aborted}", file=sys.stderr)
    if aborted or any(row.error for row in rows):
        return EXIT_API
    if any(row.observation and row.observation.status.is_trouble for row in rows):
        return EXIT_UNHEALTHY
    return EXIT_OK


async def collect(
    config: Config,
    rows: list[Row],
    max_age: float | None,
    clock: Clock,
    *,
    direct: bool = False,
) -> str:
    """Fill `rows` in place: from the account's collector (unless `direct`), then from
    history (`max_age`), then by asking the API. Returns why it stopped early ("" when
    every row was asked)."""
    if not direct:
        await _from_collector(config, rows, max_age, clock)
    if all(row.observation is not None for row in rows):
        return ""
    store = await _open_history(config, clock)
    try:
        if max_age is not None and store is not None:
            ids = [r.pipeline_id for r in rows if r.observation is None]
            fresh = await asyncio.to_thread(store.fresh_observations, max_age, ids)
            for row in rows:
                if row.pipeline_id in fresh:
                    row.observation, row.source = fresh[row.pipeline_id], Source.HISTORY
        todo = [row for row in rows if row.observation is None]
        if not todo:
            return ""
        async with api_for_command(config, "the first question", clock) as (client, budget):
            return await _ask_each(config, client, budget, todo, store, clock)
    finally:
        if store is not None:
            store.close()


async def _from_collector(
    config: Config, rows: list[Row], max_age: float | None, clock: Clock
) -> None:
    """The account's collector's observations, at their own times (no request at all);
    says on stderr where they came from and what is left to ask the API."""
    seen = await peek(config, [row.pipeline_id for row in rows])
    if isinstance(seen, NotSeen):
        if seen.why:  # one there, not asked or not believed: say why, then ask the API
            print(
                f"kondado-tui: note: not using this account's collector: {seen.why}; "
                "asking the API",
                file=sys.stderr,
            )
        return
    now = clock.now()
    used = 0
    for row in rows:
        event = seen.observed.get(row.pipeline_id)
        if event is None:
            continue
        if max_age is not None and now - event.observation.observed_at > max_age:
            continue
        row.observation, row.source = event.observation, Source.COLLECTOR
        row.collector_pid = seen.collector.pid
        used += 1
    who = seen.collector
    line = (
        f"kondado-tui: from the collector of this account (pid {who.pid}, login "
        f"{who.login}): {used} of {len(rows)} pipeline{'s' if len(rows) != 1 else ''}, "
        "as it observed them"
    )
    if used < len(rows):
        why = "not observed by it" + (f" within {format_age(max_age)}" if max_age else " yet")
        line += f"; asking the API about {len(rows) - used} {why}"
    health = seen.health
    if health is not None and health.connection not in (Connection.OK, Connection.STARTING):
        line += f"; it cannot get answers from the API now ({health.connection.value})"
    print(line, file=sys.stderr)


async def _open_history(config: Config, clock: Clock) -> HistoryStore | None:
    try:
        store = await asyncio.to_thread(partial(open_store, config, clock, quick_check=False))
    except Exception:  # history is a convenience here: never a reason to fail a check
        return None
    if store.note:
        print(f"kondado-tui: note: {store.note}", file=sys.stderr)
    return store


async def _ask_each(
    config: Config,
    client: KondadoClient,
    budget: Budget,
    todo: list[Row],
    store: HistoryStore | None,
    clock: Clock,
) -> str:
    progress = Progress()
    answered = False  # the credentials worked in this run: a later refusal is per pipeline
    try:
        for done, row in enumerate(todo):
            wait = max(0.0, budget.slot_estimate(Priority.BACKGROUND) - clock.now())
            eta = _eta(len(todo) - done, config.api.requests_per_minute)
            progress.update(
                f"asking {done + 1}/{len(todo)}: pipeline {row.pipeline_id}"
                + (f" (next slot in {wait:.0f}s)" if wait >= 1 else "")
                + (f", about {eta} left" if eta else "")
            )
            try:
                status = await _ask(client, row.pipeline_id, clock)
            except (RateLimited, Unreachable) as exc:
                row.error = exc.message
                return f"stopped asking: {exc.message}"
            except Rejected as exc:
                row.error = exc.message
                if exc.auth and not answered:
                    return f"stopped asking: {exc.message}{credentials_hint(exc, config)}"
                continue
            except ApiError as exc:
                row.error = exc.message
                continue
            answered = True
            row.observation = Observation(status, clock.now())
            if store is not None:
                await asyncio.to_thread(store.record, row.observation)
        return ""
    finally:
        progress.done()


async def _ask(client: KondadoClient, pipeline_id: int, clock: Clock) -> PipelineStatus:
    """One status call; a single transport hiccup is retried once before giving up."""
    try:
        return await client.get_status(pipeline_id, Priority.BACKGROUND)
    except Unreachable:
        await clock.sleep(2.0)
        return await client.get_status(pipeline_id, Priority.BACKGROUND)


def _eta(remaining: int, per_minute: int) -> str:
    seconds = remaining * 60.0 / max(1, per_minute)
    return format_age(seconds) if seconds >= 60 else ""


def _as_json(row: Row, now: float) -> dict[str, object]:
    obs = row.observation
    entry: dict[str, object] = {"id": row.pipeline_id, "name": row.name or None}
    if obs is None:
        entry.update(
            status=None,
            is_running=None,
            is_active=None,
            is_blocked=None,
            raw_msg=None,
            raw_msg_cut=None,
            error=row.error or "not asked",
            source=row.source.value,
            collector_pid=None,
        )
        return entry
    entry.update(obs.status.as_dict())
    # characters of the API's raw_msg left out (its text then ends with a marker)
    entry["raw_msg_cut"] = obs.status.raw_msg_cut
    entry["id"] = row.pipeline_id
    entry["observed_at"] = iso_utc(obs.observed_at)
    entry["age_seconds"] = round(max(0.0, now - obs.observed_at), 1)
    entry["severity"] = obs.status.severity.label
    entry["trouble"] = obs.status.is_trouble  # what makes the exit status 1
    entry["source"] = row.source.value  # api, history (--max-age) or collector
    entry["collector_pid"] = row.collector_pid
    return entry


def _as_table(rows: list[Row], now: float) -> str:
    table = []
    for row in rows:
        obs = row.observation
        if obs is None:
            table.append([str(row.pipeline_id), row.name, "✖ not asked", "", row.error])
            continue
        kind = obs.status.kind
        age = format_age(now - obs.observed_at) + (" (cached)" if row.cached else "")
        unknown = obs.status.severity is Severity.UNKNOWN
        table.append(
            [
                str(row.pipeline_id),
                row.name,
                f"{kind.glyph} {kind.label}" + (" (not in Kondado's docs)" if unknown else ""),
                age,
                first_line(obs.status.raw_msg),
            ]
        )
    return format_table(["ID", "NAME", "STATUS", "AGE", "MESSAGE"], table)
