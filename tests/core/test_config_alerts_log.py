"""`[alerts]` and `[log]` in the config: what a good file gives, and every mistake as a
message naming the file, the line, the key and the fix (never the command's words)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kondado_tui.core.config import AlertSettings, LogSettings, load_config
from kondado_tui.core.errors import ConfigError

CREDS = '[api]\nkey = "the-key"\ntoken = "file-token-0123456789"\n'


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home")}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CREDS + text, encoding="utf-8")
    path.chmod(0o600)
    return path


def error_of(path: Path, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env)
    return str(caught.value)


def test_defaults_no_alert_command_and_a_log_in_the_state_dir(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = load_config(write(tmp_path, ""), env)
    assert config.alerts == AlertSettings() and config.alerts.command == ()
    assert config.log == LogSettings(path=None, level="info")


def test_every_alert_key(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(
        tmp_path,
        "[alerts]\n"
        f'command = ["{sys.executable}", "-c", "pass", "--channel"]\n'
        "on_recovery = true\ntimeout = 2.5\nmax_per_minute = 3\nrepeat_minutes = 0\n"
        'pass_env = ["HTTPS_PROXY", "NO_PROXY", "HTTPS_PROXY"]\n'
        '[log]\npath = "logs/k.log"\nlevel = "DEBUG"\n',
    )
    config = load_config(path, env)
    assert config.alerts == AlertSettings(
        command=(sys.executable, "-c", "pass", "--channel"),
        on_recovery=True,
        timeout=2.5,
        max_per_minute=3,
        repeat_minutes=0,
        pass_env=("HTTPS_PROXY", "NO_PROXY"),
    )
    assert config.warnings == ()
    assert config.log == LogSettings(path=tmp_path / "logs" / "k.log", level="debug")


def test_program_paths_home_relative_and_in_path(tmp_path: Path, env: dict[str, str]) -> None:
    home = load_config(write(tmp_path, '[alerts]\ncommand = ["~/bin/alert"]\n'), env)
    assert home.alerts.command == (str(tmp_path / "home" / "bin" / "alert"),)
    beside = load_config(write(tmp_path, '[alerts]\ncommand = ["hooks/alert.sh"]\n'), env)
    assert beside.alerts.command == (str(tmp_path / "hooks" / "alert.sh"),)
    # a program that is not there (yet) is a warning, not a refusal to start
    assert any("does not exist" in w and "alerts will fail" in w for w in beside.warnings)
    bare = load_config(write(tmp_path, '[alerts]\ncommand = ["no-such-alert-prog"]\n'), env)
    assert bare.alerts.command == ("no-such-alert-prog",)
    assert any("'no-such-alert-prog' not found in PATH" in w for w in bare.warnings)
    script = tmp_path / "plain.sh"
    script.write_text("echo")
    plain = load_config(write(tmp_path, f'[alerts]\ncommand = ["{script}"]\n'), env)
    assert any(f"chmod +x {script}" in w for w in plain.warnings)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '[alerts]\ncommand = "curl -s https://hooks.example/SECRET"',
            "config.toml:5: alerts.command: must be an array of strings, not a string; "
            'write it like: command = ["/usr/local/bin/kondado-alert", "--channel", "data"]',
        ),
        ("[alerts]\ncommand = []", "config.toml:5: alerts.command: is empty; give the program"),
        ('[alerts]\ncommand = ["", "x"]', "alerts.command: has no program as its first word"),
        (
            '[alerts]\ncommand = ["curl", "https://hooks.example/SECRET\\u001b[2J"]',
            "alerts.command: a word contains control characters or escape sequences",
        ),
        ("[alerts]\ntimeout = 0", "alerts.timeout: 0 is not above 0 and at most 300 seconds"),
        ("[alerts]\ntimeout = 301", "alerts.timeout: 301 is not above 0"),
        ("[alerts]\nmax_per_minute = 0", "alerts.max_per_minute: 0 is outside 1..60"),
        ("[alerts]\nrepeat_minutes = -1", "alerts.repeat_minutes: -1 is outside 0..1440"),
        ("[alerts]\non_recovery = 1", "alerts.on_recovery: must be true or false"),
        (
            '[alerts]\npass_env = ["KONDADO_TOKEN"]',
            "alerts.pass_env: KONDADO_TOKEN is never given to the alert command; remove it",
        ),
        ('[alerts]\npass_env = ["kondado_key"]', "kondado_key is never given"),
        ('[alerts]\npass_env = ["A B"]', "alerts.pass_env: 'A B' is not an environment variable"),
        ('[alerts]\ncomand = ["x"]', "alerts.comand: unknown key; did you mean 'command'?"),
        ('[log]\nlevel = "loud"', "log.level: 'loud' is not a log level; use one of \"debug\""),
        ('[log]\npath = ""', "log.path: is empty"),
        ('[log]\nfile = "x"', "log.file: unknown key"),
        ("[alert]\ncommand = []", "alert: unknown key; did you mean 'alerts'?"),
    ],
)
def test_mistakes_name_the_line_and_the_fix(
    tmp_path: Path, env: dict[str, str], text: str, words: str
) -> None:
    message = error_of(write(tmp_path, text + "\n"), env)
    assert words in message
    assert "SECRET" not in message  # the command's words are never echoed


def test_level_off_turns_the_log_file_off(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_config(write(tmp_path, '[log]\nlevel = "off"\n'), env)
    assert config.log.level == "off"
