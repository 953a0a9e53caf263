"""The alert command, run for real against a script that records its calls: what it
receives (variables, JSON on stdin, nothing else), never the token, hostile text
cleaned, its failures reported, the timeout killing its whole group, the rate cap."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kondado_tui.core.alerts.command import AlertCommand, execute
from kondado_tui.core.alerts.payload import Delivery
from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import AlertSettings
from kondado_tui.core.errors import FailureKind
from kondado_tui.core.events import (
    Alert,
    AlertKind,
    AlertNotice,
    AlertOutcome,
    PipelineFailed,
    Refusal,
)
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.models import status_kind

TOKEN = "SEEDED-alert-T0KEN-4f9a1c"
T0 = 1_790_000_000.0

RECORDER = """\
import json, os, sys
out = sys.argv[1]
calls = sorted(os.listdir(out))
record = {
    "argv": sys.argv[2:],
    "env": dict(os.environ),
    "stdin": sys.stdin.read(),
    "tty": os.isatty(0),
    "sid": os.getsid(0) == os.getpid(),
}
with open(os.path.join(out, f"call-{len(calls):03d}.json"), "w") as f:
    json.dump(record, f)
sys.exit(int(os.environ.get("EXIT_WITH", "0") or 0))
"""


def recorder(tmp_path: Path) -> tuple[tuple[str, ...], Path]:
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    calls = tmp_path / "calls"
    calls.mkdir()
    return (sys.executable, str(script), str(calls), "--channel", "data"), calls


def recorded(calls: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(calls.iterdir())]


def alert(
    pid: int = 2040,
    status: str = "error_building_tables",
    raw_msg: str | None = "could not connect to the destination",
    kind: AlertKind = AlertKind.TROUBLE,
    at: float = T0,
    name: str = "Orders to warehouse",
    group: str | None = "ecommerce",
) -> Alert:
    return Alert(kind, pid, name, group, status_kind(status), raw_msg, at)


def settings(command: tuple[str, ...], **changes: Any) -> AlertSettings:
    return AlertSettings(command=command, **changes)


class Notices(list[AlertNotice]):
    def outcomes(self) -> list[AlertOutcome]:
        return [n.outcome for n in self]


async def settle(command: AlertCommand) -> None:
    """Until every run started so far has ended (and the held ones that were due)."""
    for _ in range(400):
        timer = command._timer
        if not command._tasks and (timer is None or timer.done()):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the alert command did not settle")


PARENT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent-home",
    "LANG": "C.UTF-8",
    "TZ": "UTC",
    "KONDADO_TOKEN": TOKEN,
    "KONDADO_KEY": "KEY-77",
    "AWS_SECRET_ACCESS_KEY": "do-not-pass",
    "HTTPS_PROXY": "http://proxy:3128",
}


async def test_the_command_gets_variables_and_json_and_nothing_else(tmp_path: Path) -> None:
    argv, calls = recorder(tmp_path)
    notices = Notices()
    command = AlertCommand(
        settings(argv, pass_env=("HTTPS_PROXY",)),
        clock=ManualClock(T0),
        report=notices.append,
        env=PARENT_ENV,
        host="jump01",
    )
    command.submit(alert())
    await settle(command)
    [call] = recorded(calls)
    assert call["argv"] == ["--channel", "data"]  # no shell: the words as written
    env = call["env"]
    assert env["KONDADO_ALERT_KIND"] == "trouble"
    assert env["KONDADO_PIPELINE_ID"] == "2040"
    assert env["KONDADO_PIPELINE_NAME"] == "Orders to warehouse"
    assert env["KONDADO_PIPELINE_GROUP"] == "ecommerce"
    assert env["KONDADO_PIPELINE_STATUS"] == "error_building_tables"
    assert env["KONDADO_PIPELINE_STATUS_LABEL"] == "error building tables"
    assert env["KONDADO_PIPELINE_MESSAGE"] == "could not connect to the destination"
    assert env["KONDADO_PIPELINE_URL"] == "https://app.kondado.com.br/pipelines/2040"
    assert env["KONDADO_ALERT_TIME"] == "2026-09-21T14:13:20Z"
    assert env["KONDADO_ALERT_EPOCH"] == str(int(T0))
    assert env["KONDADO_ALERT_HOST"] == "jump01"
    assert env["KONDADO_ALERT_COUNT"] == "1" and env["KONDADO_ALERT_TEST"] == "0"
    assert env["KONDADO_ALERT_TEXT"] == (
        "[jump01] Orders to warehouse (2040): error building tables: could not connect "
        "to the destination - https://app.kondado.com.br/pipelines/2040"
    )
    # a minimal environment: ours, the harmless basics and pass_env; never key or token
    ours = {k for k in env if k.startswith("KONDADO_")}
    assert set(env) - ours <= {"PATH", "HOME", "LANG", "TZ", "HTTPS_PROXY"} | {"LC_CTYPE"}
    assert "KONDADO_TOKEN" not in env and "KONDADO_KEY" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["HTTPS_PROXY"] == "http://proxy:3128"
    assert TOKEN not in json.dumps(call)
    payload = json.loads(call["stdin"])
    assert payload["kind"] == "trouble" and payload["name"] == "Orders to warehouse"
    assert payload["status"] == "error_building_tables" and payload["pipeline_id"] == 2040
    assert payload["text"] == env["KONDADO_ALERT_TEXT"]
    assert payload["alerts"] == [
        {
            "kind": "trouble",
            "pipeline_id": 2040,
            "name": "Orders to warehouse",
            "group": "ecommerce",
            "status": "error_building_tables",
            "status_label": "error building tables",
            "message": "could not connect to the destination",
            "app_url": "https://app.kondado.com.br/pipelines/2040",
            "time": "2026-09-21T14:13:20Z",
        }
    ]
    # no terminal to draw on or prompt from: a session of its own
    assert call["tty"] is False and call["sid"] is True
    assert notices.outcomes() == [AlertOutcome.SENT]
    assert "Orders to warehouse (2040)" in notices[0].message


async def test_recovery_only_when_asked(tmp_path: Path) -> None:
    argv, calls = recorder(tmp_path)
    quiet = AlertCommand(settings(argv), clock=ManualClock(T0), env=PARENT_ENV)
    quiet.submit(alert(status="active", raw_msg=None, kind=AlertKind.RECOVERED))
    await settle(quiet)
    assert recorded(calls) == []
    told = AlertCommand(settings(argv, on_recovery=True), clock=ManualClock(T0), env=PARENT_ENV)
    told.submit(alert(status="active", raw_msg=None, kind=AlertKind.RECOVERED))
    await settle(told)
    [call] = recorded(calls)
    assert call["env"]["KONDADO_ALERT_KIND"] == "recovered"
    assert "Orders to warehouse (2040) recovered: active" in call["env"]["KONDADO_ALERT_TEXT"]


async def test_hostile_raw_msg_and_names_are_cleaned_and_the_token_redacted(
    tmp_path: Path,
) -> None:
    register_secret(TOKEN)
    argv, calls = recorder(tmp_path)
    command = AlertCommand(settings(argv), clock=ManualClock(T0), env=PARENT_ENV, host="h")
    hostile = (
        f"\x1b]52;c;ZXZpbA==\x07boom\x1b[2J at https://x/?key=k&token={TOKEN}\x00 \x9b31m"
        "\nsecond line $(rm -rf ~) `reboot`"
    )
    command.submit(alert(raw_msg=hostile, name="evil\x1b[31mname\ud800", group="g\x07"))
    await settle(command)
    [call] = recorded(calls)
    everything = json.dumps(call, ensure_ascii=False)
    assert TOKEN not in everything
    for bad in ("\x1b", "\x07", "\x00", "\x9b", "\ud800"):
        assert bad not in everything
    env = call["env"]
    message = env["KONDADO_PIPELINE_MESSAGE"]
    assert message.startswith("boom at https://x/?key=") and "&token=***" in message
    assert "second line" not in message  # the first line only
    # the lone surrogate is replaced by a visible mark ('?' or U+FFFD), never passed on
    assert env["KONDADO_PIPELINE_NAME"] in ("evilname?", "evilname\ufffd")
    assert json.loads(call["stdin"])["message"] == message
    assert "\n" not in env["KONDADO_ALERT_TEXT"]


async def test_a_refusal_alert_names_the_refusal(tmp_path: Path) -> None:
    argv, calls = recorder(tmp_path)
    command = AlertCommand(settings(argv), clock=ManualClock(T0), env=PARENT_ENV)
    refused = PipelineFailed(2040, FailureKind.REJECTED, "gone", T0, refusal=Refusal.NOT_FOUND)
    assert refused.refusal is not None
    command.submit(Alert(AlertKind.TROUBLE, 2040, "x", None, refused.refusal.kind, "gone", T0))
    await settle(command)
    [call] = recorded(calls)
    assert call["env"]["KONDADO_PIPELINE_STATUS"] == "not found"
    assert call["env"]["KONDADO_PIPELINE_GROUP"] == ""


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (
            lambda tmp: ("/nonexistent/kondado-alert",),
            "program /nonexistent/kondado-alert not found",
        ),
        (lambda tmp: ("kondado-alert-nowhere",), "not found in PATH (no shell is used)"),
        (lambda tmp: (str(tmp / "plain.txt"),), "is not executable"),
        (
            lambda tmp: ("/bin/sh", "-c", "echo 'curl: (6) Could not resolve host' >&2; exit 6"),
            "/bin/sh failed (exit 6): curl: (6) Could not resolve host",
        ),
    ],
    ids=["missing", "not-in-path", "not-executable", "exit-6"],
)
async def test_failures_are_reported(tmp_path: Path, make: Any, words: str) -> None:
    (tmp_path / "plain.txt").write_text("not a program")
    notices = Notices()
    command = AlertCommand(
        settings(make(tmp_path)), clock=ManualClock(T0), report=notices.append, env=PARENT_ENV
    )
    command.submit(alert())
    await settle(command)
    assert notices.outcomes() == [AlertOutcome.FAILED]
    assert words in notices[0].message
    assert notices[0].message.startswith("alert command failed for Orders to warehouse (2040)")
    assert command.failures == 1


async def test_the_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! > {pids}; echo $$ >> {pids}; wait"
    notices = Notices()
    command = AlertCommand(
        settings(("/bin/sh", "-c", script), timeout=0.5),
        clock=ManualClock(T0),
        report=notices.append,
        env=PARENT_ENV,
    )
    started = time.monotonic()
    command.submit(alert())
    await settle(command)
    assert time.monotonic() - started < 5
    assert notices.outcomes() == [AlertOutcome.FAILED]
    assert "did not finish within 0.5 s: its process group was killed" in notices[0].message
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), f"process {pid} of the command's group survived"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie is dead, only not reaped by its parent


async def test_something_left_running_does_not_hold_the_run(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    result = await execute(
        ("/bin/sh", "-c", f"sleep 60 & echo $! > {pids}; echo sent >&2"),
        PARENT_ENV,
        b"{}",
        10.0,
    )
    assert result.ok and result.stderr == "sent" and result.seconds < 5
    assert not _alive(int(pids.read_text()))


async def test_a_command_that_reads_no_stdin_and_a_big_summary(tmp_path: Path) -> None:
    many = Delivery(tuple(alert(pid=i, raw_msg="x" * 300) for i in range(1, 400)), held=399)
    command = AlertCommand(settings(("/bin/true",)), clock=ManualClock(T0), env=PARENT_ENV)
    result = await command.send(many)
    assert result.ok


async def test_the_rate_cap_holds_then_sends_one_summary(tmp_path: Path) -> None:
    argv, calls = recorder(tmp_path)
    clock = ManualClock(T0)  # its sleep moves virtual time: the held run goes out at once
    notices = Notices()
    command = AlertCommand(
        settings(argv, max_per_minute=2, repeat_minutes=0),
        clock=clock,
        report=notices.append,
        env=PARENT_ENV,
        host="h",
    )
    for pid in (1, 2, 3, 4, 5):
        command.submit(alert(pid=pid, name=f"p{pid}", at=clock.now()))
    await settle(command)
    runs = recorded(calls)
    assert [r["env"]["KONDADO_ALERT_KIND"] for r in runs] == ["trouble", "trouble", "summary"]
    summary = runs[2]
    assert summary["env"]["KONDADO_ALERT_COUNT"] == "3"
    assert summary["env"]["KONDADO_ALERT_HELD"] == "3"
    assert summary["env"]["KONDADO_PIPELINE_ID"] == ""
    text = summary["env"]["KONDADO_ALERT_TEXT"]
    assert text.startswith(
        "[h] 3 alerts held back (at most 2 runs a minute), the latest of 3 pipelines: "
        "p3 (3): error building tables: could not connect to the destination; p4 (4): "
    )
    assert [a["pipeline_id"] for a in json.loads(summary["stdin"])["alerts"]] == [3, 4, 5]
    assert clock.now() >= T0 + 60  # not before the minute was over
    held = [n for n in notices if n.outcome is AlertOutcome.HELD]
    assert len(held) == 1 and "([alerts] max_per_minute)" in held[0].message


async def test_a_command_spewing_on_stderr_fills_nothing(tmp_path: Path) -> None:
    """Its stderr is read as it comes: the first lines kept, the rest (50 MB) dropped."""
    spew = "import sys\nfor _ in range(50_000): sys.stderr.write('e' * 999 + '\\n')\n"
    result = await execute((sys.executable, "-c", spew), PARENT_ENV, b"{}", 30.0)
    assert result.ok and len(result.stderr) <= 200 and result.stderr.startswith("eee")
