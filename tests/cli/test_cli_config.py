"""`kondado-tui init`, `add`, `remove`, driven through `cli.main`; `add` asks the simulator."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kondado_tui.cli.main import main
from kondado_tui.core.config import STARTER_CONFIG, PipelineEntry, load_config
from kondado_tui.core.sim import SimServer


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config and state (rate ledger, history) in a temporary home, no real credentials."""
    for name in ("KONDADO_KEY", "KONDADO_TOKEN", "KONDADO_BASE_URL", "KONDADO_TUI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    return tmp_path


@pytest.fixture
def default_path(tmp_path: Path) -> Path:
    return tmp_path / "xdg-config" / "kondado-tui" / "config.toml"


def sim_config(tmp_path: Path, sim: SimServer, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'# my setup\n[api]\nbase_url = "{sim.base_url}"\nkey = "{sim.key}"\n'
        f'token = "{sim.token}"\n{extra}'
    )
    path.chmod(0o600)
    return path


def statuses(sim: SimServer) -> list[str]:
    return [r.path for r in sim.log]


# -- init -------------------------------------------------------------------------------


def test_init_writes_the_starter_at_the_default_path(
    default_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert f"Created {default_path} (readable only by you)." in out
    assert "KONDADO_KEY" in out and "kondado-tui add https://app.kondado.com.br/pipelines/" in out
    assert default_path.read_text() == STARTER_CONFIG
    if os.name == "posix":
        assert stat.S_IMODE(default_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(default_path.parent.stat().st_mode) == 0o700


def test_init_honours_config_option_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["--config", str(tmp_path / "a" / "one.toml"), "init"]) == 0
    assert (tmp_path / "a" / "one.toml").read_text() == STARTER_CONFIG
    monkeypatch.setenv("KONDADO_TUI_CONFIG", str(tmp_path / "two.toml"))
    assert main(["init"]) == 0
    assert (tmp_path / "two.toml").exists()


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n")
    assert main(["--config", str(path), "init"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: a config file already exists" in err and "nothing was changed" in err
    assert path.read_text() == "# mine\n"


def test_init_on_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path), "init"]) == 2
    assert f"--config {tmp_path / 'config.toml'}" in capsys.readouterr().err


def test_a_fresh_init_then_add_then_remove(
    default_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    assert main(["add", "2040", "--no-check", "--name", "Orders"]) == 0
    assert load_config(default_path, require_credentials=False).pipelines == (
        PipelineEntry(2040, "Orders"),
    )
    assert main(["remove", "2040"]) == 0
    assert default_path.read_text() == STARTER_CONFIG


# -- add --------------------------------------------------------------------------------


def test_add_by_id_checks_with_one_status_request(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sim_config(tmp_path, sim)
    before = path.read_text()
    pid = sim.world.pipeline_ids[0]
    assert main(["--config", str(path), "add", str(pid)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Added pipeline {pid} to {path} (status now: ")
    assert statuses(sim) == [f"/pipelines/{pid}/status"]
    assert path.read_text() == before + f"\n[[pipelines]]\nid = {pid}\n"
    # The check went through the host-wide rate budget (its ledger is in the state dir).
    assert (tmp_path / "xdg-state" / "kondado-tui" / "ledger.sqlite3").exists()


def test_add_by_url_with_name_and_group(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sim_config(tmp_path, sim, "\n[[pipelines]]\nid = 1\n")
    pid = sim.world.pipeline_ids[1]
    url = f"https://app.kondado.com.br/pipelines/{pid}/?tab=runs#top"
    assert main(["--config", str(path), "add", url, "--name", "Orders", "--group", "shop"]) == 0
    assert f"Added pipeline {pid}, name 'Orders', group 'shop'" in capsys.readouterr().out
    assert load_config(path).pipelines == (PipelineEntry(1), PipelineEntry(pid, "Orders", "shop"))


def test_add_an_unknown_pipeline_saves_nothing(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sim_config(tmp_path, sim)
    before = path.read_text()
    unknown = max(sim.world.pipeline_ids) + 12345
    assert main(["--config", str(path), "add", str(unknown)]) == 3
    err = capsys.readouterr().err
    assert f"pipeline {unknown} was not added" in err and "Pipeline not found" in err
    assert path.read_text() == before


def test_add_with_a_wrong_token_saves_nothing_and_shows_no_secret(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sim_config(tmp_path, sim)
    text = path.read_text().replace(sim.token, "wrong-token-zz9")
    path.write_text(text)
    assert main(["--config", str(path), "add", str(sim.world.pipeline_ids[0])]) == 3
    captured = capsys.readouterr()
    assert "INVALID_TOKEN" in captured.err
    assert "wrong-token-zz9" not in captured.err + captured.out
    assert path.read_text() == text


def test_add_when_the_api_is_unreachable(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sim_config(tmp_path, sim)
    sim.stop()
    assert main(["--config", str(path), "add", "2040"]) == 3
    err = capsys.readouterr().err
    assert "pipeline 2040 was not added" in err and "cannot connect" in err
    assert sim.token not in err
    assert "[[pipelines]]" not in path.read_text()


def test_add_without_check_needs_no_credentials_and_sends_nothing(
    tmp_path: Path, sim: SimServer
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[api]\nbase_url = "{sim.base_url}"\n')
    assert main(["--config", str(path), "add", "55", "--no-check"]) == 0
    assert sim.log == []
    assert load_config(path, require_credentials=False).pipelines == (PipelineEntry(55),)


def test_add_without_credentials_says_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[ui]\nbell = true\n")
    assert main(["--config", str(path), "add", "55"]) == 2
    assert "KONDADO_TOKEN" in capsys.readouterr().err
    assert "[[pipelines]]" not in path.read_text()


def test_add_an_already_listed_pipeline_sends_nothing(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = sim.world.pipeline_ids[0]
    path = sim_config(tmp_path, sim, f'\n[[pipelines]]\nid = {pid}\nname = "Mine"\n')
    assert main(["--config", str(path), "add", str(pid)]) == 2
    assert f"pipeline {pid} is already in {path} (as 'Mine')" in capsys.readouterr().err
    assert sim.log == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["add", "orders"], "'orders' is not a pipeline id or a Kondado pipeline URL"),
        (["add", "https://example.com/pipelines/3"], "is not a pipeline id"),
        (["add", "5", "--no-check", "--name", "a\x1b[31mb"], "control characters"),
        (["remove", "zero"], "'zero' is not a pipeline id"),
    ],
)
def test_bad_input_is_a_usage_error(
    tmp_path: Path,
    sim: SimServer,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    expected: str,
) -> None:
    path = sim_config(tmp_path, sim)
    before = path.read_text()
    try:
        code = main(["--config", str(path), *argv])
    except SystemExit as exited:  # a bad ID|URL is refused by argparse
        code = exited.code  # type: ignore[assignment]
    assert code == 2
    assert expected in capsys.readouterr().err
    assert path.read_text() == before
    assert sim.log == []


@pytest.mark.parametrize("option", ["--name", "--group"])
def test_a_bad_label_names_the_option_not_a_config_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[api]\nkey = "k"\n')
    assert main(["--config", str(path), "add", "5", "--no-check", option, "a\x1b]0;x\x07"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"kondado-tui: {option}: contains control characters, escape sequences or invisible "
        "format characters; "
        "use plain text on one line\n"
    )
    assert path.read_text() == '[api]\nkey = "k"\n'


def test_add_and_remove_on_the_inline_form_of_the_issue(
    tmp_path: Path, sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pipelines = [ { id = 2040 }, ]` (what the demo writes) was refused with a TOML
    library's message; it is edited in place like any other form."""
    first, second = sim.world.pipeline_ids[:2]
    path = tmp_path / "config.toml"
    head = f"pipelines = [ {{ id = {first} }}, ]  # watched\n\n"
    api = f'[api]\nbase_url = "{sim.base_url}"\nkey = "{sim.key}"\ntoken = "{sim.token}"\n'
    path.write_text(head + api)
    path.chmod(0o600)
    assert main(["--config", str(path), "add", str(second), "--name", "Two"]) == 0
    assert f"Added pipeline {second}, name 'Two' to {path}" in capsys.readouterr().out
    assert path.read_text() == (
        f'pipelines = [ {{ id = {first} }}, {{ id = {second}, name = "Two" }}, ]  # watched\n\n'
        + api
    )
    assert main(["--config", str(path), "remove", str(first)]) == 0
    assert path.read_text() == (
        f'pipelines = [ {{ id = {second}, name = "Two" }}, ]  # watched\n\n' + api
    )


def test_add_to_a_missing_config_points_to_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "add", "5", "--no-check"]) == 2
    assert f"kondado-tui --config {tmp_path / 'none.toml'} init" in capsys.readouterr().err
    assert not (tmp_path / "none.toml").exists()


# -- remove -----------------------------------------------------------------------------


def test_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[pipelines]]\nid = 1\nname = "One"\n\n[[pipelines]]\nid = 2\n')
    assert main(["--config", str(path), "remove", "https://app.kondado.com.br/pipelines/1"]) == 0
    assert "Removed pipeline 1 (One) from" in capsys.readouterr().out
    assert path.read_text() == "[[pipelines]]\nid = 2\n"


def test_remove_an_absent_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[[pipelines]]\nid = 1\n\n[[pipelines]]\nid = 2\n")
    assert main(["--config", str(path), "remove", "3"]) == 2
    err = capsys.readouterr().err
    assert f"pipeline 3 is not in {path} (listed: 1, 2); nothing was changed" in err


# -- a broken config never gives a traceback ---------------------------------------------


def test_broken_config_through_main(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[api]\nrequests_per_minute = 50\n")
    assert main(["--config", str(path), "remove", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kondado-tui: {path}:2: api.requests_per_minute: 50 is outside")
    assert "Traceback" not in err


def test_installed_command_on_a_broken_config(tmp_path: Path) -> None:
    exe = shutil.which("kondado-tui") or str(Path(sys.executable).parent / "kondado-tui")
    path = tmp_path / "config.toml"
    path.write_text('[api]\nkey = "k"\ntoken = "tok-secret-77"\n[[pipelines]]\nid = "x"\n')
    done = subprocess.run(
        [exe, "--config", str(path), "add", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"kondado-tui: {path}:5: pipelines[1].id: must be a whole")
    assert "Traceback" not in done.stderr + done.stdout
    assert "tok-secret-77" not in done.stderr + done.stdout
