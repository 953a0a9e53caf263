"""The command line fed the hostile corpus: through every field of every answer (over
real HTTP, the simulator's FIELDS fault) and every input path (config names, pasted
URLs, token_command output, body files, arguments). Whatever comes in, stdout and
stderr hold only printable text and no form of the token, no command ends in exit 70
("this is a bug"), and no file written holds the token. A full disk is a sentence and
exit 74 for every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_helpers import DUPLICATE as SEND_DUPLICATE
from cli_helpers import isolate_dirs, write_config
from hostile_corpus import (
    FORMAT,
    KEY,
    ODD_VALUES,
    SAMPLE,
    SECRET_FORMS,
    TEXTS,
    TOKEN,
    leaks,
    seed_token,
    unsafe,
)

from kondado_tui.cli.exitcodes import EXIT_BUG, EXIT_IO, EXIT_OK, EXIT_USAGE
from kondado_tui.cli.main import main
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld

SimFactory = Callable[..., SimServer]
ANSWER_FIELDS = ("status", "raw_msg", "is_running", "is_blocked", "owner")
DUPLICATE = ["duplicate", *SEND_DUPLICATE]  # sends without asking, saves nothing


@pytest.fixture
def api(sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimServer:
    seed_token()
    isolate_dirs(tmp_path, monkeypatch)
    return sim_factory(world=SimWorld(demo=True), key=KEY, token=TOKEN, rate_limit=False)


@pytest.fixture
def config(tmp_path: Path, api: SimServer) -> Path:
    return write_config(tmp_path, api, [(2040, "Orders"), (2071, None)])


class Cli:
    """`main()` in this process; every output kept for the checks."""

    def __init__(self, capsys: pytest.CaptureFixture[str], config: Path | None) -> None:
        self._capsys = capsys
        self._config = config
        self.outputs: list[str] = []

    def __call__(self, *argv: str) -> int:
        words = ["--config", str(self._config), *argv] if self._config else list(argv)
        if self._config is not None:
            # A fresh rate ledger for each command: this file sends a hundred requests
            # in a minute to test the guards, not the budget (18 a minute would make it
            # wait five minutes).
            for path in self._config.parent.glob("ledger.sqlite3*"):
                path.unlink()
        try:
            code = main(words)
        except SystemExit as exc:  # argparse's usage errors, --help, --version
            code = int(exc.code or 0)
        out, err = self._capsys.readouterr()
        self.outputs.append(out + err)
        assert code != EXIT_BUG, (argv, err[-500:])
        assert "Traceback" not in err
        for text in (out, err):
            assert unsafe(text) == [], (argv, unsafe(text)[:5], text[-300:])
            assert leaks(text) == [], (argv, leaks(text), text[-300:])
        return code


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], config: Path) -> Cli:
    return Cli(capsys, config)


def files_hold_no_secret(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for name, form in SECRET_FORMS.items():
                if path.suffix == ".toml" and name == "raw":
                    continue  # the test's own config holds it: the app never writes it
                assert form.encode() not in data, (path, name)


@pytest.mark.parametrize("field", ANSWER_FIELDS)
def test_status_and_history_with_any_answer_field(
    cli: Cli, api: SimServer, tmp_path: Path, field: str
) -> None:
    for name, text in {**SAMPLE, **ODD_VALUES}.items():
        api.set_fault(FaultMode.FIELDS, fields={field: text})
        for argv in (["status", "2040"], ["status", "--json", "2040"]):
            assert cli(*argv) in (0, 1, 3), (field, name)
        api.clear_fault()
    assert cli("history") == EXIT_OK
    assert cli("history", "--json") == EXIT_OK
    files_hold_no_secret(tmp_path)


def test_status_json_stays_json_and_flags_a_cut_message(
    cli: Cli, api: SimServer, capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    api.set_fault(FaultMode.FIELDS, fields={"raw_msg": TEXTS["everything"] + "x" * 30_000})
    assert main(["--config", str(config), "status", "--json", "2040"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["raw_msg_cut"] > 0 and rows[0]["raw_msg"].endswith("more characters)")
    assert unsafe(rows[0]["raw_msg"]) == [] and leaks(rows[0]["raw_msg"]) == []


def test_run_and_duplicate_with_any_answer(cli: Cli, api: SimServer, tmp_path: Path) -> None:
    for name, text in {**SAMPLE, **ODD_VALUES}.items():
        api.set_fault(FaultMode.BODY, body=json.dumps({"success": True, "message": text}))
        # 2: after an answer that said nothing, running again asks first (no terminal)
        assert cli("run", "2040", "--yes") in (0, 2, 3), name
        api.set_fault(FaultMode.BODY, body=json.dumps({"success": False, "error": text}))
        assert cli("run", "2040", "--yes") in (2, 3), name
        answer = {"success": True, "data": {"success": True, "data": {"new_pipeline_id": text}}}
        api.set_fault(FaultMode.BODY, body=json.dumps(answer))
        # 2: a second send of a body whose first answer said nothing asks first
        assert cli(*DUPLICATE) in (0, 2, 3), name
    api.clear_fault()
    files_hold_no_secret(tmp_path)


# -- input paths --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_hostile_names_and_groups_in_the_config(
    tmp_path: Path, api: SimServer, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    text = SAMPLE[name]
    for key in ("name", "group"):
        config = write_config(tmp_path, api, [(2040, None)])
        config.write_text(config.read_text() + f"{key} = {json.dumps(text, ensure_ascii=True)}\n")
        cli = Cli(capsys, config)
        assert cli("status") in (0, EXIT_USAGE), name
        assert cli("add", "2041", f"--{key}", text, "--no-check") in (0, EXIT_USAGE)


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_hostile_pipeline_arguments_and_pasted_urls(cli: Cli, name: str) -> None:
    text = SAMPLE[name]
    for argv in (
        ["status", text],
        ["status", f"https://app.kondado.com.br/pipelines/{text}"],
        ["run", text, "--yes"],
        ["add", text],
        ["remove", text],
        ["history", "--since", text],
        ["duplicate", "--from", text, "--dry-run"],
        [text],
    ):
        assert cli(*argv) == EXIT_USAGE, argv


@pytest.mark.parametrize(
    "script",
    [
        r"printf '\033]52;c;cHduZWQ=\007\n'",  # an escape sequence as the 'token'
        "yes",  # a line, then no end
        "head -c 100000 /dev/zero",  # no line at all
        "printf '%s\\n' 'first line holds \u202e bidi'",
        "echo oops >&2; printf '\\033]0;title\\007' >&2; exit 3",
    ],
)
def test_token_command_output_is_never_shown(
    tmp_path: Path, api: SimServer, capsys: pytest.CaptureFixture[str], script: str
) -> None:
    helper = tmp_path / "token.sh"
    helper.write_text(f"#!/bin/sh\n{script}\n")
    helper.chmod(0o700)
    config = write_config(tmp_path, api)
    text = config.read_text().replace(f'token = "{TOKEN}"', f'token_command = "{helper}"')
    config.write_text(text)
    code = Cli(capsys, config)("status")
    assert code in (EXIT_USAGE, 3)  # refused, or a wrong token the API turns down


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ('{"pipeline_id": 2040, "overwrite_parameters": {"limit": 1e400}}', "too large"),
        ('{"pipeline_id": 2040, "overwrite_parameters": {"limit": NaN}}', "NaN"),
        ('{"pipeline_id": 2040, "name": "' + "\\u202e" + 'x"}', "name"),
        ('{"pipeline_id": ' + "[" * 100 + "]" * 100 + "}", "nested deeper"),
    ],
)
def test_hostile_json_body_files(
    cli: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, said: str
) -> None:
    path = tmp_path / "body.json"
    path.write_text(body)
    assert cli("duplicate", "--body", str(path), "--dry-run") == EXIT_USAGE
    assert said in cli.outputs[-1]


def test_toml_dates_and_infinities_in_a_body_file_are_refused_by_field(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "body.toml"
    path.write_text(
        "pipeline_id = 2040\nsrc_collection_id = 5052\ndest_collection_id = 7002\n"
        'name = 1979-05-27T07:32:00Z\n[full_tables]\n"" = "orders"\n'
        "[overwrite_parameters]\nstart = 2024-01-01\nat = 07:32:00\nlimit = inf\nratio = nan\n"
    )
    assert cli("duplicate", "--body", str(path), "--dry-run") == EXIT_USAGE
    said = cli.outputs[-1]
    assert "a date (2024-01-01) is not a JSON value" in said
    assert "a time of day (07:32:00) is not a JSON value" in said
    assert "a number too large for JSON" in said and "NaN" in said
    assert "name" in said and "quote it" in said


@pytest.mark.parametrize("value", ["1e400", "-1e400", "[1, 1e999]", "[NaN]", "1" * 60])
def test_odd_numbers_in_param_are_refused_before_anything_is_sent(
    cli: Cli, api: SimServer, value: str
) -> None:
    asked = len(api.log)
    assert cli(*DUPLICATE, "--param", f"limit={value}", "--dry-run") == EXIT_USAGE
    assert "limit" in cli.outputs[-1] and "quoted JSON string" in cli.outputs[-1]
    assert cli(*DUPLICATE, "--param", f"limit={value}") == EXIT_USAGE
    assert len(api.log) == asked


@pytest.mark.parametrize("name", sorted(SAMPLE))
def test_hostile_duplicate_arguments(cli: Cli, name: str) -> None:
    text = SAMPLE[name]
    assert cli(*DUPLICATE, "--name", text, "--dry-run") in (EXIT_OK, EXIT_USAGE)
    assert cli(*DUPLICATE, "--table", f"{text}={text}", "--dry-run") == EXIT_USAGE
    assert cli(*DUPLICATE, "--param", f"{text}={text}", "--dry-run") in (EXIT_OK, EXIT_USAGE)
    assert cli(*DUPLICATE, "--param", f"p={text}", "--dry-run") in (EXIT_OK, EXIT_USAGE)


def test_bidi_in_a_message_cannot_reverse_the_table(cli: Cli, api: SimServer) -> None:
    api.set_fault(FaultMode.FIELDS, fields={"raw_msg": "cut here " + FORMAT["rlo"] * 50})
    assert cli("status", "2040") == 0
    assert "\u202e" not in cli.outputs[-1]


# -- a full disk ---------------------------------------------------------------------------


def _run_to_full_disk(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [sys.executable, "-m", "kondado_tui", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )


@pytest.fixture
def child_env(tmp_path: Path, api: SimServer) -> Iterator[dict[str, str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KONDADO") and k not in ("NO_COLOR", "TEXTUAL_THEME")
    }
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "cfg")
    yield env


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["run", "2040", "--yes"],
        [*DUPLICATE, "--dry-run"],
        ["history"],
        ["history", "--json"],
        ["add", "2041", "--no-check"],
        ["remove", "2071"],
        ["--help"],
        ["status", "--help"],
        ["--version"],
    ],
    ids=lambda argv: " ".join(argv)[:30],
)
def test_a_full_disk_is_a_sentence_and_exit_74(
    config: Path, child_env: dict[str, str], argv: list[str]
) -> None:
    if argv[0] == "history":  # something to show first
        subprocess.run(
            [sys.executable, "-m", "kondado_tui", "--config", str(config), "status", "2040"],
            env=child_env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    done = _run_to_full_disk(["--config", str(config), *argv], child_env)
    assert done.returncode == EXIT_IO, done.stderr
    assert "could not write to standard output (No space left on device)" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert unsafe(done.stderr) == [] and leaks(done.stderr) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_init_to_a_full_disk(tmp_path: Path, child_env: dict[str, str]) -> None:
    done = _run_to_full_disk(["--config", str(tmp_path / "new.toml"), "init"], child_env)
    assert done.returncode == EXIT_IO, done.stderr
    assert "Traceback" not in done.stderr
