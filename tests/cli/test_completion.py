"""Shell completion: the scripts `kondado-tui completion SHELL` prints, checked by each
shell, driven as the shell would drive them, and `__complete`, their only dynamic part.

bash runs the real function with COMP_WORDS/COMP_CWORD set as readline sets them; fish
answers `complete -C` (its own completion engine, non-interactive); zsh's completion
system needs a terminal, so its function runs with `_describe`, `compadd`, `_files` and
`compset` replaced by stubs that print what they were given.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kondado_tui.cli.completion import scripts
from kondado_tui.cli.completion.candidates import run_complete
from kondado_tui.cli.completion.spec import Kind, read_parser
from kondado_tui.cli.main import build_parser, main

PROG = str(Path(sys.executable).with_name("kondado-tui"))  # this venv's installed program
TOKEN = "SEEDED-completion-T0KEN-9d2e"
HOSTILE = (
    "evil \x1b]52;c;aGk=\x07\x1b[2Jname 'quoted' \"double\" $(touch {marker}) `id`"
    "\nsecond line\ttab"
)


def _config(path: Path, entries: list[tuple[int, str]], extra: str = "") -> Path:
    lines = ["[api]", 'key = "k"', f'token = "{TOKEN}"', extra, ""]
    for pid, name in entries:
        lines += ["[[pipelines]]", f"id = {pid}", f"name = {json.dumps(name)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return _config(
        tmp_path / "config.toml",
        [(2040, "Shopify orders → BigQuery"), (2071, "Postgres events"), (3100, "GA4 sessions")],
    )


def _script(shell: str, tmp_path: Path) -> Path:
    path = tmp_path / f"kondado-tui.{shell}"
    done = subprocess.run([PROG, "completion", shell], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    path.write_text(done.stdout)
    return path


# -- the scripts are valid -------------------------------------------------------------

SYNTAX = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


@pytest.mark.parametrize("shell", scripts.SHELLS)
def test_the_script_is_valid_for_its_shell(shell: str, tmp_path: Path) -> None:
    if shutil.which(SYNTAX[shell][0]) is None:
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    path = _script(shell, tmp_path)
    done = subprocess.run([*SYNTAX[shell], str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["completion", "tcsh"])
    assert ended.value.code == 2
    assert "bash" in capsys.readouterr().err


def test_every_option_that_takes_a_value_takes_one_everywhere() -> None:
    """The scripts skip the word after a value option by its name alone: a name that is a
    flag in one command and takes a value in another would lose the command's place."""
    spec = read_parser(build_parser())
    takes = set(spec.value_options())
    for command in (spec.top, *spec.commands):
        for option in command.options:
            if option.value is None:
                assert not takes & set(option.flags), (command.name, option.flags)


def test_the_spec_follows_the_parser() -> None:
    spec = read_parser(build_parser())
    names = [c.name for c in spec.commands]
    assert {"status", "run", "history", "remove", "duplicate", "completion"} <= set(names)
    by_name = {c.name: c for c in spec.commands}
    for name in ("status", "run", "history", "remove"):
        assert by_name[name].positionals[0].kind is Kind.PIPELINE, name
    assert by_name["add"].positionals[0].kind is Kind.NONE  # a new pipeline: not the config's
    assert by_name["status"].repeats and not by_name["run"].repeats
    options = {f: o for o in by_name["duplicate"].options for f in o.flags}
    assert options["--from"].value is not None and options["--from"].value.kind is Kind.PIPELINE
    assert options["--dry-run"].value is None
    alert = {f: o for o in by_name["alert-test"].options for f in o.flags}
    assert alert["--pipeline"].value is not None
    assert alert["--pipeline"].value.kind is Kind.PIPELINE
    assert by_name["completion"].positionals[0].values == scripts.SHELLS
    # global options after the command, except for the commands that read no config
    assert "--config" in {f for o in by_name["status"].options for f in o.flags}
    assert "--config" not in {f for o in by_name["sim"].options for f in o.flags}


# -- bash ------------------------------------------------------------------------------

BASH_DRIVER = """
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_kondado_tui
for reply in "${COMPREPLY[@]}"; do printf '%s\\n' "$reply"; done
"""


def _bash(script: Path, *words: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        ["bash", "-c", BASH_DRIVER, "driver", str(script), PROG, *words],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture
def bash_script(tmp_path: Path) -> Path:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    return _script("bash", tmp_path)


def test_bash_completes_commands_and_options(bash_script: Path) -> None:
    assert "status" in _bash(bash_script, "")
    assert _bash(bash_script, "hi") == ["history"]
    assert set(_bash(bash_script, "--")) >= {"--config", "--read-only", "--demo", "--version"}
    after = _bash(bash_script, "status", "--")
    assert {"--json", "--max-age", "--config", "--read-only", "--base-url"} <= set(after)
    assert "--demo" not in after
    assert "--config" not in _bash(bash_script, "sim", "--")  # reads no config
    assert _bash(bash_script, "--read-only", "ru") == ["run"]  # a flag before the command
    assert _bash(bash_script, "completion", "") == ["bash", "zsh", "fish"]


def test_bash_completes_option_values(bash_script: Path, tmp_path: Path) -> None:
    assert _bash(bash_script, "history", "--since", "") == ["1h", "24h", "7d", "all"]
    assert _bash(bash_script, "history", "--since", "=", "") == ["1h", "24h", "7d", "all"]
    assert _bash(bash_script, "history", "--since", "=", "a") == ["all"]
    (tmp_path / "team.toml").write_text("")
    assert _bash(bash_script, "--config", str(tmp_path / "tea")) == [str(tmp_path / "team.toml")]
    assert _bash(bash_script, "run", "--name", "") == []  # no such option: nothing made up
    assert _bash(bash_script, "add", "--name", "") == []  # free text


def test_bash_completes_pipelines_from_the_config(bash_script: Path, config: Path) -> None:
    ids = ["2040", "2071", "3100"]
    for words in (
        ["--config", str(config), "status", ""],
        ["status", "--config", str(config), ""],
        ["status", f"--config={config}", ""],
        ["status", "--config", "=", str(config), "2040", ""],  # bash split at "="
        ["run", "--config", str(config), ""],
        ["history", "--json", "--config", str(config), ""],
        ["remove", "--config", str(config), ""],
        ["--config", str(config), "duplicate", "--from", ""],
    ):
        assert _bash(bash_script, *words) == ids, words
    assert _bash(bash_script, "--config", str(config), "status", "20") == ["2040", "2071"]
    assert _bash(bash_script, "--config", str(config), "run", "postgres") == ["2071"]
    assert _bash(bash_script, "--config", str(config), "run", "2040", "") == []  # one only
    assert _bash(bash_script, "--config", str(config), "add", "") == []  # new ones only


def test_bash_finds_the_config_as_the_commands_do(
    bash_script: Path, config: Path, tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KONDADO_TUI_CONFIG": str(config)}
    assert _bash(bash_script, "status", "", env=env) == ["2040", "2071", "3100"]
    xdg = tmp_path / "xdg"
    (xdg / "kondado-tui").mkdir(parents=True)
    _config(xdg / "kondado-tui" / "config.toml", [(7, "seven")])
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(xdg)}
    assert _bash(bash_script, "status", "", env=env) == ["7"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    shutil.copy(config, tmp_path / "mine.toml")
    assert _bash(bash_script, "--config", "~/mine.toml", "run", "", env=env) == [
        "2040",
        "2071",
        "3100",
    ]


def test_bash_with_a_hostile_name_completes_ids_only(bash_script: Path, tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    config = _config(tmp_path / "c.toml", [(1, HOSTILE.format(marker=marker)), (2, "* ?")])
    assert _bash(bash_script, "--config", str(config), "run", "") == ["1", "2"]
    assert _bash(bash_script, "--config", str(config), "run", "evil") == ["1"]
    assert not marker.exists()


# -- __complete ------------------------------------------------------------------------


def _complete(*args: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        [PROG, "__complete", *args], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.splitlines()


def test_complete_gives_ids_and_names_for_each_shell(config: Path) -> None:
    base = ["pipelines", "--config", str(config), "--"]
    assert _complete("pipelines", "--shell", "bash", "--config", str(config)) == [
        "2040",
        "2071",
        "3100",
    ]
    assert _complete(*base[:1], "--shell", "zsh", *base[1:], "ga4") == ["3100:GA4 sessions"]
    assert _complete(*base[:1], "--shell", "fish", *base[1:], "2") == [
        "2040\tShopify orders → BigQuery",
        "2071\tPostgres events",
    ]


def test_complete_never_reads_the_token_nor_runs_its_command(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[api]\nkey = "k"\ntoken_command = "touch {marker}"\n\n[[pipelines]]\nid = 5\n'
        f'name = "{TOKEN}"\n'  # even a name that is a token is only a name here
    )
    assert _complete("pipelines", "--shell", "fish", "--config", str(config)) == [f"5\t{TOKEN}"]
    assert not marker.exists()
    config.write_text(f'[api]\ntoken = "{TOKEN}"\n[[pipelines]]\nid = 6\n')
    out = _complete("pipelines", "--shell", "fish", "--config", str(config))
    assert out == ["6"] and TOKEN not in "".join(out)


@pytest.mark.parametrize(
    "text",
    ["", "not toml [[[", "pipelines = 3", "[[pipelines]]\nid = 'x'\n", "\xff\xfe", "[api]\n"],
)
def test_complete_offers_nothing_for_a_broken_config(tmp_path: Path, text: str) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(text.encode("latin-1"))
    assert _complete("pipelines", "--config", str(config)) == []
    assert _complete("pipelines", "--config", str(tmp_path / "missing.toml")) == []
    assert _complete("nonsense") == []


def test_complete_cleans_hostile_names(tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    long = "x" * 500
    config = _config(tmp_path / "c.toml", [(1, HOSTILE.format(marker=marker)), (2, long)])
    for shell in ("zsh", "fish"):
        lines = _complete("pipelines", "--shell", shell, "--config", str(config))
        assert len(lines) == 2, lines  # one line each: no newline survives
        for line in lines:
            assert not any((ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0 for c in line)
            assert line.count("\t") == (1 if shell == "fish" else 0)
        assert "]52;" not in lines[0] and "[2J" not in lines[0]
        assert lines[0].split("\t" if shell == "fish" else ":", 1)[1].startswith("evil name 'q")
        assert len(lines[1]) < 80  # cut to a width a menu can show
    assert not marker.exists()


def test_complete_imports_neither_httpx_nor_textual(config: Path) -> None:
    """Every TAB starts it: it must not pay for the rest of the command line."""
    code = (
        "import sys; sys.argv = ['kondado-tui', '__complete', 'pipelines', '--config', "
        f"{str(config)!r}]\n"
        "from kondado_tui.cli import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'textual', 'rich')"
        " or m.startswith('kondado_tui.core.api')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_complete_through_main_gives_the_same(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["__complete", "pipelines", "--config", str(config), "--", "31"]) == 0
    assert capsys.readouterr().out == "3100\n"


def test_run_complete_answers_a_closed_pipe(config: Path) -> None:
    class Closed:
        def write(self, text: str) -> int:
            raise BrokenPipeError

        def flush(self) -> None:
            raise BrokenPipeError

    assert run_complete(["pipelines", "--config", str(config)], out=Closed()) == 0  # type: ignore[arg-type]


# -- fish ------------------------------------------------------------------------------


def _fish(script: Path, line: str) -> list[str]:
    done = subprocess.run(
        ["fish", "--no-config", "-c", f"source {script}; complete -C {scripts.quote(line)}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": f"{Path(PROG).parent}:/usr/bin:/bin", "HOME": str(script.parent)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.fixture
def fish_script(tmp_path: Path) -> Path:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (apt-get install fish)")
    return _script("fish", tmp_path)


def test_fish_completes_commands_options_and_pipelines(fish_script: Path, config: Path) -> None:
    commands = [line.split("\t")[0] for line in _fish(fish_script, "kondado-tui ")]
    assert {"status", "run", "history", "completion"} <= set(commands)
    options = [line.split("\t")[0] for line in _fish(fish_script, "kondado-tui status --")]
    assert {"--json", "--max-age", "--config"} <= set(options)
    assert _fish(fish_script, f"kondado-tui --config {config} run ") == [
        "2040\tShopify orders → BigQuery",
        "2071\tPostgres events",
        "3100\tGA4 sessions",
    ]
    assert _fish(fish_script, f"kondado-tui run --config {config} 2040 ") == []
    assert len(_fish(fish_script, f"kondado-tui status --config={config} 2040 ")) == 3
    since = [line.split("\t")[0] for line in _fish(fish_script, "kondado-tui history --since ")]
    assert sorted(since) == ["1h", "24h", "7d", "all"]


def test_fish_with_a_hostile_name(fish_script: Path, tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    config = _config(tmp_path / "c.toml", [(1, HOSTILE.format(marker=marker))])
    (line,) = _fish(fish_script, f"kondado-tui --config {config} run ")
    assert line.startswith("1\tevil ") and "\x1b" not in line
    assert not marker.exists()


# -- zsh -------------------------------------------------------------------------------

ZSH_DRIVER = r"""
compdef() { : }
_describe() { local name=$4; print -rl -- "${(@P)name}" }
compadd() { local name=$2; print -rl -- "${(@P)name}" }
_files() { print -r -- FILES }
compset() { PREFIX=${PREFIX#*=} }
source $1; shift
words=("$@"); CURRENT=$#words; PREFIX=$words[-1]
_kondado_tui
"""


def _zsh(script: Path, *words: str) -> list[str]:
    done = subprocess.run(
        ["zsh", "-f", "-c", ZSH_DRIVER, "driver", str(script), PROG, *words],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stderr == "", done.stderr
    return done.stdout.splitlines()


@pytest.fixture
def zsh_script(tmp_path: Path) -> Path:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (apt-get install zsh)")
    return _script("zsh", tmp_path)


def test_zsh_completes_commands_options_and_pipelines(zsh_script: Path, config: Path) -> None:
    assert "status:print the status of pipelines (for scripts and cron)" in _zsh(zsh_script, "")
    assert (
        "--max-age:reuse observations younger than this (e.g. 5m) made by any process on this host"
        in _zsh(zsh_script, "status", "--")
    )
    assert _zsh(zsh_script, "--config", str(config), "run", "") == [
        "2040:Shopify orders → BigQuery",
        "2071:Postgres events",
        "3100:GA4 sessions",
    ]
    assert _zsh(zsh_script, "status", f"--config={config}", "post") == ["2071:Postgres events"]
    assert _zsh(zsh_script, "history", "--since=") == ["1h", "24h", "7d", "all"]
    assert _zsh(zsh_script, "history", "--since", "") == ["1h", "24h", "7d", "all"]
    assert _zsh(zsh_script, "--config", "") == ["FILES"]
    assert _zsh(zsh_script, "completion", "") == ["bash", "zsh", "fish"]


def test_zsh_with_a_hostile_name(zsh_script: Path, tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    config = _config(tmp_path / "c.toml", [(1, HOSTILE.format(marker=marker))])
    (line,) = _zsh(zsh_script, "--config", str(config), "run", "")
    assert line.startswith("1:evil ") and "\x1b" not in line
    assert not marker.exists()


def test_argparse_namespace_is_untouched_by_marks() -> None:
    """The marks live on the actions: parsing gives the same values as without them."""
    args = build_parser().parse_args(["history", "2040", "--since", "all"])
    assert isinstance(args, argparse.Namespace)
    assert args.pipeline == 2040 and args.since.seconds is None
