"""`kondado-tui status` and `run` against the simulator over real HTTP.

Exit codes are a contract with cron and monitoring scripts: 0 healthy, 1 error/blocked,
2 usage/config, 3 the API could not be asked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kondado_tui.cli.main import main
from kondado_tui.core.sim import FaultMode, Plan, SimServer, SimWorld

SimFactory = Callable[..., SimServer]

SEEDED = "SEEDED-cli-T0KEN-42f1"


def _config(tmp_path: Path, sim: SimServer, ids: list[int], extra: str = "") -> Path:
    lines = [
        "[api]",
        f'base_url = "{sim.base_url}"',
        f'key = "{sim.key}"',
        f'token = "{sim.token}"',
        f'ledger = "{tmp_path / "ledger.sqlite3"}"',
        extra,
        "[history]",
        f'path = "{tmp_path / "history.sqlite3"}"',
        "",
    ]
    for pid in ids:
        lines += ["[[pipelines]]", f"id = {pid}", f'name = "P{pid}"', ""]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))


def _demo(sim_factory: SimFactory, **options: Any) -> SimServer:
    return sim_factory(world=SimWorld(demo=True), token=SEEDED, rate_limit=False, **options)


def test_status_healthy_exits_0(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040, 2041])
    assert main(["--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert "P2040" in out and "active" in out and "running" in out


def test_status_json_and_unhealthy_exit_1(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040, 2071, 2082])
    assert main(["--config", str(config), "status", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [2040, 2071, 2082]
    assert rows[1]["status"] == "too_many_consecutive_failed_builds__blocked"
    assert rows[2]["status"] == "paused_by_support"  # an undocumented value is kept
    for row in rows:
        assert {
            "id",
            "name",
            "status",
            "is_running",
            "is_active",
            "is_blocked",
            "raw_msg",
        } <= row.keys()


ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_status_and_history_json_share_one_timestamp_format(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040, 2041])
    before = time.time()
    main(["--config", str(config), "status", "--json"])
    rows = json.loads(capsys.readouterr().out)
    for row in rows:
        assert ISO_UTC.fullmatch(row["observed_at"]), row["observed_at"]
        seen = datetime.strptime(row["observed_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert before - 1 <= seen.timestamp() <= time.time() + 1
        assert isinstance(row["age_seconds"], float)  # for arithmetic, beside the time
    assert main(["--config", str(config), "history", "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    # the first sighting of each pipeline is the observation `status` just printed
    assert {c["id"]: c["time"] for c in changes} == {r["id"]: r["observed_at"] for r in rows}


def test_status_unknown_pipeline_exits_3_with_api_text(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040])
    assert main(["--config", str(config), "status", "2040", "999999"]) == 3
    captured = capsys.readouterr()
    assert "999999" in captured.out and "not found" in captured.out.lower()
    assert SEEDED not in captured.out + captured.err


@pytest.mark.parametrize(
    "fault",
    [FaultMode.HTTP_500_HTML, FaultMode.HTML_200, FaultMode.MALFORMED_JSON, FaultMode.RESET],
)
def test_status_faults_exit_3_with_a_clear_message(
    tmp_path: Path,
    sim_factory: SimFactory,
    capsys: pytest.CaptureFixture[str],
    fault: FaultMode,
) -> None:
    sim = _demo(sim_factory)
    sim.set_fault(fault)
    config = _config(tmp_path, sim, [2040])
    assert main(["--config", str(config), "status"]) == 3
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert SEEDED not in text
    assert any(w in text for w in ("HTML", "JSON", "reset", "server failed", "connect"))


def test_status_rejected_token_exits_3(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040, 2041])
    text = config.read_text().replace(SEEDED, "WRONG-" + SEEDED)
    config.write_text(text)
    assert main(["--config", str(config), "status"]) == 3
    captured = capsys.readouterr()
    assert "stopped asking" in captured.err and "key and token" in captured.err
    assert SEEDED not in captured.out + captured.err
    assert len(sim.log) == 1  # it does not go on asking with a rejected token


def test_status_max_age_reuses_fresh_observations(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040, 2041])
    assert main(["--config", str(config), "status"]) == 0
    asked = len(sim.log)
    capsys.readouterr()
    assert main(["--config", str(config), "status", "--max-age", "5m"]) == 0
    assert len(sim.log) == asked  # answered from history, nothing sent
    assert "cached" in capsys.readouterr().out


def test_status_bad_max_age_is_a_usage_error(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sim, [2040])
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), "status", "--max-age", "5"])
    assert info.value.code == 2
    assert "add a unit" in capsys.readouterr().err


def test_run_with_yes_prints_the_answer(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040])
    assert main(["--config", str(config), "run", "2040", "--yes"]) == 0
    assert "P2040 (2040)" in capsys.readouterr().out
    assert [r.path for r in sim.log] == ["/pipelines/2040/run"]


def test_run_refused_by_plan_exits_3(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    world = sim.world
    essentials = [pid for pid in world.pipeline_ids if world.spec(pid).plan is Plan.ESSENTIALS]
    assert essentials, "the demo world has an Essentials pipeline"
    config = _config(tmp_path, sim, essentials[:1])
    assert main(["--config", str(config), "run", str(essentials[0]), "--yes"]) == 3
    assert "refused" in capsys.readouterr().err


def test_run_without_terminal_or_yes_sends_nothing(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sim, [2040])
    assert main(["--config", str(config), "run", "2040"]) == 2
    assert "--yes" in capsys.readouterr().err  # an error: stderr, like duplicate
    assert sim.log == []


def test_run_read_only_refuses(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sim, [2040])
    assert main(["--config", str(config), "--read-only", "run", "2040", "--yes"]) == 2
    assert "read-only" in capsys.readouterr().err
    assert sim.log == []


def test_run_bad_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "abc"])
    assert info.value.code == 2
    assert "not a pipeline id" in capsys.readouterr().err


def test_any_command_refused_for_credentials_names_the_fix(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = _demo(sim_factory)
    config = _config(tmp_path, sim, [2040])
    config.write_text(config.read_text().replace(SEEDED, "WRONG-" + SEEDED))
    assert main(["--config", str(config), "add", "2041"]) == 3
    err = capsys.readouterr().err
    assert "check key and token" in err and "KONDADO_TOKEN" in err
    assert SEEDED not in err


def test_missing_config_suggests_init_for_that_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "elsewhere.toml"
    assert main(["--config", str(missing), "status"]) == 2
    assert f"kondado-tui --config {missing} init" in capsys.readouterr().err
