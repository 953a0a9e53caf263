"""Logins on one host, for the host-budget and viewers benchmarks and their system tests.

Each login gets a HOME of its own with the default config (the simulator's base URL, key
and token, the same pipelines, nothing else) and runs `_headless_login.py` there: the
real session and poller, no terminal. A login may run several (`Pane`s: panes of one
tmux, same HOME and uid). As root, each login can run as a user of its own (uids with no
account: the kernel needs none to run a process as one).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "benchmarks" / "_headless_login.py"
FIRST_UID = 61_401
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@dataclass
class Pane:
    """One headless dashboard of a login (the first is `login.proc`'s)."""

    out: Path
    proc: subprocess.Popen[str] | None = None

    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out.read_text())
        return data

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class Login:
    home: Path
    uid: int | None
    proc: subprocess.Popen[str] | None = None  # its first pane's
    panes: list[Pane] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.home / ".config" / "kondado-tui" / "config.toml"

    @property
    def out(self) -> Path:
        return self.home / "result.json"

    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out.read_text())
        return data

    def remove(self) -> None:
        for pane in self.panes:
            pane.kill()
        shutil.rmtree(self.home, ignore_errors=True)


@functools.cache
def interpreter_for(uid: int) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
    """A Python another user can run with this package importable: ours, or (when ours
    lives where only root can reach, e.g. under /root) the system's of the same minor
    version on our site-packages. None when there is none."""
    paths = os.pathsep.join([*site.getsitepackages(), str(ROOT)])
    system = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
    candidates: list[tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = [
        ((sys.executable,), ()),
        ((system,), (("PYTHONPATH", paths),)),
    ]
    for argv, env in candidates:
        try:
            done = subprocess.run(
                [*argv, "-c", "import kondado_tui.core.session"],
                env={"PATH": os.environ.get("PATH", ""), **dict(env)},
                user=uid,
                group=uid,
                extra_groups=[],
                cwd="/",
                capture_output=True,
                timeout=60,
            )
        except OSError:
            continue
        if done.returncode == 0:
            return argv, env
    return None


def make_logins(
    base_url: str, key: str, token: str, ids: list[int], count: int, *, real_uids: bool
) -> list[Login]:
    made = []
    for n in range(count):
        uid = FIRST_UID + n if real_uids else None
        home = Path(tempfile.mkdtemp(prefix=f"kondado-login{n}-", dir="/tmp"))
        login = Login(home, uid)
        login.config.parent.mkdir(parents=True)
        write_config(login, base_url, key, token, ids)
        if uid is not None:
            for path in (home, *home.rglob("*")):
                os.chown(path, uid, uid)
        made.append(login)
    return made


def write_config(login: Login, base_url: str, key: str, token: str, ids: Iterable[int]) -> None:
    """The default config: the account and the pipelines, nothing else."""
    document = {
        "api": {"base_url": base_url, "key": key, "token": token},
        "pipelines": [{"id": pid} for pid in ids],
    }
    login.config.write_text(tomli_w.dumps(document))
    login.config.chmod(0o600)
    if login.uid is not None:
        os.chown(login.config, login.uid, login.uid)


def start(
    login: Login,
    seconds: float,
    env: dict[str, str] | None = None,
    *,
    shared: bool = False,
    end_at: float | None = None,
) -> Pane:
    """Start a headless dashboard of the login (its first, or another pane); `ready`
    waits for it to say so. `shared`: the session `kondado-tui` opens since issue 15
    (the account's collector or a viewer); `end_at`: the wall-clock time it ends."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "KONDADO_TUI_C"))}
    keep |= {"HOME": str(login.home), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    python: tuple[str, ...] = (sys.executable,)
    if login.uid is not None:
        found = interpreter_for(login.uid)
        if found is None:
            raise RuntimeError("no Python this package imports in is runnable by another user")
        python, extra = found
        keep |= dict(extra)
    out = login.out if not login.panes else login.home / f"result{len(login.panes)}.json"
    options = (["--shared"] if shared else []) + ([f"--end-at={end_at}"] if end_at else [])
    proc = subprocess.Popen(
        [*python, str(DRIVER), str(login.config), str(seconds), str(out), *options],
        env=keep,
        cwd=login.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        user=login.uid,
        group=login.uid,
        extra_groups=[] if login.uid is not None else None,
    )
    pane = Pane(out, proc)
    if not login.panes:
        login.proc = proc
    login.panes.append(pane)
    return pane


def ready(login: Login | Pane) -> str:
    """The driver's `login ready serving=… role=…` line (it has a broker, or limits
    itself; as a shared session, it is the collector or a viewer)."""
    assert login.proc is not None and login.proc.stdout is not None
    line = login.proc.stdout.readline()
    if not line.startswith("login ready"):
        err = login.proc.stderr.read() if login.proc.stderr else ""
        raise RuntimeError(f"the login did not start: {line}{err}")
    return line


def finish(login: Login | Pane, timeout: float) -> dict[str, Any]:
    assert login.proc is not None
    _, err = login.proc.communicate(timeout=timeout)
    if login.proc.returncode != 0 or "Traceback" in err:
        raise RuntimeError(f"the login failed ({login.proc.returncode}): {err}")
    return login.result()
