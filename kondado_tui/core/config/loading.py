"""`load_config`: read the file, validate it, and complete it from the environment and the
command line."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kondado_tui.core import paths
from kondado_tui.core.api import DEFAULT_BASE_URL
from kondado_tui.core.config.model import (
    ENV_BASE_URL,
    ENV_KEY,
    ENV_TOKEN,
    AlertSettings,
    ApiSettings,
    Config,
    HistorySettings,
    LogSettings,
    UiSettings,
)
from kondado_tui.core.config.token_command import run_token_command
from kondado_tui.core.config.validation import Reader, base_url_problem, validate
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.guards.sanitize import clean


def read_text(path: Path) -> str:
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


def parse_toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        detail = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", detail)
        where = f"{path}:{found.group(1)}:{found.group(2)}" if found else str(path)
        problem = re.sub(r"\s*\(at line \d+, column \d+\)|\s*\(at end of document\)", "", detail)
        raise ConfigError(
            f"{where}: invalid TOML ({toml_problem(problem)}); fix the syntax there "
            "(strings need quotes, tables are written [name], pipelines [[pipelines]])"
        ) from None


# tomllib's messages that speak of its internals (namespaces, nests, Python tuples), in
# words a user can act on. The others ("Unclosed array", "Invalid value", ...) are clear.
_TOML_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Cannot mutate immutable namespace (.+)"),
        "{0} was written whole as an inline value (= [...] or = {{...}}) and cannot be "
        "added to elsewhere in the file",
    ),
    (re.compile(r"Cannot declare (.+) twice"), "the table [{0}] is declared twice"),
    (re.compile(r"Cannot redefine namespace (.+)"), "{0} is already set to a value"),
    (re.compile(r"Cannot overwrite a value"), "this key is already set above"),
    (
        re.compile(r"There is no nest behind this key|An object other than list found"),
        "this [[...]] header names a key already set to something other than a list",
    ),
    (
        re.compile(r"Duplicate inline table key '(.+)'"),
        "the key '{0}' appears twice in one {{...}}",
    ),
    (
        re.compile(r"(?:Found invalid|Illegal) character"),
        "a control character; remove it (or write it escaped inside a string)",
    ),
)


def toml_problem(detail: str) -> str:
    """tomllib's message about a syntax error, in our words."""
    for pattern, words in _TOML_WORDS:
        match = pattern.match(detail)
        if match:
            return words.format(*(_key_name(group) for group in match.groups()))
    return clean(detail, keep_newlines=False)


def _key_name(raw: str) -> str:
    """`('api', 'key')` (how tomllib names a key) as `api.key`."""
    parts = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", raw)
    return ".".join(a or b for a, b in parts) if parts else raw


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
    text = read_text(path)
    doc = parse_toml(path, text)
    file_token = doc.get("api", {}).get("token") if isinstance(doc.get("api"), dict) else None
    if isinstance(file_token, str):
        register_secret(file_token.strip())  # before anything can echo it
    reader = Reader(path, text)
    settings = validate(reader, doc)
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
        token = run_token_command(reader, api["token_command"], env)
    register_secret(token)
    if require_credentials and not (key and token):
        raise _missing_credentials(path, key=bool(key), token=bool(token))

    warnings: list[str] = []
    alerts = AlertSettings(**settings.alerts)
    if alerts.command and alerts.command[0].startswith("~"):
        program = str(paths.expand(alerts.command[0], env))
        alerts = dataclasses.replace(alerts, command=(program, *alerts.command[1:]))
    if alerts.command:
        missing = program_problem(alerts.command[0], env)
        if missing:
            warnings.append(
                f"{path}: alerts.command: {missing}; alerts will fail until it is fixed"
            )
    if isinstance(file_token, str) and file_token.strip():
        loose = loose_permissions(path)
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
        alerts=alerts,
        log=LogSettings(**settings.log),
        keys=settings.keys,
    )


def program_problem(program: str, env: Mapping[str, str]) -> str:
    """Why the alert command's program cannot run here ("" when it can, as far as we
    can tell now: it may still be installed or fixed before the first alert)."""
    if "/" not in program:
        if shutil.which(program, path=env.get("PATH") or os.defpath) is None:
            return f"program '{program}' not found in PATH (no shell is used)"
        return ""
    if not os.path.exists(program):
        return f"program {program} does not exist"
    if os.path.isdir(program) or not os.access(program, os.X_OK):
        return f"{program} is not an executable file (chmod +x {shlex.quote(program)})"
    return ""


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


def loose_permissions(path: Path) -> str:
    """'group', 'others' or 'group and others' when they may read the file; '' if not."""
    if os.name != "posix":
        return ""
    try:
        mode = path.stat().st_mode
    except OSError:
        return ""
    who = [w for w, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit]
    return " and ".join(who)
