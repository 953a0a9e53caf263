"""`kondado-tui history` beside the account's collector: the collector's history of the
pipelines (what it observed while this login's dashboards were its viewers, in *its*
file) merged with this login's file, each transition once, each saying where it came
from; no request to the API, and the pipelines asked about are not polled for it. A
squatter on the account's name is not believed (this login's file, and why); `--local`
reads this login's file alone. The simulator over real HTTP; the collector a
dashboard's session in this test's event loop (its own config and history file: another
login's), `history` in a thread."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest
from collector_helpers import Dashboard, address_of, until, write_config
from squatters import Babbler

from kondado_tui.cli.main import main
from kondado_tui.cli.output import iso_utc
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.collector.messages import MAX_HISTORY
from kondado_tui.core.config import Config
from kondado_tui.core.events import Role
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.history.timeline import Transition
from kondado_tui.core.models import Observation, PipelineStatus
from kondado_tui.core.sim import SimServer, SimWorld


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(world=SimWorld(pipelines=6, seed=5, speed=1.0), rate_limit=False)


async def history(config: Config, *words: str) -> int:
    return await asyncio.to_thread(main, ["--config", str(config.path), "history", *words])


async def collector_of(tmp_path: Path, server: SimServer, ids: list[int]) -> Dashboard:
    """The account's collector (another login's: a history file of its own), having
    observed `ids`."""
    board = await Dashboard(write_config(tmp_path / "collector", server, ids)).start()
    assert board.session.role is Role.SERVING
    await until(lambda: set(board.session.known) == set(ids), 30)
    return board


def recorded(config: Config) -> list[Transition]:
    assert config.history.path is not None
    with HistoryStore(config.history.path, clock=SYSTEM_CLOCK) as store:
        return store.transitions(None, None)


def keys(transitions: list[Transition]) -> list[tuple[int, str, str]]:
    return [(t.pipeline_id, iso_utc(t.at), t.to_status) for t in transitions]


def entry_keys(entries: list[dict[str, object]]) -> list[tuple[int, str, str]]:
    return [(e["id"], e["time"], e["to_status"]) for e in entries]  # type: ignore[misc]


@pytest.mark.slow
async def test_history_shows_what_only_the_collector_recorded_and_asks_nothing(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids
    collector = await collector_of(tmp_path, server, ids[:3])
    try:
        # this login: the collector's pipelines and one nobody watches; its file is empty
        config = write_config(tmp_path / "viewer", server, [*ids[1:3], ids[5]])
        before = len(server.log)
        assert await history(config, "--since", "all", "--json") == 0
        captured = capsys.readouterr()
        entries = json.loads(captured.out)
        theirs = [t for t in recorded(collector.config) if t.pipeline_id in ids[1:3]]
        assert theirs and entry_keys(entries) == keys(theirs)  # all of them, in order
        assert {e["source"] for e in entries} == {"collector"}
        assert {e["collector_pid"] for e in entries} == {os.getpid()}
        assert "merged with the history of this account's collector (pid" in captured.err
        assert f"{len(theirs)} of them not in this login's history" in captured.err

        # the pipeline nobody polls was watched paused while asked about: held, never
        # asked of the API (only the collector's own pipelines were)
        await asyncio.sleep(1.5)
        asked = {r.path for r in server.log[before:]}
        assert f"/pipelines/{ids[5]}/status" not in asked, asked
        assert asked <= {f"/pipelines/{pid}/status" for pid in ids[:3]}, asked
        assert ids[5] not in collector.session.known
        assert server.token not in captured.out + captured.err
    finally:
        await collector.close()


@pytest.mark.slow
async def test_history_merges_the_collector_with_this_logins_file_once_each(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids
    collector = await collector_of(tmp_path, server, ids[:2])
    try:
        config = write_config(tmp_path / "viewer", server, ids[:2])
        theirs = recorded(collector.config)
        first = theirs[0]
        assert config.history.path is not None
        with HistoryStore(config.history.path, clock=SYSTEM_CLOCK) as store:
            # one change only this login saw (an hour before), one both files hold
            store.record(Observation(PipelineStatus(first.pipeline_id, "paused"), first.at - 3600))
            store.record(Observation(PipelineStatus(first.pipeline_id, first.to_status), first.at))
        mine = recorded(config)

        assert await history(config, "--since", "all", "--json") == 0
        captured = capsys.readouterr()
        entries = json.loads(captured.out)
        theirs = recorded(collector.config)  # it may have seen more since
        expected = sorted(
            {*keys(mine), *keys(theirs)}, key=lambda k: (k[1], k[0])
        )  # each once, in time order
        assert entry_keys(entries) == expected
        by_key = {k: e for k, e in zip(entry_keys(entries), entries, strict=True)}
        assert by_key[keys(mine)[0]]["source"] == "local"
        assert by_key[keys(mine)[0]]["collector_pid"] is None
        assert by_key[keys(mine)[1]]["source"] == "both"
        assert by_key[keys(mine)[1]]["from_status"] == "paused"  # this login's copy
        assert {by_key[k]["source"] for k in keys(theirs)[1:]} == {"collector"}
        assert f"{len(theirs)} changes from it, {len(theirs) - 1} of them not" in captured.err

        # one pipeline; the table says where each came from when they differ
        assert await history(config, str(first.pipeline_id), "--since", "all") == 0
        table = capsys.readouterr().out.splitlines()
        assert table[0].split()[-2:] == ["SOURCE", "MESSAGE"], table
        column = table[0].index("SOURCE")  # (ASCII before it: cells are characters)
        sources = {line[column:].split()[0] for line in table[1:]}
        assert {"local", "both"} <= sources <= {"local", "both", "collector"}, table
        assert all(str(first.pipeline_id) in line for line in table[1:])

        # --local: this login's file alone, and not a word about the collector
        assert await history(config, "--since", "all", "--json", "--local") == 0
        captured = capsys.readouterr()
        entries = json.loads(captured.out)
        assert entry_keys(entries) == keys(mine)
        assert {e["source"] for e in entries} == {"local"}
        assert "account's collector" not in captured.err
        assert server.token not in captured.out + captured.err
    finally:
        await collector.close()


async def test_a_squatter_is_not_believed_history_reads_this_logins_file_and_says_why(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids[:2]
    config = write_config(tmp_path / "viewer", server, ids)
    assert config.history.path is not None
    with HistoryStore(config.history.path, clock=SYSTEM_CLOCK) as store:
        store.record(Observation(PipelineStatus(ids[0], "active"), SYSTEM_CLOCK.now() - 60))
    squatter = Babbler(address_of(config))
    try:
        assert await history(config, "--json") == 0
    finally:
        squatter.close()
    captured = capsys.readouterr()
    entries = json.loads(captured.out)
    assert [(e["id"], e["source"]) for e in entries] == [(ids[0], "local")]
    assert "kondado-tui: note: not using this account's collector: " in captured.err
    assert "showing this login's history only" in captured.err
    assert len(server.log) == 0  # and the API was asked nothing
    assert server.token not in captured.out + captured.err


async def test_without_a_collector_history_is_this_logins_file_as_before(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids[:2]
    config = write_config(tmp_path / "viewer", server, ids)
    assert await history(config, "--json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "account's collector" not in captured.err
    assert len(server.log) == 0


def _with_token_command(config: Config, command: str) -> Config:
    """The config's token (or token command) replaced by `command`."""
    text = re.sub(
        r'^token(_command)? = ".*"$',
        f'token_command = "{command}"',
        config.path.read_text(encoding="utf-8"),
        flags=re.M,
    )
    config.path.write_text(text, encoding="utf-8")
    return config


@pytest.mark.slow
async def test_history_finds_the_collector_with_a_token_command_and_its_cut(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids
    # the collector's file holds more changes of one pipeline than one answer carries
    config = write_config(tmp_path / "collector", server, ids[:1])
    assert config.history.path is not None
    now = SYSTEM_CLOCK.now()
    with HistoryStore(config.history.path, clock=SYSTEM_CLOCK) as store:
        for i in range(MAX_HISTORY + 20):
            status = "active" if i % 2 else "running"
            store.record(Observation(PipelineStatus(ids[0], status), now - 7200 + i))
    collector = await Dashboard(config).start()
    try:
        helper = tmp_path / "token.sh"
        helper.write_text(f"#!/bin/sh\necho {server.token}\n")
        helper.chmod(0o700)
        mine = _with_token_command(write_config(tmp_path / "viewer", server, ids[:1]), str(helper))
        assert await history(mine, "--since", "all", "--json") == 0
        captured = capsys.readouterr()
        entries = json.loads(captured.out)
        assert len(entries) >= MAX_HISTORY
        assert {e["source"] for e in entries} == {"collector"}
        assert f"the collector sent the newest {MAX_HISTORY} changes of pipeline {ids[0]}" in (
            captured.err
        )
        # the newest ones, up to now
        assert entries[-1]["time"] == iso_utc(recorded(collector.config)[-1].at)
        assert server.token not in captured.out + captured.err

        # a token command that fails: this login's file, and why
        _with_token_command(mine, "false")
        assert await history(mine, "--json") == 0
        captured = capsys.readouterr()
        assert json.loads(captured.out) == []
        assert "note: not using this account's collector: " in captured.err
        assert "merged" not in captured.err
    finally:
        await collector.close()
