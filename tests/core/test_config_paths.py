"""paths: which config, state and ledger files are used, from the environment given."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from kondado_tui.core import paths
from kondado_tui.core.config import PipelineRefError, parse_pipeline_ref


def test_explicit_path_wins(tmp_path: Path) -> None:
    env = {"KONDADO_TUI_CONFIG": "/elsewhere.toml", "XDG_CONFIG_HOME": str(tmp_path)}
    assert paths.config_path(tmp_path / "x.toml", env) == tmp_path / "x.toml"
    assert paths.config_path("~/k.toml", {"HOME": "/home/ana"}) == Path("/home/ana/k.toml")


def test_environment_variable_then_xdg(tmp_path: Path) -> None:
    env = {"KONDADO_TUI_CONFIG": "~/kt.toml", "HOME": "/home/ana", "XDG_CONFIG_HOME": str(tmp_path)}
    assert paths.config_path(None, env) == Path("/home/ana/kt.toml")
    del env["KONDADO_TUI_CONFIG"]
    assert paths.config_path(None, env) == tmp_path / "kondado-tui" / "config.toml"


@pytest.mark.parametrize("xdg", ["", "relative/dir"])
def test_unset_or_relative_xdg_falls_back_to_the_platform(xdg: str) -> None:
    env = {"XDG_CONFIG_HOME": xdg, "XDG_STATE_HOME": xdg}
    assert paths.default_config_path(env) == (
        platformdirs.user_config_path("kondado-tui", appauthor=False) / "config.toml"
    )
    assert paths.default_state_dir(env) == platformdirs.user_state_path(
        "kondado-tui", appauthor=False
    )


def test_state_files_live_in_the_state_dir(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path)}
    state = tmp_path / "kondado-tui"
    assert paths.default_state_dir(env) == state
    assert paths.default_history_path(env) == state / "history.sqlite3"
    assert paths.default_ledger_path(env) == state / "ledger.sqlite3"
    assert paths.default_duplicates_path(env) == state / "duplicates.json"
    assert not state.exists()  # asking is not creating


@pytest.mark.parametrize(
    ("text", "pid"),
    [
        ("2040", 2040),
        (" 2040\n", 2040),
        ("#2040", 2040),
        ("https://app.kondado.com.br/pipelines/2040", 2040),
        ("https://app.kondado.com.br/pipelines/2040/", 2040),
        ("https://app.kondado.com.br/pipelines/2040?tab=logs", 2040),
        ("https://app.kondado.com.br/pipelines/2040#runs", 2040),
        ("https://app.kondado.com.br/pipelines/2040/edit", 2040),
        ("HTTPS://APP.KONDADO.COM.BR/pipelines/31", 31),
        ("HTTPS://APP.KONDADO.COM.BR/PIPELINES/2040", 2040),
        ("Https://App.Kondado.com.br/Pipelines/8/Edit?Tab=Logs", 8),
        ("app.kondado.com.br/pipelines/77", 77),
    ],
)
def test_pipeline_refs(text: str, pid: int) -> None:
    assert parse_pipeline_ref(text) == pid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "'0': a pipeline id is a positive integer"),
        ("-5", "'-5' is not a pipeline id"),
        ("abc", "'abc' is not a pipeline id or a Kondado pipeline URL"),
        ("", "'' is not a pipeline id"),
        ("٣", "is not a pipeline id"),  # a digit, but not an ASCII one
        ("https://evil.example/pipelines/3", "is not a pipeline id"),
        ("https://app.kondado.com.br.evil.example/pipelines/3", "is not a pipeline id"),
        ("https://app.kondado.com.br/models/3", "is not a pipeline id"),
        ("https://app.kondado.com.br/pipelines/0", "is not a pipeline id"),
        ("ftp://app.kondado.com.br/pipelines/3", "is not a pipeline id"),
        ("2040\x1b]0;owned\x07", "is not a pipeline id"),
    ],
)
def test_bad_pipeline_refs(text: str, expected: str) -> None:
    with pytest.raises(PipelineRefError) as caught:
        parse_pipeline_ref(text)
    message = str(caught.value)
    assert expected in message
    assert "https://app.kondado.com.br/pipelines/2040" in message  # the example
    assert "\x1b" not in message


def test_a_pasted_api_url_never_echoes_its_token() -> None:
    with pytest.raises(PipelineRefError) as caught:
        parse_pipeline_ref("https://k2.kondado.com.br/pipelines/x/status?key=k&token=s3cr3t-t0k")
    assert "s3cr3t-t0k" not in str(caught.value)
