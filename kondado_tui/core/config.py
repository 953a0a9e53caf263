"""The configuration file: load and validate it, and add or remove pipelines in place.

Every mistake becomes one `ConfigError` naming the file (with the line when it can be
found), the key, and how to fix it. Saving never rewrites the user's file: a new
`[[pipelines]]` entry is appended as text and a removed one is cut out as text, so every
comment and blank line the user wrote survives byte for byte.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import re
import shlex
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from kondado_tui.core import paths
from kondado_tui.core.api import DEFAULT_BASE_URL
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.guards.sanitize import clean

MAX_REQUESTS_PER_MINUTE = 20  # the API's documented limit per key and per IP
TOKEN_COMMAND_TIMEOUT = 30.0  # seconds; long enough for a pinentry prompt
ENV_KEY = "KONDADO_KEY"
ENV_TOKEN = "KONDADO_TOKEN"
ENV_BASE_URL = "KONDADO_BASE_URL"
NEW_FILE_MODE = 0o600
APP_PIPELINE_URL = re.compile(r"^/pipelines/([0-9]+)(?:/.*)?$")
MAX_PIPELINE_ID = 2**63 - 1  # what the history (SQLite INTEGER) can hold


# -- the contract ----------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineEntry:
    id: int
    name: str | None = None
    group: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or f"pipeline {self.id}"


@dataclass(frozen=True)
class ApiSettings:
    base_url: str = DEFAULT_BASE_URL
    key: str = ""
    token: str = field(default="", repr=False)
    requests_per_minute: int = 18  # 1..20
    timeout: float = 10.0
    ledger: Path | None = None  # shared rate ledger; None = default path


@dataclass(frozen=True)
class UiSettings:
    read_only: bool = False
    bell: bool = True
    desktop_notify: bool = False  # OSC 9 / OSC 777


@dataclass(frozen=True)
class HistorySettings:
    path: Path | None = None  # the history database file; None = default state dir
    retention_days: float = 30.0
    max_rows_per_pipeline: int = 2000


@dataclass(frozen=True)
class Config:
    path: Path
    api: ApiSettings
    ui: UiSettings
    history: HistorySettings
    pipelines: tuple[PipelineEntry, ...]
    warnings: tuple[str, ...] = ()


class PipelineRefError(ConfigError):
    """Text that is neither a pipeline id nor a Kondado pipeline URL."""


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
}
_HISTORY: _Schema = {
    "path": ("str", '"~/kondado-history.sqlite3"'),
    "retention_days": ("number", "30"),
    "max_rows_per_pipeline": ("int", "2000"),
}
_PIPELINE: _Schema = {
    "id": ("int", "2040"),
    "name": ("str", '"Orders to warehouse"'),
    "group": ("str", '"ecommerce"'),
}
_TABLES: dict[str, _Schema] = {"api": _API, "ui": _UI, "history": _HISTORY}
_TOP_LEVEL = ("api", "ui", "history", "pipelines")
_KIND_WORDS = {
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
    return isinstance(value, str)


# -- where a key sits in the text (for line numbers, and for cutting entries out) -----

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"[^"\n]*"|\'[^\'\n]*\')'
_KEY_LINE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_HEADER_LINE = re.compile(rf"^\s*(\[\[?)\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\]?")


def _dotted(raw: str) -> str:
    return ".".join(part.strip("\"'") for part in re.findall(_KEY_PART, raw))


@dataclass
class _Line:
    start: int  # offset of the line in the text
    text: str  # with its line ending
    kind: str  # header | key | more (inside a multi-line value) | comment | blank
    name: str  # header: the table; key: the full dotted key ("" when not known)
    index: int | None  # which [[pipelines]] entry the line belongs to


def _scan(text: str) -> list[_Line]:
    """Classify each line. Tracks multi-line strings and arrays, so a line inside a value
    is never mistaken for a header, a key or a comment."""
    lines: list[_Line] = []
    table = ""
    entry: int | None = None
    entries = -1
    in_string: str | None = None  # the open multi-line delimiter
    depth = 0  # open brackets of a value
    offset = 0
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        kind, name = "more", ""
        if in_string is None and depth == 0:
            if not stripped:
                kind = "blank"
            elif stripped.startswith("#"):
                kind = "comment"
            elif stripped.startswith("["):
                kind = "header"
                match = _HEADER_LINE.match(raw)
                table = _dotted(match.group(2)) if match else "?"
                is_array = bool(match and match.group(1) == "[[")
                if is_array and table == "pipelines":
                    entries += 1
                    entry = entries
                elif table != "pipelines" and not table.startswith("pipelines."):
                    entry = None
                name = table
            else:
                kind = "key"
                match = _KEY_LINE.match(raw)
                key = _dotted(match.group(1)) if match else ""
                name = f"{table}.{key}" if table and key else key
        if kind in ("key", "more"):
            in_string, depth = _scan_value(raw, in_string, depth)
        lines.append(_Line(offset, raw, kind, name, entry))
        offset += len(raw)
    return lines


def _scan_value(line: str, in_string: str | None, depth: int) -> tuple[str | None, int]:
    i, n = 0, len(line)
    while i < n:
        if in_string is not None:
            if in_string == '"""' and line[i] == "\\":
                i += 2
                continue
            if line.startswith(in_string, i):
                i += 3
                while i < n and line[i] == in_string[0]:  # `""""` ends with a quote inside
                    i += 1
                in_string = None
                continue
            i += 1
            continue
        char = line[i]
        if char == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            in_string = line[i : i + 3]
            i += 3
            continue
        if char in "\"'":
            i += 1
            while i < n and line[i] != char and line[i] != "\n":
                i += 2 if char == '"' and line[i] == "\\" else 1
            i += 1
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        i += 1
    return in_string, depth


def _line_of(lines: list[_Line], name: str, index: int | None = None) -> int | None:
    """The 1-based line where `name` (a table or a dotted key) is written, if found."""
    for number, line in enumerate(lines, start=1):
        if line.kind in ("key", "header") and line.name == name and line.index == index:
            return number
    if "." in name:  # a key not written out (or written oddly): point at its table
        return _line_of(lines, name.rsplit(".", 1)[0], index)
    return None


# -- reading and validating ------------------------------------------------------------


class _Reader:
    """Validates one parsed document; knows the file and its text to point at lines."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _scan(text)

    def error(self, key: str, problem: str, fix: str, index: int | None = None) -> ConfigError:
        line = _line_of(self.lines, key, index)
        where = f"{self.path}:{line}" if line else str(self.path)
        shown = key
        if index is not None:  # name the entry: pipelines[2].id
            shown = f"pipelines[{index + 1}]" + key.removeprefix("pipelines")
        return ConfigError(f"{where}: {shown}: {problem}; {fix}")

    def unknown(
        self, key: str, valid: list[str], table: str, index: int | None = None
    ) -> ConfigError:
        full = f"{table}.{key}" if table else key
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        elsewhere = [t for t, schema in _TABLES.items() if key in schema and t != table]
        if close:
            fix = f"did you mean '{close[0]}'?"
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


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no config file there; create one with "
            f"'kondado-tui --config {shlex.quote(str(path))} init' "
            f"(or pass --config PATH to another file, or set {paths.CONFIG_ENV})"
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path}: is a directory, not a config file; pass the file's path "
            f"(e.g. {path / paths.CONFIG_FILENAME})"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc.strerror}); check its permissions "
            f"(ls -l {path})"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: the config file is not UTF-8 text; save it as UTF-8"
        ) from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", detail)
        where = f"{path}:{found.group(1)}:{found.group(2)}" if found else str(path)
        problem = re.sub(r"\s*\(at line \d+, column \d+\)|\s*\(at end of document\)", "", detail)
        raise ConfigError(
            f"{where}: invalid TOML ({problem}); fix the syntax there "
            "(strings need quotes, tables are written [name], pipelines [[pipelines]])"
        ) from None


@dataclass(frozen=True)
class _FileSettings:
    """What the file says, validated, before the environment and the options apply."""

    api: dict[str, Any]
    ui: dict[str, Any]
    history: dict[str, Any]
    pipelines: tuple[PipelineEntry, ...]


def _file_path(reader: _Reader, key: str, value: str) -> Path:
    if not value.strip():
        raise reader.error(key, "is empty", "remove the line to use the default, or give a path")
    path = paths.expand(value)
    return path if path.is_absolute() else reader.path.parent / path


def _label(reader: _Reader, key: str, value: str, index: int) -> str | None:
    text = value.strip()
    if text != clean(text, keep_newlines=False):
        raise reader.error(
            f"pipelines.{key}",
            "contains control characters or escape sequences",
            "use plain text on one line",
            index,
        )
    return text or None


def _validate(reader: _Reader, doc: dict[str, Any]) -> _FileSettings:
    for key in doc:
        if key not in _TOP_LEVEL:
            raise reader.unknown(key, list(_TOP_LEVEL), "")
    api = reader.table(doc, "api", _API)
    ui = reader.table(doc, "ui", _UI)
    history = reader.table(doc, "history", _HISTORY)

    if "token" in api and "token_command" in api:
        raise reader.error(
            "api.token_command",
            "both token and token_command are set",
            "keep only one of them (token_command is safer: the secret stays out of the file)",
        )
    if "token_command" in api:
        _split_command(reader, api["token_command"])
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
    return _FileSettings(api, ui, history, _pipelines(reader, doc.get("pipelines", [])))


def _pipelines(reader: _Reader, raw: Any) -> tuple[PipelineEntry, ...]:
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


def _split_command(reader: _Reader, command: str) -> list[str]:
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


def _run_token_command(reader: _Reader, command: str, env: Mapping[str, str]) -> str:
    """Run `token_command` once, without a shell. Its first output line is the token.

    Stdout is never shown (it is the secret); stderr is, cleaned and shortened.
    """
    argv = _split_command(reader, command)
    argv[0] = str(paths.expand(argv[0], env)) if argv[0].startswith("~") else argv[0]
    what = f"token_command '{clean(command)}'"
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            timeout=TOKEN_COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise reader.error(
            "api.token_command",
            f"{what}: program '{clean(argv[0])}' not found",
            "install it or fix the command (no shell is used)",
        ) from None
    except PermissionError:
        raise reader.error(
            "api.token_command",
            f"{what}: '{clean(argv[0])}' is not executable",
            "fix the command or the file's permissions",
        ) from None
    except subprocess.TimeoutExpired:
        raise reader.error(
            "api.token_command",
            f"{what} did not finish within {TOKEN_COMMAND_TIMEOUT:g} s",
            "check that it runs without asking for input, e.g. unlock the password store first",
        ) from None
    except OSError as exc:
        raise reader.error(
            "api.token_command", f"{what} could not start ({exc.strerror})", "fix the command"
        ) from None
    token = _first_line(done.stdout)
    if done.returncode != 0:
        errors = " ".join(clean(done.stderr.decode("utf-8", "replace")).split())
        register_secret(token)  # in case the command echoed it on stderr too
        detail = f": {errors[:200]}" if errors else ""
        raise reader.error(
            "api.token_command",
            f"{what} failed (exit {done.returncode}){detail}",
            "run it yourself to see why",
        )
    if not token:
        raise reader.error(
            "api.token_command",
            f"{what} printed nothing",
            "it must print the token on its first line",
        )
    register_secret(token)
    return token


def _first_line(output: bytes) -> str:
    text = output.decode("utf-8", "replace").strip()
    return text.splitlines()[0].strip() if text else ""


def _env_value(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def load_config(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    base_url: str | None = None,
    read_only: bool = False,
    require_credentials: bool = True,
) -> Config:
    """Read, validate and complete the config.

    Precedence: keyword options (`--base-url`, `--read-only`) > environment
    (`KONDADO_KEY`, `KONDADO_TOKEN`, `KONDADO_BASE_URL`) > file > defaults.
    `require_credentials=False` accepts a file without key or token and does not run
    `token_command` (for tools that only edit the file).
    """
    env = os.environ if env is None else env
    path = paths.config_path(path, env)
    text = _read_text(path)
    doc = _parse(path, text)
    file_token = doc.get("api", {}).get("token") if isinstance(doc.get("api"), dict) else None
    if isinstance(file_token, str):
        register_secret(file_token.strip())  # before anything can echo it
    reader = _Reader(path, text)
    settings = _validate(reader, doc)
    api = settings.api

    env_url = _env_value(env, ENV_BASE_URL)
    url = api.get("base_url", DEFAULT_BASE_URL)
    for source, override in ((ENV_BASE_URL, env_url), ("--base-url", base_url or "")):
        if override:
            problem = base_url_problem(override)
            if problem:
                raise ConfigError(f"{source}: {problem[0]}; {problem[1]}")
            url = override
    url = url.strip().rstrip("/")

    key = _env_value(env, ENV_KEY) or api.get("key", "").strip()
    token = _env_value(env, ENV_TOKEN) or api.get("token", "").strip()
    if not token and "token_command" in api and require_credentials:
        token = _run_token_command(reader, api["token_command"], env)
    register_secret(token)
    if require_credentials and not (key and token):
        raise _missing_credentials(path, key=bool(key), token=bool(token))

    warnings: list[str] = []
    if isinstance(file_token, str) and file_token.strip():
        loose = _loose_permissions(path)
        if loose:
            warnings.append(
                f"{path} holds the API token and is readable by {loose}: run 'chmod 600 {path}'"
            )
    return Config(
        path=path,
        api=ApiSettings(
            base_url=url,
            key=key,
            token=token,
            requests_per_minute=api.get("requests_per_minute", ApiSettings.requests_per_minute),
            timeout=float(api.get("timeout", ApiSettings.timeout)),
            ledger=api.get("ledger"),
        ),
        ui=UiSettings(**{**settings.ui, **({"read_only": True} if read_only else {})}),
        history=HistorySettings(
            path=settings.history.get("path"),
            retention_days=float(
                settings.history.get("retention_days", HistorySettings.retention_days)
            ),
            max_rows_per_pipeline=settings.history.get(
                "max_rows_per_pipeline", HistorySettings.max_rows_per_pipeline
            ),
        ),
        pipelines=settings.pipelines,
        warnings=tuple(warnings),
    )


def _missing_credentials(path: Path, *, key: bool, token: bool) -> ConfigError:
    missing = [name for name, have in (("key", key), ("token", token)) if not have]
    how = {
        "key": f'set {ENV_KEY}, or key = "..." in the [api] table',
        "token": f'set {ENV_TOKEN}, or token_command = "..." (or token = "...") in the [api] table',
    }
    names = " and ".join(f"api.{m}" for m in missing)
    fixes = "; ".join(how[m] for m in missing)
    return ConfigError(
        f"{path}: {names}: no API {' and '.join(missing)} configured; {fixes} "
        "(create a key and token in the Kondado app)"
    )


def _loose_permissions(path: Path) -> str:
    """'group', 'others' or 'group and others' when they may read the file; '' if not."""
    if os.name != "posix":
        return ""
    try:
        mode = path.stat().st_mode
    except OSError:
        return ""
    who = [w for w, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit]
    return " and ".join(who)


# -- pipeline references ---------------------------------------------------------------


def parse_pipeline_ref(text: str) -> int:
    """A pipeline id from `2040` or a pasted app URL `https://app.kondado.com.br/pipelines/2040`
    (a trailing slash, query or fragment is fine)."""
    ref = text.strip()
    shown = clean(ref, keep_newlines=False)[:120]
    example = "e.g. 2040 or https://app.kondado.com.br/pipelines/2040"
    if re.fullmatch(r"#?[0-9]+", ref):
        pid = int(ref.lstrip("#"))
        if pid > MAX_PIPELINE_ID:
            raise PipelineRefError(f"'{shown}' is too large for a pipeline id ({example})")
        if pid <= 0:
            raise PipelineRefError(f"'{shown}': a pipeline id is a positive integer ({example})")
        return pid
    candidate = ref if "://" in ref else f"https://{ref}"
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").lower()
    except ValueError:
        host, parts = "", urlsplit("")
    match = APP_PIPELINE_URL.match(parts.path)
    if (
        parts.scheme in ("http", "https")
        and (host == "kondado.com.br" or host.endswith(".kondado.com.br"))
        and match
    ):
        pid = int(match.group(1))
        if 0 < pid <= MAX_PIPELINE_ID:
            return pid
    raise PipelineRefError(f"'{shown}' is not a pipeline id or a Kondado pipeline URL ({example})")


# -- saving ----------------------------------------------------------------------------


def _target(path: Path) -> Path:
    """Write through a symlink (dotfile managers link the config) rather than replace it."""
    path = paths.expand(path)
    return path.resolve() if path.is_symlink() else path


@contextmanager
def _write_lock(directory: Path) -> Iterator[None]:
    """Serialise edits by several kondado-tui processes (e.g. the TUI and the CLI)."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with suppress(OSError):  # a file system without locks: still write atomically
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"{directory}: cannot create the config directory ({exc.strerror}); "
            "create it yourself or choose another path with --config"
        ) from None


def _fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to fsync a directory
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str, mode: int) -> None:
    """Temp file beside the target, fsync, rename over it, fsync the directory."""
    import tempfile

    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot write the config ({exc.strerror}); check that you may write "
            f"to {directory}"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(
            f"{path}: cannot write the config ({exc.strerror}); nothing was changed"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(directory)


def _mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _entry_table(entry: PipelineEntry) -> dict[str, Any]:
    table: dict[str, Any] = {"id": entry.id}
    if entry.name:
        table["name"] = entry.name
    if entry.group:
        table["group"] = entry.group
    return table


def normalize_entry(path: Path, entry: PipelineEntry) -> PipelineEntry:
    """The entry as `load_config` would read it back (labels stripped, empty ones None);
    raises `ConfigError` for a bad id or a label with control characters."""
    if isinstance(entry.id, bool) or not isinstance(entry.id, int) or entry.id <= 0:
        raise ConfigError(
            f"{path}: pipelines.id: {entry.id!r} is not a positive integer; "
            "use the number at the end of the pipeline's app URL"
        )
    table = _entry_table(PipelineEntry(entry.id, entry.name, entry.group))
    text = "[[pipelines]]\n" + tomli_w.dumps(table)
    return _validate(_Reader(path, text), tomllib.loads(text)).pipelines[0]


def _verified(path: Path, new_text: str, expected: dict[str, Any]) -> None:
    """Parse and validate the text about to be written; it must mean exactly `expected`."""
    try:
        doc = tomllib.loads(new_text.removeprefix("\ufeff"))
        _validate(_Reader(path, new_text), doc)
    except (tomllib.TOMLDecodeError, ConfigError) as exc:
        raise ConfigError(
            f"{path}: the edit would break the file ({exc}); nothing was "
            "changed, edit the file by hand"
        ) from None
    if doc != expected:
        raise ConfigError(
            f"{path}: could not edit the file safely (unusual layout); nothing "
            "was changed, edit the [[pipelines]] entries by hand"
        )


def append_pipeline(path: Path, entry: PipelineEntry) -> None:
    """Add a `[[pipelines]]` entry at the end of the file, keeping everything else.

    Creates the file (mode 0600, parent directories too) when it does not exist; refuses a
    pipeline that is already listed.
    """
    path = _target(path)
    entry = normalize_entry(path, entry)
    _make_dir(path.parent)
    with _write_lock(path.parent):
        if path.exists():
            text = _read_text(path)
            doc = _parse(path, text)
            current = _validate(_Reader(path, text), doc).pipelines
            mode = _mode_of(path)
        else:
            text, doc, current, mode = "", {}, (), NEW_FILE_MODE
        for known in current:
            if known.id == entry.id:
                also = f" (as '{known.name}')" if known.name else ""
                raise ConfigError(
                    f"{path}: pipeline {entry.id} is already listed{also}; nothing to add"
                )
        newline = "\r\n" if "\r\n" in text else "\n"
        block = "[[pipelines]]\n" + tomli_w.dumps(_entry_table(entry))
        if text and not text.endswith("\n"):
            text += newline
        if text.strip() and not text.endswith(newline * 2):
            text += newline
        new_text = text + block.replace("\n", newline)
        expected = {**doc, "pipelines": [*doc.get("pipelines", []), _entry_table(entry)]}
        _verified(path, new_text, expected)
        _atomic_write(path, new_text, mode)


def remove_pipeline(path: Path, pipeline_id: int) -> bool:
    """Cut that pipeline's `[[pipelines]]` block out of the file (comments inside it too),
    leaving every other byte as it was. False when the pipeline is not listed."""
    path = _target(path)
    with _write_lock(path.parent):
        text = _read_text(path)
        doc = _parse(path, text)
        current = _validate(_Reader(path, text), doc).pipelines
        index = next((i for i, p in enumerate(current) if p.id == pipeline_id), None)
        if index is None:
            return False
        start, end = _entry_span(_scan(text), index)
        new_text = text[:start] + text[end:]
        remaining = [t for i, t in enumerate(doc.get("pipelines", [])) if i != index]
        expected = {k: v for k, v in doc.items() if k != "pipelines"}
        if remaining:
            expected["pipelines"] = remaining
        _verified(path, new_text, expected)
        _atomic_write(path, new_text, _mode_of(path))
        return True


def _entry_span(lines: list[_Line], index: int) -> tuple[int, int]:
    """Text offsets of the index-th `[[pipelines]]` block.

    The block runs from its header to the next header. Comment lines written directly
    above the next header belong to that one and stay; blank lines after the block go.
    """
    headers = [
        n
        for n, line in enumerate(lines)
        if line.kind == "header" and line.name == "pipelines" and line.index is not None
    ]
    starts = [lines[n].index for n in headers]
    if starts != list(range(len(starts))) or index >= len(headers):
        raise ConfigError("could not find the entry's [[pipelines]] header; edit it by hand")
    first = headers[index]
    following = next(
        (n for n in range(first + 1, len(lines)) if lines[n].kind == "header"), len(lines)
    )
    last = first  # the last line that says something about this entry
    for n in range(first + 1, following):
        if lines[n].kind in ("key", "more"):
            last = n
    stop = last + 1
    while stop < following and lines[stop].kind == "comment":
        stop += 1
    if stop == following and following < len(lines):
        stop = last + 1  # those comments sit on the next header: leave them to it
    while stop < following and lines[stop].kind == "blank":
        stop += 1
    if stop < len(lines):
        return lines[first].start, lines[stop].start
    # The last entry: take the blank lines that separated it too, so that adding and then
    # removing a pipeline gives back the very same file.
    while first > 0 and lines[first - 1].kind == "blank":
        first -= 1
    return lines[first].start, sum(len(line.text) for line in lines)


# -- a starter file for `kondado-tui init` ---------------------------------------------

STARTER_CONFIG = f"""\
# kondado-tui configuration (TOML). Reference: the "Configuration" section of the README.
# This file may hold a secret: keep it readable only by you (chmod 600).

[api]
base_url = "{DEFAULT_BASE_URL}"

# The API key and token come from the Kondado app. The environment variables
# {ENV_KEY} and {ENV_TOKEN} override what is written here.
key = ""

# Prefer a command that prints the token (run once at start, no shell) ...
# token_command = "pass show kondado/token"
# ... or, less safe, the token itself:
# token = ""

# This app's share of the API's budget of {MAX_REQUESTS_PER_MINUTE} requests a minute
# (per key and per IP). Leave room for other tools that use the same key.
requests_per_minute = 18
# Seconds to wait for an answer.
timeout = 10
# Every kondado-tui process of this user shares one rate ledger. To share it with other
# users of this machine (same IP), point them all at one writable file:
# ledger = "/srv/shared/kondado-ledger.sqlite3"

[ui]
# true: never run or duplicate pipelines (a monitor for the whole team).
read_only = false
# Ring the terminal bell when a pipeline turns to error or blocked.
bell = true
# Also send a desktop notification (OSC 9 / OSC 777; works through SSH in most terminals).
desktop_notify = false

[history]
# path = "~/kondado-history.sqlite3"   # default: the state directory
retention_days = 30
max_rows_per_pipeline = 2000

# One [[pipelines]] entry per pipeline to watch. The id is the number at the end of the
# pipeline's app URL: https://app.kondado.com.br/pipelines/<id>
# Add them with 'kondado-tui add <id or URL>', with 'a' in the dashboard, or here:
#
# [[pipelines]]
# id = 2040
# name = "Orders to warehouse"   # optional
# group = "ecommerce"            # optional
"""


def write_starter_config(path: Path) -> Path:
    """Create a commented starter config (mode 0600). Refuses to overwrite anything."""
    path = paths.expand(path)
    if path.is_dir():
        raise ConfigError(
            f"{path}: is a directory; give the config file's path, e.g. "
            f"--config {path / paths.CONFIG_FILENAME}"
        )
    if path.exists() or path.is_symlink():
        raise ConfigError(
            f"{path}: a config file already exists; edit it, or remove it "
            "first to start over (nothing was changed)"
        )
    _make_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    except FileExistsError:
        raise ConfigError(f"{path}: a config file already exists (nothing was changed)") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot create the config ({exc.strerror}); choose another path with --config"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(STARTER_CONFIG)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write the config ({exc.strerror})") from None
    _fsync_dir(path.parent)
    return path


__all__ = [
    "ApiSettings",
    "Config",
    "HistorySettings",
    "PipelineEntry",
    "PipelineRefError",
    "UiSettings",
    "append_pipeline",
    "base_url_problem",
    "load_config",
    "normalize_entry",
    "parse_pipeline_ref",
    "remove_pipeline",
    "write_starter_config",
]
