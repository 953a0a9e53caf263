"""The log file: what happened while nobody was looking, for something that runs for days.

- Where: `--log-file PATH`, else `[log] path`, else `<state dir>/log/kondado-tui.log`.
  On by default: an unexpected error's traceback is never shown on screen, so it must be
  kept somewhere the message can point at; a dashboard left open for days needs a record
  of what happened at 3 a.m. `[log] level = "off"` turns it off.
- Rotated at 1 MiB, three old files kept (4 MiB at most). Several processes (dashboards
  in other panes, cron jobs) may write to it: each line names its process, and a
  process notices when another one rotated the file and follows it.
- Mode 0600, in a directory created 0700. Every line is redacted (never the token, nor
  the key of a URL) and cleaned (no escape sequence reaches a terminal that `cat`s it),
  tracebacks included.
- httpx and httpcore (whose lines hold URLs) are kept out below WARNING unless `--debug`.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import stat
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kondado_tui.core import paths
from kondado_tui.core.config.model import LogSettings
from kondado_tui.core.guards.redact import install_log_redaction
from kondado_tui.core.guards.sanitize import clean

LOG_DIRNAME = "log"
LOG_FILENAME = "kondado-tui.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 3
FILE_MODE = 0o600
DIR_MODE = 0o700
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
NOISY = ("httpx", "httpcore")  # request lines: URLs, only with --debug
LINE_FORMAT = "%(asctime)s %(process)d {what} %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # local time with its offset: a shared log is unambiguous


def default_log_path(env: Mapping[str, str] | None = None) -> Path:
    return paths.default_state_dir(env) / LOG_DIRNAME / LOG_FILENAME


@dataclass(frozen=True)
class LogPlan:
    """Where the log goes and how much of it: `path` None means no log file."""

    path: Path | None
    level: int = logging.INFO
    debug: bool = False  # library request lines too
    why_none: str = ""  # when path is None: why (for the messages that point at the log)


def plan_for(
    settings: LogSettings | None = None,
    *,
    log_file: Path | None = None,
    debug: bool = False,
    env: Mapping[str, str] | None = None,
) -> LogPlan:
    """Precedence: `--log-file` > `[log] path` > the default; `--debug` > `[log] level`."""
    settings = settings or LogSettings()
    level = "debug" if debug else settings.level
    path = log_file or settings.path
    if level == "off" and log_file is None:
        return LogPlan(None, why_none='the log file is off ([log] level = "off")')
    return LogPlan(
        paths.expand(path, env) if path else default_log_path(env),
        LEVELS.get(level, logging.INFO),
        debug=debug,
    )


class RedactingFormatter(logging.Formatter):
    """The whole formatted record, traceback included, redacted and cleaned: the record
    factory redacts messages only, and a traceback repeats exception texts (URLs)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_line(super().format(record))


def mask_line(text: str) -> str:
    """`clean` masks the token in every form and a URL's `key=` (not the secret, but not
    for a bug report either): the one redaction, for the log file too."""
    return clean(text)


class _Quieter(logging.Filter):
    """Library request lines below WARNING stay out unless asked for (`--debug`)."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if self.debug or record.levelno >= logging.WARNING:
            return True
        return not record.name.startswith(NOISY)


class SharedRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rotation that several processes can live with, and a file only its owner reads.

    Before each line, a process checks that the path still names the file it has open;
    when another process rotated it, it reopens the new one instead of writing into the
    rotated file (and rotating that one again)."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
                os.fchmod(fd, FILE_MODE)  # ours, but loosened (or made by an older version)
        except OSError:
            pass
        return open(fd, "a", encoding="utf-8", errors="replace")

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is not None and self._moved():
            self.stream.close()
            self.stream = None
        super().emit(record)

    def _moved(self) -> bool:
        if self.stream is None:
            return False
        try:
            on_disk = os.stat(self.baseFilename)
            mine = os.fstat(self.stream.fileno())
        except (OSError, ValueError):
            return True
        return (on_disk.st_dev, on_disk.st_ino) != (mine.st_dev, mine.st_ino)


@dataclass
class _State:
    handler: logging.Handler | None = None
    path: Path | None = None
    problem: str = ""  # why the log file could not be opened ("" when fine)
    why_none: str = ""


_state = _State()


def start(plan: LogPlan, what: str) -> str:
    """Log to the planned file from now on (replacing an earlier start). Returns a
    problem to tell the user ("" when fine); a log that cannot be opened never stops
    the program. `what`: the command or "dashboard", written on each line."""
    install_log_redaction()
    stop()
    if plan.path is None:
        _state.why_none = plan.why_none
        return ""
    path = plan.path
    try:
        _make_dir(path.parent)
        handler = SharedRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=False
        )
    except OSError as exc:
        _state.problem = f"cannot write the log file {path} ({exc.strerror or exc})"
        _state.path = path
        return _state.problem
    handler.setLevel(plan.level)
    handler.setFormatter(RedactingFormatter(LINE_FORMAT.format(what=_word(what)), DATE_FORMAT))
    handler.addFilter(_Quieter(plan.debug))
    logging.getLogger().addHandler(handler)
    ours = logging.getLogger("kondado_tui")
    if ours.level == logging.NOTSET or ours.level > plan.level:
        ours.setLevel(plan.level)  # records below the root's WARNING must reach the file
    if plan.debug:
        for name in NOISY:
            logging.getLogger(name).setLevel(logging.DEBUG)
    _state.handler, _state.path = handler, path
    return ""


def stop() -> None:
    """Close the log file (tests; a new start)."""
    handler = _state.handler
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()
    for name in ("kondado_tui", *NOISY):
        logging.getLogger(name).setLevel(logging.NOTSET)
    _state.handler, _state.path, _state.problem, _state.why_none = None, None, "", ""


def current_path() -> Path | None:
    """The log file being written (None: none)."""
    return _state.path if _state.handler is not None else None


def log_unexpected(exc: BaseException, what: str) -> str:
    """Write an unexpected error's traceback to the log (opening the default one if no
    log was started yet) and say where, as words to end a message with: "; details in
    PATH" or why they were not kept. Never raises; never shows the traceback."""
    if _state.handler is None and not _state.why_none and not _state.problem:
        start(plan_for(), what)
    handler = _state.handler
    if handler is None:
        why = _state.problem or _state.why_none or "no log file"
        return f" (no details were kept: {why})"
    try:
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        logging.getLogger("kondado_tui.crash").error(
            "unexpected error in %s: %s\n%s", _word(what), type(exc).__name__, detail.rstrip()
        )
        handler.flush()
    except Exception as again:  # the log itself failing must not hide the first error
        return f" (its details could not be logged: {type(again).__name__})"
    return f"; the details are in {_state.path}"


def _word(what: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in what) or "kondado-tui"


def _make_dir(directory: Path) -> None:
    """Create the log's directory 0700. An existing directory is left as it is (it may
    be a user's own), except our default one, which is tightened."""
    try:
        directory.mkdir(parents=True, exist_ok=False, mode=DIR_MODE)
    except FileExistsError:
        if directory.name == LOG_DIRNAME and directory.parent.name == paths.APP_NAME:
            info = directory.stat()
            if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
                directory.chmod(DIR_MODE)


def unexpected_message(exc: BaseException, what: str, doing: str) -> str:
    """What a user reads about a bug: one line of what happened, and where its traceback
    went (the log; never the screen). `doing`: what to report ("the command you ran")."""
    where = log_unexpected(exc, what)
    text = " ".join(mask_line(str(exc)).split())  # it is pasted into bug reports too
    return (
        f"kondado-tui: unexpected {type(exc).__name__}: {text}\n"
        f"This is a bug: please report it with {doing}{where} "
        "('kondado-tui info' prints the versions and settings to include)."
    )
