"""`kondado-tui __complete pipelines [--shell S] [--config PATH] [-- PREFIX]`.

The completion scripts call it for the pipelines of the config, on every TAB, so it reads
the file and nothing else: `tomllib` on the config (found as every command finds it:
`--config`, `$KONDADO_TUI_CONFIG`, the XDG default), never the token, never
`token_command`, no network, no rate budget, no history. It is started before the rest
of the command line is imported (`kondado_tui.cli.run`): about as fast as Python starts.
It never fails loudly either: a missing or broken config offers nothing, and the user
sees the error when the command runs.

Names come from a file anyone may have edited, so they are cleaned (escape sequences
and control characters gone, one line, cut to `NAME_CELLS`) before a shell shows them.
A prefix matches the start of an id, or any part of a name (case-insensitive): in bash
and zsh, `run shop<TAB>` becomes `run 2040` when one name holds "shop".
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from typing import TextIO

from kondado_tui.core import paths
from kondado_tui.core.guards.sanitize import clean, truncate

COMMAND = "__complete"
NAME_CELLS = 60
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a config is a few KiB; never read a huge file on TAB
MAX_ID = 2**63 - 1  # as the loader (config.model.MAX_PIPELINE_ID), without importing it
SHELLS = ("bash", "zsh", "fish")


def pipelines(path: os.PathLike[str] | str) -> Iterator[tuple[int, str]]:
    """(id, cleaned name) of each pipeline entry in the file at `path`, in file order.
    Anything unreadable or not an entry is skipped: this is a hint, not a check."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            return
        doc = tomllib.loads(data.decode("utf-8").removeprefix("\ufeff"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    entries = doc.get("pipelines")
    if not isinstance(entries, list):
        return
    seen: set[int] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        pid, name = entry.get("id"), entry.get("name")
        if type(pid) is not int or not 1 <= pid <= MAX_ID or pid in seen:
            continue
        seen.add(pid)
        shown = truncate(" ".join(clean(name).split()), NAME_CELLS) if isinstance(name, str) else ""
        yield pid, shown


def matches(prefix: str, pid: int, name: str) -> bool:
    if not prefix:
        return True
    if str(pid).startswith(prefix):
        return True
    return not prefix.isdigit() and prefix.casefold() in name.casefold()


def line(shell: str, pid: int, name: str) -> str:
    """One candidate as `shell` reads it: bash takes words alone, zsh `value:description`
    (`_describe`), fish `value<TAB>description`."""
    if shell == "bash" or not name:
        return str(pid)
    return f"{pid}:{name}" if shell == "zsh" else f"{pid}\t{name}"


def run_complete(
    argv: Sequence[str], out: TextIO | None = None, env: Mapping[str, str] | None = None
) -> int:
    """`argv` is what follows `__complete`. Exit status 0, even when nothing matched."""
    out = sys.stdout if out is None else out
    words = list(argv)
    what = words.pop(0) if words else ""
    shell, config, prefix = "bash", None, ""
    while words:
        word = words.pop(0)
        if word == "--":
            prefix = words[0] if words else ""
            break
        if word in ("--shell", "--config") and words:
            value = words.pop(0)
            if word == "--shell":
                shell = value if value in SHELLS else shell
            else:
                config = value or None
    if what != "pipelines":
        return 0
    try:
        path = paths.config_path(config, env)
        found = [(pid, name) for pid, name in pipelines(path) if matches(prefix, pid, name)]
        out.write("".join(line(shell, pid, name) + "\n" for pid, name in found))
        out.flush()
    except (OSError, ValueError):  # a closed pipe (the shell gave up), a strange path
        pass
    return 0
