"""load_config: defaults, every mistake's message, env overrides, token_command, warnings."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import tomli_w

from kondado_tui.core.config import (
    STARTER_CONFIG,
    ApiSettings,
    HistorySettings,
    PipelineEntry,
    UiSettings,
    load_config,
    token_command,
    validation,
)
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.guards.redact import redact

CREDS = '[api]\nkey = "the-key"\ntoken = "file-token-0123456789"\n'
PY = shlex.quote(sys.executable)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: nothing of the real user's leaks into these tests."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path / "home")}


def write(tmp_path: Path, text: str, mode: int = 0o600, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def error_of(path: Path, env: dict[str, str], **options: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env, **options)  # type: ignore[arg-type]
    return str(caught.value)


# -- what a good file gives ------------------------------------------------------------


def test_minimal_file_gets_the_documented_defaults(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, CREDS)
    config = load_config(path, env)
    assert config.path == path
    assert config.api == ApiSettings(key="the-key", token="file-token-0123456789")
    assert config.api.base_url == "https://k2.kondado.com.br"
    assert config.ui == UiSettings()
    assert config.history == HistorySettings()
    assert config.pipelines == ()
    assert config.warnings == ()
    assert "file-token" not in repr(config)


def test_every_key_is_read(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(
        tmp_path,
        """
[api]
base_url = "https://proxy.example.com/kondado/"
key = " k "
token = "tok-tok-tok"
requests_per_minute = 12
timeout = 4.5
ledger = "shared/ledger.sqlite3"

[ui]
read_only = true
bell = false
desktop_notify = true

[history]
path = "/var/tmp/h.sqlite3"
retention_days = 7
max_rows_per_pipeline = 50

[[pipelines]]
id = 2040
name = "Orders to warehouse"
group = "ecommerce"

[[pipelines]]
id = 7
name = "  "
""",
    )
    config = load_config(path, env)
    assert config.api == ApiSettings(
        base_url="https://proxy.example.com/kondado",
        key="k",
        token="tok-tok-tok",
        requests_per_minute=12,
        timeout=4.5,
        ledger=tmp_path / "shared" / "ledger.sqlite3",  # relative to the config's folder
    )
    assert config.ui == UiSettings(read_only=True, bell=False, desktop_notify=True)
    assert config.history == HistorySettings(Path("/var/tmp/h.sqlite3"), 7.0, 50)
    assert config.pipelines == (
        PipelineEntry(2040, "Orders to warehouse", "ecommerce"),
        PipelineEntry(7),
    )
    assert [p.display_name for p in config.pipelines] == ["Orders to warehouse", "pipeline 7"]


def test_the_starter_config_is_valid(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, STARTER_CONFIG)
    assert load_config(path, env, require_credentials=False).pipelines == ()
    env.update(KONDADO_KEY="k", KONDADO_TOKEN="tok-from-env")
    config = load_config(path, env)
    assert (config.api.key, config.api.token) == ("k", "tok-from-env")
    assert config.api == ApiSettings(key="k", token="tok-from-env")
    # Every key the loader knows is documented in the starter file.
    for schema in (validation._API, validation._UI, validation._HISTORY):
        for key in schema:
            assert f"{key} =" in STARTER_CONFIG, key
    for key in validation._PIPELINE:
        assert f"# {key} =" in STARTER_CONFIG, key


def test_default_path_comes_from_the_environment(tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, CREDS)
    env["KONDADO_TUI_CONFIG"] = str(tmp_path / "config.toml")
    assert load_config(None, env).path == tmp_path / "config.toml"


# -- every mistake: one ConfigError naming file (and line), key and fix -----------------


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        pytest.param("[api\nkey = 1", 1, ["invalid TOML", ":1:5:", "fix the syntax"], id="toml"),
        pytest.param(
            CREDS + 'timeout = "10"\n',
            4,
            ["api.timeout", "must be a number, not a string", "timeout = 10"],
            id="wrong-type",
        ),
        pytest.param(
            CREDS + "requests_per_minute = 1.5\n",
            4,
            ["api.requests_per_minute", "whole number", "requests_per_minute = 18"],
            id="float-for-int",
        ),
        pytest.param(
            CREDS + '[ui]\nread_only = "yes"\n',
            5,
            ["ui.read_only", "true or false", "read_only = false"],
            id="bool",
        ),
        pytest.param(
            CREDS + "requests_per_min = 5\n",
            4,
            ["api.requests_per_min", "unknown key", "did you mean 'requests_per_minute'"],
            id="unknown-key",
        ),
        pytest.param(
            CREDS + "[hisotry]\nretention_days = 3\n",
            4,
            ["hisotry", "unknown key", "did you mean 'history'"],
            id="unknown-table",
        ),
        pytest.param(
            "bell = true\n" + CREDS,
            1,
            ["bell", "unknown key", "belongs in the [ui] table"],
            id="wrong-table",
        ),
        pytest.param(
            "id = 2040\n" + CREDS,
            1,
            ["id", "belongs in a [[pipelines]] entry"],
            id="id-outside-entry",
        ),
        pytest.param(
            CREDS + "[ui]\ncolour = 1\n",
            5,
            ["ui.colour", "valid keys here: read_only, bell, desktop_notify"],
            id="unknown-no-close-match",
        ),
        pytest.param(
            CREDS + "requests_per_minute = 21\n",
            4,
            ["api.requests_per_minute", "21 is outside 1..20", "from 1 to 20"],
            id="rpm-high",
        ),
        pytest.param(CREDS + "requests_per_minute = 0\n", 4, ["0 is outside 1..20"], id="rpm-zero"),
        pytest.param(
            CREDS + "timeout = 0\n",
            4,
            ["api.timeout", "not above 0", "timeout = 10"],
            id="timeout-zero",
        ),
        pytest.param(
            CREDS + "timeout = -2.5\n",
            4,
            ["api.timeout", "-2.5 is not above 0"],
            id="timeout-negative",
        ),
        pytest.param(CREDS + "timeout = inf\n", 4, ["api.timeout", "finite"], id="timeout-inf"),
        pytest.param(
            CREDS + 'base_url = "ftp://k2.kondado.com.br"\n',
            4,
            ["api.base_url", "not an http(s) URL", "https://k2.kondado.com.br"],
            id="base-url-scheme",
        ),
        pytest.param(
            CREDS + 'base_url = "kondado"\n',
            4,
            ["api.base_url", "not an http(s)"],
            id="base-url-no-scheme",
        ),
        pytest.param(
            CREDS + 'base_url = "http://k2.kondado.com.br"\n',
            4,
            ["api.base_url", "unencrypted", "use https://", "localhost"],
            id="plain-http-remote",
        ),
        pytest.param(
            CREDS + 'base_url = "http://127.0.0.1.nip.io"\n',
            4,
            ["unencrypted"],
            id="plain-http-lookalike",
        ),
        pytest.param(
            CREDS + 'base_url = "https://h.example/?a=1"\n',
            4,
            ["api.base_url", "query"],
            id="base-url-query",
        ),
        pytest.param(
            CREDS + 'base_url = "https://h.example:99999"\n',
            4,
            ["api.base_url", "not a valid URL"],
            id="base-url-port",
        ),
        pytest.param(
            CREDS + 'token_command = "pass show x"\n',
            4,
            ["api.token_command", "both token and token_command", "keep only one"],
            id="token-and-command",
        ),
        pytest.param(
            '[api]\nkey = "k"\ntoken_command = "pass \'x"\n',
            3,
            ["api.token_command", "cannot be split", "quotes"],
            id="command-quotes",
        ),
        pytest.param(
            '[api]\nkey = "k"\ntoken_command = "  "\n',
            3,
            ["api.token_command", "is empty"],
            id="command-empty",
        ),
        pytest.param('api = "k"\n', 1, ["api", "not a table", "write [api]"], id="api-not-table"),
        pytest.param(
            CREDS + "[history]\nretention_days = 0\n",
            5,
            ["history.retention_days", "not above 0"],
            id="retention",
        ),
        pytest.param(
            CREDS + "[history]\nmax_rows_per_pipeline = 0\n",
            5,
            ["history.max_rows_per_pipeline", "below 1"],
            id="max-rows",
        ),
        pytest.param(
            CREDS + '[history]\npath = ""\n',
            5,
            ["history.path", "is empty"],
            id="history-path-empty",
        ),
        pytest.param(
            CREDS + "[pipelines]\nid = 2040\n",
            4,
            ["pipelines", "single table", "[[pipelines]]", "double brackets"],
            id="single-brackets",
        ),
        pytest.param(
            "pipelines = [2040, 2041]\n" + CREDS,
            1,
            ["pipelines", "list of [[pipelines]] entries", "id = 2040"],
            id="inline-ids",
        ),
        pytest.param(
            CREDS + "[[pipelines]]\nid = 1\n\n[[pipelines]]\nid = 0\n",
            8,
            ["pipelines[2].id", "0 is not a positive integer", "app URL"],
            id="id-zero",
        ),
        pytest.param(
            CREDS + "[[pipelines]]\nid = -4\n",
            5,
            ["pipelines[1].id", "-4 is not"],
            id="id-negative",
        ),
        pytest.param(
            CREDS + '[[pipelines]]\nid = "2040"\n',
            5,
            ["pipelines[1].id", "whole number, not a string", "id = 2040"],
            id="id-string",
        ),
        pytest.param(
            CREDS + '[[pipelines]]\nname = "x"\n',
            4,
            ["pipelines[1]", "no id", "add id ="],
            id="id-missing",
        ),
        pytest.param(
            CREDS + "[[pipelines]]\nid = 5\n[[pipelines]]\nid = 6\n[[pipelines]]\nid = 5\n",
            9,
            ["pipelines[3].id", "pipeline 5 is listed twice (entries 1 and 3)", "remove one"],
            id="duplicate-id",
        ),
        pytest.param(
            CREDS + '[[pipelines]]\nid = 5\nnmae = "x"\n',
            6,
            ["pipelines[1].nmae", "did you mean 'name'"],
            id="entry-unknown-key",
        ),
        pytest.param(
            CREDS + '[[pipelines]]\nid = 5\nname = "a\\u001b[2Jb"\n',
            6,
            ["pipelines[1].name", "control characters", "plain text"],
            id="name-escape",
        ),
        pytest.param(
            "pipelines = [\n  { id = 1 },\n  { id = 0 },\n]\n" + CREDS,
            3,
            ["pipelines[2].id", "0 is not a positive integer"],
            id="inline-entry-line",
        ),
        pytest.param(
            'pipelines = [ { id = 1 }, { id = 2, nmae = "x" } ]\n' + CREDS,
            1,
            ["pipelines[2].nmae", "did you mean 'name'"],
            id="inline-entry-unknown-key",
        ),
        pytest.param(
            CREDS + "pipelines = [ { id = 1 } ]\n",
            4,
            ["api.pipelines", "unknown key", "move 'pipelines = [...]' above the first [table]"],
            id="inline-pipelines-below-a-table",
        ),
        pytest.param(
            "pipelines = [ { id = 1 }, ]\n" + CREDS + "[[pipelines]]\nid = 2\n",
            5,
            ["invalid TOML", "pipelines was written whole", "cannot be added to elsewhere"],
            id="inline-then-tables",
        ),
        pytest.param(
            CREDS + "[ui]\nbell = true\n[ui]\n",
            6,
            ["invalid TOML", "the table [ui] is declared twice"],
            id="table-twice",
        ),
    ],
)
def test_each_mistake_is_one_clear_error(
    tmp_path: Path, env: dict[str, str], text: str, line: int, expected: list[str]
) -> None:
    path = write(tmp_path, text)
    message = error_of(path, env)
    assert message.startswith(f"{path}:{line}:"), message
    for part in expected:
        assert part in message, (part, message)
    assert "Traceback" not in message
    assert "file-token-0123456789" not in message
    assert "namespace" not in message and "('" not in message  # no tomllib internals


def test_missing_file_says_how_to_create_one(tmp_path: Path, env: dict[str, str]) -> None:
    message = error_of(tmp_path / "nope.toml", env)
    assert str(tmp_path / "nope.toml") in message
    assert f"kondado-tui --config {tmp_path / 'nope.toml'} init" in message


def test_a_directory_is_not_a_config(tmp_path: Path, env: dict[str, str]) -> None:
    message = error_of(tmp_path, env)
    assert "is a directory" in message and "config.toml" in message


def test_unreadable_path(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "file").write_text("")
    message = error_of(tmp_path / "file" / "config.toml", env)  # parent is not a directory
    assert "cannot read the config file" in message and "permissions" in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, CREDS, mode=0o000)
    message = error_of(path, env)
    assert "cannot read the config file (Permission denied)" in message


def test_not_utf8(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[api]\nkey = "caf\xe9"\n')
    message = error_of(path, env)
    assert message.startswith(f"{path}:2:") and "UTF-8" in message


def test_a_wrong_token_type_never_shows_the_value(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, '[api]\nkey = "k"\ntoken = 8675309123\n')
    message = error_of(path, env)
    assert "api.token" in message and "must be a string in quotes" in message
    assert "8675309123" not in message


def test_the_file_token_is_masked_in_every_later_message(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path, CREDS + "requests_per_minute = 30\n")
    error_of(path, env)
    assert redact("see file-token-0123456789 here") == "see *** here"


@pytest.mark.parametrize(
    ("env_vars", "missing", "not_missing"),
    [
        ({}, ["api.key and api.token", "KONDADO_KEY", "KONDADO_TOKEN", "token_command"], []),
        ({"KONDADO_KEY": "k"}, ["api.token", "KONDADO_TOKEN", "token_command"], ["KONDADO_KEY"]),
        ({"KONDADO_TOKEN": "tok-env"}, ["api.key", "KONDADO_KEY"], ["KONDADO_TOKEN"]),
        ({"KONDADO_KEY": "  ", "KONDADO_TOKEN": "tok-env"}, ["KONDADO_KEY"], []),
    ],
)
def test_missing_credentials_say_what_to_set(
    tmp_path: Path,
    env: dict[str, str],
    env_vars: dict[str, str],
    missing: list[str],
    not_missing: list[str],
) -> None:
    path = write(tmp_path, "[ui]\nbell = true\n")
    env.update(env_vars)
    message = error_of(path, env)
    assert message.startswith(f"{path}: ")
    for part in missing:
        assert part in message
    for part in not_missing:
        assert part not in message
    assert load_config(path, env, require_credentials=False).api.token in ("", "tok-env")


# -- precedence: options > environment > file > defaults --------------------------------


def test_environment_overrides_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, CREDS + 'base_url = "https://file.example"\n')
    env.update(
        KONDADO_KEY=" env-key ",
        KONDADO_TOKEN="env-token-xyz",
        KONDADO_BASE_URL="https://env.example/",
    )
    api = load_config(path, env).api
    assert (api.key, api.token, api.base_url) == ("env-key", "env-token-xyz", "https://env.example")


def test_options_override_the_environment(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, CREDS + "[ui]\nread_only = false\n")
    env["KONDADO_BASE_URL"] = "https://env.example"
    config = load_config(path, env, base_url="http://127.0.0.1:8123", read_only=True)
    assert config.api.base_url == "http://127.0.0.1:8123"
    assert config.ui.read_only is True
    # --read-only can only turn it on: without it the file decides.
    assert load_config(write(tmp_path, CREDS + "[ui]\nread_only = true\n"), env).ui.read_only


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9",
        "http://127.8.9.10",
        "http://[::1]:8080",
        "http://localhost:1",
        "http://LOCALHOST",
        "https://k2.kondado.com.br/",
    ],
)
def test_loopback_may_use_plain_http(tmp_path: Path, env: dict[str, str], url: str) -> None:
    assert load_config(write(tmp_path, CREDS), env, base_url=url).api.base_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("source", "expected"),
    [("env", "KONDADO_BASE_URL: plain http://"), ("option", "--base-url: plain http://")],
)
def test_a_bad_override_names_its_source(
    tmp_path: Path, env: dict[str, str], source: str, expected: str
) -> None:
    path = write(tmp_path, CREDS)
    if source == "env":
        env["KONDADO_BASE_URL"] = "http://10.0.0.8"
        message = error_of(path, env)
    else:
        message = error_of(path, env, base_url="http://10.0.0.8")
    assert message.startswith(expected) and "use https://" in message


# -- token_command ----------------------------------------------------------------------


def _toml_command(command: str) -> str:
    return '[api]\nkey = "k"\n' + tomli_w.dumps({"token_command": command})


def python_command(script: str) -> str:
    return f"{PY} -c {shlex.quote(script)}"


def test_token_command_gives_the_token(tmp_path: Path, env: dict[str, str]) -> None:
    script = 'print("  cmd-token-4242  "); print("login: me")'
    path = write(tmp_path, _toml_command(python_command(script)))
    config = load_config(path, env)
    assert config.api.token == "cmd-token-4242"  # first line, trimmed
    assert redact("x cmd-token-4242 y") == "x *** y"


def test_token_command_does_not_run_when_not_needed(tmp_path: Path, env: dict[str, str]) -> None:
    marker = tmp_path / "ran"
    script = f"open({str(marker)!r}, 'w'); print('tttt')"
    path = write(tmp_path, _toml_command(python_command(script)))
    load_config(path, env, require_credentials=False)
    env["KONDADO_TOKEN"] = "env-wins-token"
    assert load_config(path, env).api.token == "env-wins-token"
    assert not marker.exists()


def test_token_command_failure_says_which_command(tmp_path: Path, env: dict[str, str]) -> None:
    script = 'import sys; print("leaked-stdout-token"); print("store is locked", file=sys.stderr)'
    path = write(tmp_path, _toml_command(python_command(script + "; sys.exit(3)")))
    message = error_of(path, env)
    assert message.startswith(f"{path}:3: api.token_command: token_command '")
    assert "failed (exit 3): store is locked" in message
    assert "leaked-stdout-token" not in message


def test_token_command_not_found(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, '[api]\nkey = "k"\ntoken_command = "no-such-program-kt show x"\n')
    message = error_of(path, env)
    assert "program 'no-such-program-kt' not found" in message and "no shell" in message


def test_token_command_printing_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, _toml_command(f"{PY} -c pass"))
    assert "printed nothing" in error_of(path, env)


def test_token_command_timeout(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_command, "TOKEN_COMMAND_TIMEOUT", 0.3)
    path = write(tmp_path, _toml_command(python_command("import time; time.sleep(5)")))
    message = error_of(path, env)
    assert "did not print a line within 0.3 s" in message and "api.token_command" in message


def test_token_command_gets_no_shell(tmp_path: Path, env: dict[str, str]) -> None:
    marker = tmp_path / "injected"
    path = write(tmp_path, _toml_command(f"{PY} -c 'print(1)' ; touch {marker}"))
    load_config(path, env)  # the ';' and 'touch' are plain arguments to python
    assert not marker.exists()


# -- permissions ------------------------------------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.parametrize(
    ("mode", "text", "who"),
    [
        (0o644, CREDS, "group and others"),
        (0o640, CREDS, "group"),
        (0o604, CREDS, "others"),
        (0o600, CREDS, None),
        (0o644, '[api]\nkey = "k"\n', None),  # no secret in the file
    ],
)
def test_a_readable_file_with_a_token_warns(
    tmp_path: Path, env: dict[str, str], mode: int, text: str, who: str | None
) -> None:
    env["KONDADO_TOKEN"] = "env-token-abc"
    path = write(tmp_path, text, mode=mode)
    warnings = load_config(path, env).warnings
    if who is None:
        assert warnings == ()
    else:
        assert warnings == (
            f"{path} holds the API token and is readable by {who}: run 'chmod 600 {path}'",
        )
