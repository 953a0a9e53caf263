"""Writing config files safely: through symlinks, under a lock shared by every
kondado-tui process, atomically (temp file, fsync, rename, fsync of the directory)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from kondado_tui.core import paths
from kondado_tui.core.errors import ConfigError

NEW_FILE_MODE = 0o600


def target(path: Path) -> Path:
    """Write through a symlink (dotfile managers link the config) rather than replace it."""
    path = paths.expand(path)
    return path.resolve() if path.is_symlink() else path


@contextmanager
def write_lock(directory: Path) -> Iterator[None]:
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


def make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"{directory}: cannot create the config directory ({exc.strerror}); "
            "create it yourself or choose another path with --config"
        ) from None


def fsync_dir(directory: Path) -> None:
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


def atomic_write(path: Path, text: str, mode: int) -> None:
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
    fsync_dir(directory)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
