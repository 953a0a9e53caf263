"""`kondado-tui duplicate` against the simulator over real HTTP.

The simulator keeps every duplicate body it received, so the tests check the exact JSON.
"""

from __future__ import annotations

import io
import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kondado_tui.cli.main import main
from kondado_tui.core.duplicate import MappingMemory
from kondado_tui.core.sim import SimServer, SimWorld

SimFactory = Callable[..., SimServer]
SEEDED = "SEEDED-dup-T0KEN-9a7c"

# Base 2040 in the demo world: Shopify (5051) -> BigQuery (7001), four table paths.
FLAGS = [
    "--from",
    "2040",
    "--src",
    "5052",
    "--dest",
    "7002",
    "--table",
    "=outlet_orders",
    "--table",
    "line_items=outlet_line_items",
    "--table",
    "customers=outlet_customers",
    "--table",
    "fulfillments=outlet_fulfillments",
]
EXPECTED = {
    "pipeline_id": 2040,
    "dest_collection_id": 7002,
    "src_collection_id": 5052,
    "full_tables": {
        "": "outlet_orders",
        "line_items": "outlet_line_items",
        "customers": "outlet_customers",
        "fulfillments": "outlet_fulfillments",
    },
    "execute_immediately": "N",
}


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))


@pytest.fixture
def demo(sim_factory: SimFactory) -> SimServer:
    return sim_factory(world=SimWorld(demo=True), token=SEEDED, rate_limit=False)


def write_config(tmp_path: Path, sim: SimServer, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "\n".join(
            [
                "# my pipelines (this comment must survive)",
                "[api]",
                f'base_url = "{sim.base_url}"',
                f'key = "{sim.key}"',
                f'token = "{sim.token}"',
                f'ledger = "{tmp_path / "ledger.sqlite3"}"',
                extra,
                "[history]",
                f'path = "{tmp_path / "history.sqlite3"}"',
                "",
                "[[pipelines]]",
                "id = 2040",
                'name = "Shopify orders"',
                'group = "shop"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def run(config: Path | None, *argv: str) -> int:
    prefix = ["--config", str(config)] if config else []
    return main([*prefix, "duplicate", *argv])


def received(sim: SimServer) -> list[Any]:
    return list(sim.world.duplicate_bodies)


def test_dry_run_prints_the_exact_body_and_sends_nothing(
    demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(None, *FLAGS, "--dry-run") == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == EXPECTED
    assert "SILENTLY RECREATED" in err and "outlet_fulfillments" in err
    assert "nothing was sent" in err
    assert received(demo) == []


def test_duplicate_sends_the_exact_body_prints_the_id_and_saves(
    tmp_path: Path, demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, demo)
    code = run(
        config,
        *FLAGS,
        "--name",
        "Outlet orders",
        "--client",
        "31552",
        "--param",
        "start_date=2024-01-01",
        "--execute",
        "--yes",
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    expected = {
        "pipeline_id": 2040,
        "dest_collection_id": 7002,
        "src_collection_id": 5052,
        "client_id": 31552,
        "full_tables": EXPECTED["full_tables"],
        "execute_immediately": "Y",
        "name": "Outlet orders",
        "overwrite_parameters": {"start_date": "2024-01-01"},
    }
    assert received(demo) == [expected]
    assert list(received(demo)[0]) == list(expected)  # the order the API documents
    new_id = int(out.strip())
    assert new_id in demo.world.pipeline_ids
    assert "SILENTLY RECREATED" in err and f"Created pipeline {new_id}" in err
    text = config.read_text()
    assert "# my pipelines (this comment must survive)" in text
    entries = tomllib.loads(text)["pipelines"]
    assert entries[-1] == {"id": new_id, "name": "Outlet orders", "group": "shop"}
    remembered = MappingMemory().recall(2040)
    assert remembered is not None
    assert {r.path: r.name for r in remembered.full_tables} == EXPECTED["full_tables"]
    assert SEEDED not in out + err


def test_no_save_leaves_the_config_alone(
    tmp_path: Path, demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, demo)
    before = config.read_text()
    assert run(config, *FLAGS, "--yes", "--no-save") == 0
    assert config.read_text() == before
    assert len(received(demo)) == 1


TOML_BODY = """\
pipeline_id = 2040
src_collection_id = 5052
dest_collection_id = 7002
execute_immediately = "N"

[full_tables]
"" = "outlet_orders"
line_items = "outlet_line_items"
customers = "outlet_customers"
fulfillments = "outlet_fulfillments"

[overwrite_parameters]
shop = "loja-outlet"
"""


def test_a_body_file_with_flags_overriding_it(
    tmp_path: Path, demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    body = tmp_path / "outlet.toml"
    body.write_text(TOML_BODY, encoding="utf-8")
    config = write_config(tmp_path, demo)
    code = run(
        config,
        "--body",
        str(body),
        "--dest",
        "7001",
        "--table",
        "customers=outlet_clients",
        "--yes",
    )
    assert code == 0, capsys.readouterr().err
    expected = {
        **EXPECTED,
        "dest_collection_id": 7001,
        "overwrite_parameters": {"shop": "loja-outlet"},
    }
    expected["full_tables"] = {**EXPECTED["full_tables"], "customers": "outlet_clients"}
    assert received(demo) == [expected]


def test_a_json_body_file_dry_run_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = tmp_path / "b.json"
    body.write_text(json.dumps(EXPECTED), encoding="utf-8")
    assert run(None, "--body", str(body), "--dry-run") == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED


def test_invalid_input_lists_every_problem_and_sends_nothing(
    tmp_path: Path, demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, demo)
    code = run(
        config,
        "--from",
        "abc",
        "--dest",
        "0",
        "--table",
        "items=my table",
        "--table",
        "nonsense",
        "--table",
        "nonsense2",
        "--param",
        "ids=[1,",
        "--param",
        "novalue",
        "--yes",
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "nothing was sent: 9 problems" in err
    for expected in (
        'base pipeline (pipeline_id) [--from]: "abc" is not a whole number',
        "source collection (src_collection_id) [--src]: required",
        "destination collection (dest_collection_id) [--dest]: must be a positive",
        "full tables (full_tables) [--table]: the main table is missing",
        'full table "items": name [--table]: not allowed: space',
        "--table 'nonsense': write PATH=NAME",
        "--table 'nonsense2': write PATH=NAME",
        "--param 'novalue': write NAME=VALUE",
        'parameter "ids": value [--param]: looks like JSON but is not valid',
    ):
        assert expected in err
    assert received(demo) == []
    assert demo.log == []


def test_a_body_on_standard_input(
    tmp_path: Path,
    demo: SimServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(EXPECTED)))
    assert run(write_config(tmp_path, demo), "--body", "-", "--yes") == 0
    assert received(demo) == [EXPECTED]
    monkeypatch.setattr("sys.stdin", io.StringIO('{"pipeline_id": }'))
    assert run(None, "--body", "-", "--dry-run") == 2
    assert "<stdin>: not valid JSON (line 1, column 17" in capsys.readouterr().err


def test_a_bad_body_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = tmp_path / "b.toml"
    body.write_text("pipeline_id = \n", encoding="utf-8")
    assert run(None, "--body", str(body), "--dry-run") == 2
    err = capsys.readouterr().err
    assert str(body) in err and "not valid TOML" in err


def test_without_a_terminal_and_without_yes_it_refuses(
    tmp_path: Path, demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, demo)
    assert run(config, *FLAGS) == 2
    assert "no terminal to confirm on" in capsys.readouterr().err
    assert received(demo) == []


@pytest.mark.parametrize("answer, sent", [("n", 0), ("", 0), ("yes", 1)])
def test_on_a_terminal_it_asks_first(
    tmp_path: Path,
    demo: SimServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    sent: int,
) -> None:
    config = write_config(tmp_path, demo)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked: list[str] = []

    def fake_input(prompt: str) -> str:
        asked.append(prompt)
        return answer

    monkeypatch.setattr("builtins.input", fake_input)
    assert run(config, *FLAGS) == 0
    assert asked == ["Create this pipeline? [y/N] "]
    assert len(received(demo)) == sent


def test_read_only_refuses(
    tmp_path: Path, demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, demo, extra="[ui]\nread_only = true")
    assert run(config, *FLAGS, "--yes") == 2
    assert "read-only" in capsys.readouterr().err
    assert (
        main(
            [
                "--config",
                str(write_config(tmp_path, demo)),
                "--read-only",
                "duplicate",
                *FLAGS,
                "--yes",
            ]
        )
        == 2
    )
    assert received(demo) == []


def test_an_api_refusal_exits_3_with_the_api_text(
    tmp_path: Path, demo: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, demo)
    before = config.read_text()
    flags = FLAGS[: FLAGS.index("fulfillments=outlet_fulfillments") - 1]  # a path missing
    assert run(config, *flags, "--yes") == 3
    out, err = capsys.readouterr()
    assert "missing table path(s) 'fulfillments'" in err
    assert "Nothing was created" in err
    assert out == ""
    assert config.read_text() == before and MappingMemory().recall(2040) is None
    assert SEEDED not in err


def test_rate_limited_exits_3_and_says_when_to_retry(
    tmp_path: Path, sim_factory: SimFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = sim_factory(world=SimWorld(demo=True), token=SEEDED, rps=None, rpm=1)
    httpx.get(
        f"{sim.base_url}/pipelines/2040/status", params={"key": sim.key, "token": sim.token}
    )  # spends the minute's budget
    config = write_config(tmp_path, sim)
    assert run(config, *FLAGS, "--yes") == 3
    err = capsys.readouterr().err
    assert "RATE_LIMIT_EXCEEDED" in err and "Nothing was created; try again in 60 s" in err
    assert sim.world.duplicate_bodies == []
