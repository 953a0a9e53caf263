"""`status`'s exit code and `trouble` field follow the one severity model: the same table
of cases the dashboard's alerts are held to (tests/status_cases.py), asked over real HTTP
of the independent API implementation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from altapi import AltApi
from status_cases import CASES, Case

from kondado_tui.cli.main import main

FIRST_ID = 500


@pytest.fixture(scope="module")
def alt() -> Iterator[AltApi]:
    api = AltApi(rate_limit=False, chunked=False)
    for offset, case in enumerate(CASES):
        api.pipelines[FIRST_ID + offset] = case.entry
    api.start()
    yield api
    api.stop()


def _config(tmp_path: Path, alt: AltApi) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[api]\n"
        f'base_url = "{alt.base_url}"\nkey = "{alt.key}"\ntoken = "{alt.token}"\n'
        f'ledger = "{tmp_path / "ledger.sqlite3"}"\n'
        f'[history]\npath = "{tmp_path / "history.sqlite3"}"\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("index", range(len(CASES)), ids=[str(c) for c in CASES])
def test_status_exit_code_follows_the_severity_model(
    index: int,
    alt: AltApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    case: Case = CASES[index]
    config = _config(tmp_path, alt)
    code = main(["--config", str(config), "status", "--json", str(FIRST_ID + index)])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == case.status
    assert row["severity"] == case.severity.label
    assert row["trouble"] is case.trouble
    assert code == (1 if case.trouble else 0)


def test_an_undocumented_status_says_so_in_the_table(
    alt: AltApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    index = next(i for i, c in enumerate(CASES) if c.status == "paused_by_support")
    assert main(["--config", str(_config(tmp_path, alt)), "status", str(FIRST_ID + index)]) == 1
    out = capsys.readouterr().out
    assert "? paused by support (not in Kondado's docs)" in out
