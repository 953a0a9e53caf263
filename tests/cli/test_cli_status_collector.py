"""`kondado-tui status` beside the account's collector: it attaches as a viewer, prints
the collector's observations (their ages the collector's) and sends the API nothing;
it asks the API only about what the collector has not observed, or about everything
with `--direct`; a squatter on the account's name is not believed (it asks the API and
says why). Without a collector, nothing changed. The simulator over real HTTP; the
collector a dashboard's session in this test's event loop, `status` in a thread."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest
from collector_helpers import Dashboard, address_of, until, write_config
from squatters import Babbler

from kondado_tui.cli.main import main
from kondado_tui.cli.output import iso_utc
from kondado_tui.core.config import Config
from kondado_tui.core.events import Role
from kondado_tui.core.sim import SimServer, SimWorld


@pytest.fixture
def server(sim_factory) -> SimServer:  # type: ignore[no-untyped-def]
    return sim_factory(world=SimWorld(pipelines=6, seed=5, speed=1.0), rate_limit=False)


async def status(config: Config, *words: str) -> int:
    return await asyncio.to_thread(main, ["--config", str(config.path), "status", *words])


async def quiet_collector(tmp_path: Path, server: SimServer, ids: list[int]) -> Dashboard:
    """The account's collector, having observed `ids`, then paused: it asks nothing more,
    so every request the simulator sees from now on is someone else's."""
    board = await Dashboard(write_config(tmp_path / "collector", server, ids)).start()
    assert board.session.role is Role.SERVING
    await until(lambda: set(board.session.known) == set(ids), 30)
    board.session.poller.pause()
    await asyncio.sleep(0.3)  # a request already on its way
    return board


@pytest.mark.slow
async def test_status_reads_the_collector_and_spends_no_request(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids[:4]
    collector = await quiet_collector(tmp_path, server, ids)
    try:
        before = len(server.log)
        config = write_config(tmp_path / "status", server, ids[1:])
        code = await status(config, "--json")
        assert len(server.log) == before  # not one request
        captured = capsys.readouterr()
        rows = json.loads(captured.out)
        assert [row["id"] for row in rows] == ids[1:]
        for row in rows:
            seen = collector.session.known[row["id"]].observation
            assert row["status"] == seen.status.status  # the same statuses
            assert row["observed_at"] == iso_utc(seen.observed_at)  # at the collector's time
            assert row["source"] == "collector"
        assert code == (1 if any(row["trouble"] for row in rows) else 0)
        # where it came from, on stderr
        assert "from the collector of this account (pid" in captured.err
        assert "3 of 3 pipelines, as it observed them" in captured.err

        # the table too, and its ages are the collector's observations' ages
        await asyncio.sleep(2.2)
        await status(config)
        printed = time.time()
        table = capsys.readouterr().out
        assert len(server.log) == before
        for line in table.splitlines()[1:]:
            pid, age = int(line.split()[0]), re.search(r" (\d+)s\b", line)
            assert age is not None, table
            seen = collector.session.known[pid].observation.observed_at
            assert int(age.group(1)) >= 2  # older than the pause: not "0s", not asked now
            assert abs(int(age.group(1)) - (printed - seen)) <= 1.5, table
    finally:
        await collector.close()


@pytest.mark.slow
async def test_status_asks_the_api_only_about_what_the_collector_has_not_observed(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids
    collector = await quiet_collector(tmp_path, server, ids[:2])
    try:
        before = len(server.log)
        config = write_config(tmp_path / "status", server, [ids[0], ids[5]])
        await status(config, "--json")
        asked = [r.path for r in server.log[before:]]
        assert asked == [f"/pipelines/{ids[5]}/status"], asked
        rows = json.loads(capsys.readouterr().out)
        assert [row["source"] for row in rows] == ["collector", "api"]

        # --direct asks about every one, as before collectors existed
        before = len(server.log)
        await status(config, "--json", "--direct")
        assert len(server.log) == before + 2
        captured = capsys.readouterr()
        assert [row["source"] for row in json.loads(captured.out)] == ["api", "api"]
        assert "collector" not in captured.err
    finally:
        await collector.close()


async def test_status_without_a_collector_asks_the_api_as_before(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids[:2]
    config = write_config(tmp_path / "status", server, ids)
    await status(config, "--json")
    assert len(server.log) == 2
    captured = capsys.readouterr()
    assert [row["source"] for row in json.loads(captured.out)] == ["api", "api"]
    assert "collector" not in captured.err


async def test_a_squatter_is_not_believed_status_asks_the_api_and_says_why(
    tmp_path: Path, server: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = server.world.pipeline_ids[:2]
    config = write_config(tmp_path / "status", server, ids)
    squatter = Babbler(address_of(config))
    try:
        await status(config, "--json")
    finally:
        squatter.close()
    assert len(server.log) == 2  # asked the API itself
    captured = capsys.readouterr()
    assert [row["source"] for row in json.loads(captured.out)] == ["api", "api"]
    assert "kondado-tui: note: not using this account's collector: " in captured.err
    assert "asking the API" in captured.err
