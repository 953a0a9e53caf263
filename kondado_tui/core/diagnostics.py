"""`kondado-tui info`: what a bug report needs, gathered without leaking anything.

Each part is a plain dict (JSON-ready) of facts: versions, the config file and its
permissions, the files kept and their sizes, how the rate budget is shared on this host
and with whom, the alert command, the log, the terminal, and (optionally, one request
through the budget) whether the API answers and accepts the key and token. Never the
token nor the key: only whether they are set and where from. Paths stay (they help).
Anything that cannot be found out is said in words, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import locale
import os
import platform
import pwd
import shutil
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kondado_tui import __version__
from kondado_tui.core import logfile, paths
from kondado_tui.core.budget.ledger import LedgerUnavailable, SqliteLedger
from kondado_tui.core.budget.link import broker_name, probe
from kondado_tui.core.budget.messages import Hello
from kondado_tui.core.budget.scope import scope_for
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.config import ENV_KEY, ENV_TOKEN, Config
from kondado_tui.core.config.loading import loose_permissions, program_problem
from kondado_tui.core.errors import ApiError, RateLimited, Rejected, Unreachable
from kondado_tui.core.events import Refusal, refusal_of
from kondado_tui.core.models import Priority
from kondado_tui.core.session import command_api

Facts = dict[str, Any]
TMUX_TIMEOUT = 2.0  # seconds for each `tmux show`
API_WAIT = 20.0  # seconds the API check may wait for a slot in the budget


def versions() -> Facts:
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {
        "kondado_tui": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "textual": version("textual"),
        "rich": version("rich"),
        "httpx": version("httpx"),
    }


def _mode(path: Path) -> str:
    try:
        info = path.stat()
    except OSError:
        return ""
    owner = "yours" if info.st_uid == os.getuid() else f"owned by {_user(info.st_uid)}"
    return f"mode {stat.S_IMODE(info.st_mode):04o}, {owner}"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _size(*files: Path) -> int | None:
    """Bytes of the files that exist (a database with its -wal, a log and its old
    files); None when none exists."""
    sizes = [f.stat().st_size for f in files if f.is_file()]
    return sum(sizes) if sizes else None


def config_facts(
    path: Path, config: Config | None, error: str, env: Mapping[str, str], warnings: list[str]
) -> Facts:
    path = path.absolute()
    facts: Facts = {"file": str(path), "exists": path.is_file(), "permissions": _mode(path) or None}
    if error:
        facts["error"] = error
        warnings.append(f"config: {error}")
    file_api: dict[str, Any] = {}
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        doc = tomllib.loads(path.read_text(encoding="utf-8").removeprefix("\ufeff"))
        file_api = doc.get("api", {}) if isinstance(doc.get("api"), dict) else {}
    token_in_file = bool(str(file_api.get("token", "")).strip())
    facts["key"] = _source(
        env.get(ENV_KEY, "").strip(), str(file_api.get("key", "")).strip(), None, ENV_KEY
    )
    facts["token"] = _source(
        env.get(ENV_TOKEN, "").strip(),
        str(file_api.get("token", "")).strip(),
        "token_command" if file_api.get("token_command") else None,
        ENV_TOKEN,
    )
    loose = loose_permissions(path) if path.is_file() else ""
    if token_in_file and loose:
        warnings.append(f"{path} holds the API token and is readable by {loose}: chmod 600 it")
    if config is not None:
        facts["base_url"] = config.api.base_url
        facts["requests_per_minute"] = config.api.requests_per_minute
        facts["timeout"] = config.api.timeout
        facts["read_only"] = config.ui.read_only
        facts["pipelines"] = len(config.pipelines)
        facts["warnings"] = list(config.warnings)
    return facts


def _source(env_value: str, file_value: str, command: str | None, env_name: str) -> str:
    if env_value:
        return f"set (from ${env_name})"
    if file_value:
        return "set (in the config file)"
    if command:
        return f"from {command}"
    return "not set"


def file_facts(config: Config | None, env: Mapping[str, str]) -> Facts:
    history = (config.history.path if config else None) or paths.default_history_path(env)
    ledger = (config.api.ledger if config else None) or paths.default_ledger_path(env)
    state = paths.default_state_dir(env)
    return {
        "state_dir": f"{state} ({_mode(state) or 'not created yet'})",
        "history": _file_line(history, Path(f"{history}-wal")),
        "ledger": _file_line(ledger, Path(f"{ledger}-wal")),
        "duplicate_mappings": _file_line(paths.default_duplicates_path(env)),
    }


def _file_line(path: Path, *extra: Path) -> str:
    size = _size(path, *extra)
    if size is None:
        return f"{path} (not created yet)"
    return f"{path} ({_human(size)}, {_mode(path)})"


def _human(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def budget_facts(config: Config | None, env: Mapping[str, str], clock: Clock) -> Facts:
    """The shared rate ledger as it stands: who sent requests in the last two minutes,
    and a lock-out if one runs. Read only: a ledger not created yet is not created."""
    path = (config.api.ledger if config else None) or paths.default_ledger_path(env)
    default = path == paths.default_ledger_path(env)
    facts: Facts = {
        "per_minute": config.api.requests_per_minute if config else None,
        "ledger": str(path),
        "shared_with": (
            "every kondado-tui process of this user (the default ledger)"
            if default
            else "every process whose [api] ledger names this file (other users too, "
            "if they can write it)"
        ),
    }
    if not path.is_file():
        facts["state"] = "no ledger yet: the first request creates it"
        return facts
    facts["permissions"] = _mode(path)
    now = clock.now()
    try:
        ledger = SqliteLedger(path)
    except LedgerUnavailable as exc:
        facts["state"] = f"cannot be opened: {exc} (each process then counts only its own)"
        return facts
    try:
        rows = ledger.stamps_with_pids()
        lockout = ledger.read(now).lockout_end
    except Exception as exc:  # a damaged ledger is a fact to report, not a crash
        facts["state"] = f"cannot be read: {type(exc).__name__}"
        return facts
    finally:
        ledger.close()
    recent = [(at, pid) for at, pid, _ in rows if at > now - 60]
    facts["requests_last_minute"] = len(recent)
    processes: list[Facts] = []
    for pid in sorted({pid for _, pid, _ in rows}):
        processes.append(
            {
                "pid": pid,
                **_process(pid),
                "requests_last_minute": sum(1 for _, p in recent if p == pid),
                "this_process": pid == os.getpid(),
            }
        )
    facts["processes"] = processes
    if lockout is not None and lockout > now:
        facts["lockout"] = f"the API locked the key out: {lockout - now:.0f} s left"
    return facts


def broker_facts(config: Config | None, env: Mapping[str, str], clock: Clock) -> Facts:
    """The host's budget broker: its name, who serves it (kernel-verified pid and user:
    a squatter shows here), and what it tells a process of this config's scope."""
    name, why_off = broker_name(env)
    if name is None:
        return {"state": f"off ({why_off}): each process limits itself on the ledger"}
    hello = None
    if config is not None and config.api.key and config.api.token:
        scope = scope_for(config.api.base_url, config.api.key, config.api.token)
        hello = Hello(scope.host, scope.key, config.api.requests_per_minute)
    found = probe(name, hello)
    facts: Facts = {
        "name": f"@{name} (a Linux abstract socket)",
        "state": found.state,
        "ledger": "used only when no usable broker can be had (each process then limits "
        "itself, and says so)",
    }
    if found.pid is not None:
        facts["served_by"] = {"pid": found.pid, **_process(found.pid)}
        if found.uid is not None:
            facts["served_by"]["user"] = _user(found.uid)
    welcome = found.welcome
    if welcome is not None:
        now = clock.now()
        peers, limits = welcome.peers, welcome.limits
        facts["processes"] = max(0, peers.processes - 1)  # not counting this probe
        facts["logins"] = len({found.uid}) if peers.processes <= 1 else peers.logins
        facts["requests_last_minute"] = sum(1 for s in welcome.slots if s.at > now - 60)
        facts["per_minute"] = limits.configured()
        allowed = limits.allowed(now)
        if allowed < limits.configured():
            facts["lowered_to"] = (
                f"{allowed} a minute: lock-outs nobody on this host explains (another "
                "tool on the key, or another machine behind the same address)"
            )
        end = limits.lockout_end
        if end is not None and end > now:
            facts["lockout"] = f"the API locked the key out: {end - now:.0f} s left"
    return facts


def _process(pid: int) -> Facts:
    proc = Path(f"/proc/{pid}")
    try:
        status = (proc / "status").read_text()
        command = (proc / "comm").read_text().strip()
    except OSError:
        return {"alive": False}
    uid = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")), -1
    )
    return {"alive": True, "user": _user(uid), "command": command}


def alert_facts(config: Config | None, env: Mapping[str, str]) -> Facts:
    if config is None or not config.alerts.command:
        return {"command": "none ([alerts] command in the config; docs/alerts.md)"}
    alerts = config.alerts
    program = alerts.command[0]
    problem = program_problem(program, env)
    return {
        # only the program: its arguments may hold a webhook's secret URL
        "program": program,
        "arguments": f"{len(alerts.command) - 1} (not shown: they may hold a secret)",
        "runnable": problem or "yes",
        "on_recovery": alerts.on_recovery,
        "timeout": alerts.timeout,
        "max_per_minute": alerts.max_per_minute,
        "repeat_minutes": alerts.repeat_minutes,
        "pass_env": list(alerts.pass_env),
        "check_it_with": "kondado-tui alert-test",
    }


def log_facts(config: Config | None, env: Mapping[str, str]) -> Facts:
    settings = config.log if config else None
    plan = logfile.plan_for(settings, env=env)
    if plan.path is None:
        return {"file": None, "level": "off", "note": plan.why_none}
    olds = [Path(f"{plan.path}.{n}") for n in range(1, logfile.BACKUPS + 1)]
    size = _size(plan.path, *olds)
    return {
        "file": str(plan.path),
        "level": settings.level if settings else "info",
        "size": _human(size) if size is not None else "not created yet",
        "rotation": f"{logfile.MAX_BYTES // (1 << 20)} MiB x {logfile.BACKUPS} old files",
    }


def terminal_facts(env: Mapping[str, str], warnings: list[str] | None = None) -> Facts:
    facts: Facts = {
        "stdin_is_a_terminal": sys.stdin.isatty(),
        "stderr_is_a_terminal": sys.stderr.isatty(),
        "TERM": env.get("TERM"),
        "COLORTERM": env.get("COLORTERM"),
        "NO_COLOR": env.get("NO_COLOR"),
        "TEXTUAL": {k: v for k, v in sorted(env.items()) if k.startswith("TEXTUAL_")},
        "LANG": env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG"),
        "encoding": locale.getpreferredencoding(False),
    }
    with contextlib.suppress(OSError):
        size = os.get_terminal_size(sys.stderr.fileno())
        facts["size"] = f"{size.columns}x{size.lines}"
    tmux = facts["tmux"] = tmux_facts(env)
    if warnings is not None and tmux and "version" in tmux:
        if tmux["set_clipboard"] not in ("on", "external"):
            warnings.append(
                "tmux set-clipboard is off: 'c' (copy the app URL, OSC 52) cannot reach "
                "your clipboard; add 'set -s set-clipboard on' to ~/.tmux.conf"
            )
        if tmux["escape_time"].isdigit() and int(tmux["escape_time"]) > 50:
            warnings.append(
                f"tmux escape-time is {tmux['escape_time']} ms: esc answers late; add "
                "'set -sg escape-time 10' to ~/.tmux.conf"
            )
    return facts


def tmux_facts(env: Mapping[str, str]) -> Facts | None:
    """Inside tmux: its version and the options that matter here (`set-clipboard` for
    `c`, OSC 52; `allow-passthrough` for desktop notifications; `escape-time` for esc)."""
    if not env.get("TMUX"):
        return None
    tmux = shutil.which("tmux", path=env.get("PATH"))
    if tmux is None:
        return {"inside": True, "error": "tmux is not in PATH"}

    def ask(*words: str) -> str:
        try:
            done = subprocess.run(
                [tmux, *words],
                capture_output=True,
                text=True,
                timeout=TMUX_TIMEOUT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unknown ({type(exc).__name__})"
        return (done.stdout or done.stderr).strip() or "unknown"

    return {
        "inside": True,
        "version": ask("-V"),
        "set_clipboard": ask("show", "-sv", "set-clipboard"),
        "allow_passthrough": ask("show", "-gv", "allow-passthrough"),
        "escape_time": ask("show", "-sv", "escape-time"),
    }


async def api_facts(config: Config, clock: Clock = SYSTEM_CLOCK) -> Facts:
    """One status request through the rate budget, about the first configured pipeline:
    does the API answer, and does it accept the key and token? Every outcome is a fact."""
    facts: Facts = {"base_url": config.api.base_url}
    if not config.pipelines:
        facts["check"] = "skipped: no pipeline in the config to ask about"
        return facts
    pid = config.pipelines[0].id
    started = time.monotonic()
    async with command_api(config, clock) as (client, budget):
        until = budget.locked_until
        if until is not None:
            facts["check"] = (
                f"skipped: the API locked this key out, {until - clock.now():.0f} s left"
            )
            return facts
        try:
            status = await asyncio.wait_for(
                client.get_status(pid, Priority.INTERACTIVE), API_WAIT + config.api.timeout
            )
        except TimeoutError:
            facts["check"] = f"no answer within {API_WAIT + config.api.timeout:.0f} s"
            return facts
        except RateLimited as exc:
            facts["check"] = f"rate limited by the API: {exc}"
            return facts
        except Unreachable as exc:
            facts["reachable"] = False
            facts["check"] = f"unreachable: {exc}"
            return facts
        except Rejected as exc:
            facts["reachable"] = True
            refusal = refusal_of(exc)
            if refusal is Refusal.NOT_FOUND:
                facts["check"] = (
                    f"the API answered that pipeline {pid} does not exist for this key: "
                    f"the key and token may be fine, the id is not ({exc})"
                )
            else:
                facts["credentials_accepted"] = False
                facts["check"] = f"refused: {exc} (check the key and token)"
            return facts
        except ApiError as exc:
            facts["reachable"] = True
            facts["check"] = f"an answer we cannot read: {exc}"
            return facts
    facts["reachable"] = True
    facts["credentials_accepted"] = True
    facts["check"] = (
        f"pipeline {pid} answered ({status.kind.label}) in {time.monotonic() - started:.1f} s"
    )
    return facts
