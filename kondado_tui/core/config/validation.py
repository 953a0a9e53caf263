"""What may be written in a config file, and the check of a parsed document against it:
every mistake becomes one `ConfigError` naming the file, the line, the key and the fix."""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kondado_tui.core import paths
from kondado_tui.core.api import DEFAULT_BASE_URL
from kondado_tui.core.config.arrays import LayoutError, top_level_array
from kondado_tui.core.config.keys import ACTIONS, key_fix, key_problem
from kondado_tui.core.config.model import (
    ENV_KEY,
    ENV_TOKEN,
    LOG_LEVELS,
    MAX_PIPELINE_ID,
    MAX_REQUESTS_PER_MINUTE,
    PipelineEntry,
)
from kondado_tui.core.config.scanner import line_of, scan
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.guards.sanitize import clean

# -- the schema ------------------------------------------------------------------------

# key -> (kind, example value as it is written in the file)
_Schema = dict[str, tuple[str, str]]
_API: _Schema = {
    "base_url": ("str", f'"{DEFAULT_BASE_URL}"'),
    "key": ("str", '"your-key-id"'),
    "token": ("str", '"your-token"'),
    "token_command": ("str", '"pass show kondado/token"'),
    "requests_per_minute": ("int", "18"),
    "timeout": ("number", "10"),
    "ledger": ("str", '"/srv/shared/kondado-ledger.sqlite3"'),
}
_UI: _Schema = {
    "read_only": ("bool", "false"),
    "bell": ("bool", "true"),
    "desktop_notify": ("bool", "false"),
    "theme": ("str", '"textual-dark"'),
}
_HISTORY: _Schema = {
    "path": ("str", '"~/kondado-history.sqlite3"'),
    "retention_days": ("number", "30"),
    "max_rows_per_pipeline": ("int", "2000"),
}
_ALERTS: _Schema = {
    "command": ("words", '["/usr/local/bin/kondado-alert", "--channel", "data"]'),
    "on_recovery": ("bool", "false"),
    "timeout": ("number", "10"),
    "max_per_minute": ("int", "6"),
    "repeat_minutes": ("number", "10"),
    "pass_env": ("words", '["HTTPS_PROXY", "NO_PROXY"]'),
}
_LOG: _Schema = {
    "path": ("str", '"~/kondado-tui.log"'),
    "level": ("str", '"info"'),
}
_PIPELINE: _Schema = {
    "id": ("int", "2040"),
    "name": ("str", '"Orders to warehouse"'),
    "group": ("str", '"ecommerce"'),
}
_KEYS: _Schema = {action: ("str", '"ctrl+r"') for action in ACTIONS}
_TABLES: dict[str, _Schema] = {
    "api": _API,
    "ui": _UI,
    "history": _HISTORY,
    "alerts": _ALERTS,
    "log": _LOG,
    "keys": _KEYS,
}
_TOP_LEVEL = ("api", "ui", "history", "alerts", "log", "keys", "pipelines")
_KIND_WORDS = {
    "words": "an array of strings",
    "str": "a string in quotes",
    "int": "a whole number",
    "number": "a number",
    "bool": "true or false",
}


def _describe(value: Any) -> str:
    """What a TOML value is, in words (never the value: it may be a secret)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return "a date/time"


def _fits(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "words":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, str)


class Reader:
    """Validates one parsed document; knows the file and its text to point at lines."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.lines = scan(text)

    def error(self, key: str, problem: str, fix: str, index: int | None = None) -> ConfigError:
        line = line_of(self.lines, key, index)
        if line is None and index is not None:
            line = self._inline_entry_line(index)
        where = f"{self.path}:{line}" if line else str(self.path)
        shown = key
        if index is not None:  # name the entry: pipelines[2].id
            shown = f"pipelines[{index + 1}]" + key.removeprefix("pipelines")
        return ConfigError(f"{where}: {shown}: {problem}; {fix}")

    def _inline_entry_line(self, index: int) -> int | None:
        """The line of the index-th element of `pipelines = [...]`, when written so."""
        try:
            array = top_level_array(self.text, self.lines, "pipelines")
        except LayoutError:
            return None
        if array is None or index >= len(array.elements):
            return None
        return self.text.count("\n", 0, array.elements[index].start) + 1

    def unknown(
        self, key: str, valid: list[str], table: str, index: int | None = None
    ) -> ConfigError:
        full = f"{table}.{key}" if table else key
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        elsewhere = [t for t, schema in _TABLES.items() if key in schema and t != table]
        if close:
            fix = f"did you mean '{close[0]}'?"
        elif key == "pipelines" and table in _TABLES:
            fix = (
                f"a key below [{table}] belongs to that table: move 'pipelines = [...]' "
                "above the first [table] line, or write [[pipelines]] entries"
            )
        elif elsewhere:
            fix = f"it belongs in the [{elsewhere[0]}] table"
        elif key in _PIPELINE and table != "pipelines":
            fix = "it belongs in a [[pipelines]] entry"
        else:
            fix = "valid keys here: " + ", ".join(valid)
        return self.error(full, "unknown key", fix, index)

    def table(self, doc: dict[str, Any], table: str, schema: _Schema) -> dict[str, Any]:
        value = doc.get(table, {})
        if not isinstance(value, dict):
            raise self.error(
                table,
                f"is {_describe(value)}, not a table",
                f"write [{table}] on a line of its own and put its keys below it",
            )
        return self.values(value, table, schema)

    def values(
        self, table: dict[str, Any], name: str, schema: _Schema, index: int | None = None
    ) -> dict[str, Any]:
        for key, value in table.items():
            if key not in schema:
                raise self.unknown(key, list(schema), name, index)
            kind, example = schema[key]
            if not _fits(kind, value):
                raise self.error(
                    f"{name}.{key}",
                    f"must be {_KIND_WORDS[kind]}, not {_describe(value)}",
                    f"write it like: {key} = {example}",
                    index,
                )
            if kind == "number" and not math.isfinite(value):
                raise self.error(
                    f"{name}.{key}", "must be a finite number", f"e.g. {key} = {example}", index
                )
        return table


@dataclass(frozen=True)
class FileSettings:
    """What the file says, validated, before the environment and the options apply."""

    api: dict[str, Any]
    ui: dict[str, Any]
    history: dict[str, Any]
    pipelines: tuple[PipelineEntry, ...]
    alerts: dict[str, Any]
    log: dict[str, Any]
    keys: dict[str, str]


def _file_path(reader: Reader, key: str, value: str) -> Path:
    if not value.strip():
        raise reader.error(key, "is empty", "remove the line to use the default, or give a path")
    path = paths.expand(value)
    return path if path.is_absolute() else reader.path.parent / path


LABEL_PROBLEM = "contains control characters, escape sequences or invisible format characters"
LABEL_FIX = "use plain text on one line"


def label_ok(text: str) -> bool:
    """A name or group may be shown as it is: no control character, no escape sequence,
    no format character (`sanitize.clean` would change it)."""
    return text == clean(text, keep_newlines=False)


def _label(reader: Reader, key: str, value: str, index: int) -> str | None:
    text = value.strip()
    if not label_ok(text):
        raise reader.error(f"pipelines.{key}", LABEL_PROBLEM, LABEL_FIX, index)
    return text or None


def validate(reader: Reader, doc: dict[str, Any]) -> FileSettings:
    for key in doc:
        if key not in _TOP_LEVEL:
            raise reader.unknown(key, list(_TOP_LEVEL), "")
    api = reader.table(doc, "api", _API)
    ui = reader.table(doc, "ui", _UI)
    history = reader.table(doc, "history", _HISTORY)
    keys = reader.table(doc, "keys", _KEYS)
    for action, value in keys.items():
        wrong = key_problem(value)
        if wrong:
            raise reader.error(f"keys.{action}", wrong, key_fix())
    if "theme" in ui and (not ui["theme"].strip() or not label_ok(ui["theme"])):
        raise reader.error(
            "ui.theme",
            "is not a theme name",
            'write a name such as theme = "textual-dark", or pick one with ctrl+p then '
            "'theme' in the dashboard (it is saved here)",
        )
    if "token" in api and "token_command" in api:
        raise reader.error(
            "api.token_command",
            "both token and token_command are set",
            "keep only one of them (token_command is safer: the secret stays out of the file)",
        )
    if "token_command" in api:
        split_command(reader, api["token_command"])
    rpm = api.get("requests_per_minute")
    if rpm is not None and not 1 <= rpm <= MAX_REQUESTS_PER_MINUTE:
        raise reader.error(
            "api.requests_per_minute",
            f"{rpm} is outside 1..{MAX_REQUESTS_PER_MINUTE}",
            f"set a whole number from 1 to {MAX_REQUESTS_PER_MINUTE} (the API allows "
            f"{MAX_REQUESTS_PER_MINUTE} requests a minute for the whole key; leave room for "
            "other tools)",
        )
    if api.get("timeout", 1) <= 0:
        raise reader.error(
            "api.timeout",
            f"{api['timeout']} is not above 0",
            "set the seconds to wait for an answer, e.g. timeout = 10",
        )
    if "base_url" in api:
        problem = base_url_problem(api["base_url"])
        if problem:
            raise reader.error("api.base_url", problem[0], problem[1])
    if "ledger" in api:
        api = {**api, "ledger": _file_path(reader, "api.ledger", api["ledger"])}
    if "path" in history:
        history = {**history, "path": _file_path(reader, "history.path", history["path"])}
    if history.get("retention_days", 1) <= 0:
        raise reader.error(
            "history.retention_days",
            f"{history['retention_days']} is not above 0",
            "set how many days of history to keep, e.g. 30",
        )
    if history.get("max_rows_per_pipeline", 1) < 1:
        raise reader.error(
            "history.max_rows_per_pipeline",
            f"{history['max_rows_per_pipeline']} is below 1",
            "set how many rows to keep per pipeline, e.g. 2000",
        )
    alerts = _alerts(reader, reader.table(doc, "alerts", _ALERTS))
    log = _log(reader, reader.table(doc, "log", _LOG))
    pipelines = _pipelines(reader, doc.get("pipelines", []))
    keys = {a: k.strip() for a, k in keys.items()}
    return FileSettings(api, ui, history, pipelines, alerts, log, keys)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ALERT_TIMEOUT = 300.0  # seconds: beyond it a stuck command is not worth waiting for


def _alerts(reader: Reader, alerts: dict[str, Any]) -> dict[str, Any]:
    """`[alerts]`, checked; `command` as a tuple whose program, when a relative path, is
    taken from the config file's directory."""
    if "command" in alerts:
        alerts = {**alerts, "command": _alert_command(reader, alerts["command"])}
    timeout = alerts.get("timeout", 1)
    if not 0 < timeout <= MAX_ALERT_TIMEOUT:
        raise reader.error(
            "alerts.timeout",
            f"{timeout} is not above 0 and at most {MAX_ALERT_TIMEOUT:g} seconds",
            "set how long the command may run before it is killed, e.g. timeout = 10",
        )
    cap = alerts.get("max_per_minute", 1)
    if not 1 <= cap <= 60:
        raise reader.error(
            "alerts.max_per_minute",
            f"{cap} is outside 1..60",
            "set how many times a minute the command may run at most, e.g. 6 "
            "(alerts over it are sent together in one summary)",
        )
    repeat = alerts.get("repeat_minutes", 0)
    if not 0 <= repeat <= 24 * 60:
        raise reader.error(
            "alerts.repeat_minutes",
            f"{repeat} is outside 0..1440",
            "set the minutes before the same pipeline may alert the same state again, "
            "e.g. 10 (0: every time)",
        )
    names = alerts.get("pass_env", [])
    for name in names:
        if not _ENV_NAME.fullmatch(name):
            raise reader.error(
                "alerts.pass_env",
                f"'{clean(name, keep_newlines=False)}' is not an environment variable name",
                'list names only, e.g. pass_env = ["HTTPS_PROXY"]',
            )
        if name.upper() in (ENV_TOKEN, ENV_KEY):
            raise reader.error(
                "alerts.pass_env",
                f"{name} is never given to the alert command",
                "remove it: the alert command must not hold the API's key or token",
            )
    if "pass_env" in alerts:
        alerts = {**alerts, "pass_env": tuple(dict.fromkeys(names))}
    return alerts


def _alert_command(reader: Reader, argv: list[str]) -> tuple[str, ...]:
    example = 'command = ["/usr/local/bin/kondado-alert", "--channel", "data"]'
    if not argv or not argv[0].strip():
        raise reader.error(
            "alerts.command",
            "is empty" if not argv else "has no program as its first word",
            f"give the program and its arguments, e.g. {example}, or remove the line",
        )
    for word in argv:
        if word != clean(word, keep_newlines=False):
            # the words are not echoed: they may hold a webhook's secret URL
            raise reader.error(
                "alerts.command",
                "a word contains control characters or escape sequences",
                "use plain text; a multi-line message belongs in a script",
            )
    program = argv[0].strip()
    if "/" in program and not program.startswith(("/", "~")):  # `~` is the loader's
        program = str(reader.path.parent / program)
    return (program, *argv[1:])


def _log(reader: Reader, log: dict[str, Any]) -> dict[str, Any]:
    if "path" in log:
        log = {**log, "path": _file_path(reader, "log.path", log["path"])}
    if "level" in log:
        level = log["level"].strip().lower()
        if level not in LOG_LEVELS:
            raise reader.error(
                "log.level",
                f"'{clean(log['level'], keep_newlines=False)}' is not a log level",
                "use one of " + ", ".join(f'"{name}"' for name in LOG_LEVELS),
            )
        log = {**log, "level": level}
    return log


def _pipelines(reader: Reader, raw: Any) -> tuple[PipelineEntry, ...]:
    example = "[[pipelines]] on a line of its own, then id = 2040 below it"
    if isinstance(raw, dict):
        raise reader.error(
            "pipelines", "is a single table", f"write each entry as {example} (double brackets)"
        )
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise reader.error(
            "pipelines",
            "must be a list of [[pipelines]] entries",
            f"write each pipeline as {example}",
        )
    entries: list[PipelineEntry] = []
    seen: dict[int, int] = {}
    for index, item in enumerate(raw):
        reader.values(item, "pipelines", _PIPELINE, index)
        if "id" not in item:
            raise reader.error(
                "pipelines",
                "this entry has no id",
                "add id = <the number at the end of the pipeline's app URL>",
                index,
            )
        pid = item["id"]
        if not 0 < pid <= MAX_PIPELINE_ID:
            problem = "is too large" if pid > 0 else "is not a positive integer"
            raise reader.error(
                "pipelines.id",
                f"{pid} {problem}",
                "use the number at the end of the pipeline's app URL",
                index,
            )
        if pid in seen:
            raise reader.error(
                "pipelines.id",
                f"pipeline {pid} is listed twice (entries {seen[pid] + 1} and {index + 1})",
                "remove one of the two entries",
                index,
            )
        seen[pid] = index
        entries.append(
            PipelineEntry(
                pid,
                _label(reader, "name", item["name"], index) if "name" in item else None,
                _label(reader, "group", item["group"], index) if "group" in item else None,
            )
        )
    return tuple(entries)


def base_url_problem(url: str) -> tuple[str, str] | None:
    """(problem, fix) when `url` cannot be the API's base URL, else None."""
    fix = f"use the API's address, e.g. {DEFAULT_BASE_URL}"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return f"'{clean(url)}' is not a valid URL", fix
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"'{clean(url)}' is not an http(s) URL", fix
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must not hold a query, a fragment or credentials", fix
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return (
            "plain http:// would send the token unencrypted",
            "use https:// (plain http is only accepted for this machine: localhost, "
            "127.0.0.1, ::1)",
        )
    return None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_command(reader: Reader, command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise reader.error(
            "api.token_command", f"cannot be split into words ({exc})", "check its quotes"
        ) from None
    if not argv:
        raise reader.error(
            "api.token_command",
            "is empty",
            "give the command that prints the token, or remove the line",
        )
    return argv
