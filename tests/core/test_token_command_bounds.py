"""token_command's output is outside input: one bounded line, never waited for to end,
the command's whole process group ended, never shown."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from hostile_corpus import unsafe

from kondado_tui.core.config import token_command
from kondado_tui.core.config.validation import Reader
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.guards.limits import MAX_TOKEN_LINE


def run(tmp_path: Path, script: str) -> str:
    helper = tmp_path / "token.sh"
    helper.write_text("#!/bin/sh\n" + script + "\n")
    helper.chmod(0o700)
    reader = Reader(tmp_path / "config.toml", f'token_command = "{helper}"\n')
    env: Mapping[str, str] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return token_command.run_token_command(reader, str(helper), env)


def refused(tmp_path: Path, script: str) -> str:
    with pytest.raises(ConfigError) as error:
        run(tmp_path, script)
    message = str(error.value)
    assert unsafe(message) == []
    return message


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status != "Z"  # a zombie is gone, only not reaped by its (gone) parent


def test_endless_output_without_a_line_break_is_read_no_further_than_the_limit(
    tmp_path: Path,
) -> None:
    counter = tmp_path / "written"
    # Writes 1 KiB at a time and notes each one the pipe took, until it is stopped.
    script = f"while true; do head -c 1024 /dev/zero | tr '\\0' x || exit; echo >> {counter}; done"
    message = refused(tmp_path, script)
    assert "more than 4 KiB without a line break" in message and "it was stopped" in message
    written_kib = counter.read_text().count("\n") if counter.exists() else 0
    # what we read (4 KiB) plus what the pipe could hold before the command was stopped
    assert MAX_TOKEN_LINE <= written_kib * 1024 <= MAX_TOKEN_LINE + 128 * 1024, written_kib


def test_a_line_then_endless_output_gives_the_line_and_stops_the_command(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pid"
    assert run(tmp_path, f"echo $$ > {pidfile}; echo the-token; exec yes") == "the-token"
    assert not _alive(int(pidfile.read_text()))


def test_a_child_holding_the_output_does_not_keep_us_waiting_and_is_ended(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "child"
    script = f"echo the-token; (sleep 300; echo late) & echo $! > {pidfile}"
    assert run(tmp_path, script) == "the-token"
    for _ in range(50):  # the group is killed as we return; the kernel may lag a tick
        if not _alive(int(pidfile.read_text())):
            break
        time.sleep(0.02)
    assert not _alive(int(pidfile.read_text()))


def test_what_the_command_printed_is_never_shown(tmp_path: Path) -> None:
    message = refused(tmp_path, "printf 'SECRET-LOOKING\\033]52;c;cHduZWQ=\\007\\n'")
    assert "control characters" in message and "SECRET-LOOKING" not in message
    message = refused(tmp_path, "echo SECRET-LOOKING; echo 'it failed' >&2; exit 4")
    assert "failed (exit 4): it failed" in message and "SECRET-LOOKING" not in message


def test_error_output_is_kept_short_and_clean(tmp_path: Path) -> None:
    message = refused(tmp_path, "printf '\\033]0;title\\007 %.0s' $(seq 1 5000) >&2; exit 1")
    assert "\x1b" not in message and len(message) < 600
