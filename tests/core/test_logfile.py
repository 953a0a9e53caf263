"""The log file: where it goes, its modes, rotation shared by processes, every line
redacted and cleaned (tracebacks too), library request lines only with --debug."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kondado_tui.core import logfile
from kondado_tui.core.config import LogSettings
from kondado_tui.core.guards.redact import register_secret

TOKEN = "SEEDED-log-T0KEN-6e2d90"


def lines(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_where_the_log_goes(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path / "home")}
    default = logfile.plan_for(env=env)
    assert default.path == tmp_path / "state" / "kondado-tui" / "log" / "kondado-tui.log"
    assert default.level == logging.INFO and not default.debug
    configured = logfile.plan_for(LogSettings(path=Path("~/k.log"), level="warning"), env=env)
    assert configured.path == tmp_path / "home" / "k.log"
    assert configured.level == logging.WARNING
    given = logfile.plan_for(
        LogSettings(path=tmp_path / "x.log"), log_file=tmp_path / "y.log", debug=True, env=env
    )
    assert given.path == tmp_path / "y.log" and given.level == logging.DEBUG and given.debug
    off = logfile.plan_for(LogSettings(level="off"), env=env)
    assert off.path is None and '[log] level = "off"' in off.why_none
    # --log-file wins over "off": the user asked for a file on this run
    assert logfile.plan_for(LogSettings(level="off"), log_file=tmp_path / "z.log").path


def test_mode_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kondado-tui" / "log" / "kondado-tui.log"
    path.parent.mkdir(parents=True, mode=0o755)  # an older, looser directory of ours
    path.parent.chmod(0o755)
    assert logfile.start(logfile.LogPlan(path), "test") == ""
    logging.getLogger("kondado_tui.test").info("hello")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "hello" in lines(path) and f" {os.getpid()} test INFO kondado_tui.test: " in lines(path)
    own = tmp_path / "mine" / "deeper" / "k.log"
    logfile.start(logfile.LogPlan(own), "test")
    assert stat.S_IMODE(own.parent.stat().st_mode) == 0o700


def test_an_unwritable_log_is_a_note_never_a_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    problem = logfile.start(logfile.LogPlan(blocker / "sub" / "k.log"), "test")
    assert problem.startswith(f"cannot write the log file {blocker / 'sub' / 'k.log'}")
    logging.getLogger("kondado_tui.test").warning("nowhere to go")  # must not raise
    assert logfile.current_path() is None


def test_token_and_key_are_masked_and_escapes_removed_tracebacks_too(tmp_path: Path) -> None:
    register_secret(TOKEN)
    path = tmp_path / "k.log"
    logfile.start(logfile.LogPlan(path), "test")
    log = logging.getLogger("kondado_tui.test")
    log.warning("GET https://api/x?key=KEY-123&token=%s \x1b]52;c;ZXZpbA==\x07 done", TOKEN)
    try:
        raise RuntimeError(f"failed https://api/x?key=KEY-123&token={TOKEN}\x1b[2J")
    except RuntimeError:
        log.exception("it broke")
    text = lines(path)
    assert TOKEN not in text and "KEY-123" not in text
    assert "key=***&token=***" in text
    assert "\x1b" not in text and "\x07" not in text
    assert "Traceback (most recent call last)" in text and "RuntimeError: failed" in text


def test_library_request_lines_only_with_debug(tmp_path: Path) -> None:
    path = tmp_path / "k.log"
    logfile.start(logfile.LogPlan(path, logging.DEBUG), "test")
    logging.getLogger("httpx").info("HTTP Request: GET https://api/?token=x")
    logging.getLogger("httpx").warning("a library warning")
    logging.getLogger("kondado_tui.test").debug("ours at debug")
    text = lines(path)
    assert "HTTP Request" not in text and "a library warning" in text
    assert "ours at debug" in text
    logfile.start(logfile.LogPlan(path, logging.DEBUG, debug=True), "test")
    logging.getLogger("httpx").info("HTTP Request: GET https://api/?token=x")
    assert "HTTP Request: GET https://api/?token=***" in lines(path)


def test_the_level_keeps_lower_lines_out(tmp_path: Path) -> None:
    path = tmp_path / "k.log"
    logfile.start(logfile.LogPlan(path, logging.WARNING), "test")
    logging.getLogger("kondado_tui.test").info("not this")
    logging.getLogger("kondado_tui.test").warning("this")
    assert "not this" not in lines(path) and "this" in lines(path)


def test_rotation_keeps_three_files_and_follows_another_process(tmp_path: Path) -> None:
    path = tmp_path / "k.log"
    logfile.start(logfile.LogPlan(path), "test")
    log = logging.getLogger("kondado_tui.test")
    # another process writes enough to rotate the file under us
    writer = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from kondado_tui.core import logfile\n"
        "logfile.start(logfile.LogPlan(Path(sys.argv[1])), 'other')\n"
        "log = logging.getLogger('kondado_tui.x')\n"
        "for i in range(12000): log.info('other %05d ' + 'x' * 300, i)\n"
    )
    subprocess.run([sys.executable, "-c", writer, str(path)], check=True)
    log.info("after the other process rotated")
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["k.log", "k.log.1", "k.log.2", "k.log.3"]
    assert all((tmp_path / name).stat().st_size <= logfile.MAX_BYTES for name in rotated)
    # our line went to the current file, not into a rotated one
    assert "after the other process rotated" in lines(path)
    assert all(stat.S_IMODE((tmp_path / n).stat().st_mode) == 0o600 for n in rotated)


def test_an_unexpected_error_lands_in_the_log_with_where(tmp_path: Path) -> None:
    """No log started yet: the default one (in the state dir) is opened for it."""
    register_secret(TOKEN)
    try:
        raise KeyError(f"https://api/?token={TOKEN}")
    except KeyError as exc:
        message = logfile.unexpected_message(exc, "status", "the command you ran")
    path = tmp_path / "state" / "kondado-tui" / "log" / "kondado-tui.log"
    assert f"the details are in {path}" in message and TOKEN not in message
    assert "Traceback" not in message
    text = lines(path)
    assert "unexpected error in status: KeyError" in text and "Traceback" in text
    assert TOKEN not in text


def test_with_the_log_off_the_message_says_no_details_were_kept(tmp_path: Path) -> None:
    logfile.start(logfile.plan_for(LogSettings(level="off")), "status")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        message = logfile.unexpected_message(exc, "status", "the command you ran")
    assert 'no details were kept: the log file is off ([log] level = "off")' in message
    assert not (tmp_path / "state").exists()


@pytest.fixture(autouse=True)
def _stopped() -> None:
    logfile.stop()
