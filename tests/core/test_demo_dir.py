"""The demo's temporary directory goes away with the demo, and leftovers are swept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kondado_tui.core.config import PipelineEntry, append_pipeline, load_config
from kondado_tui.core.demo_dir import PREFIX, make_demo_dir, sweep_leftovers
from kondado_tui.core.session import open_demo

posix_only = pytest.mark.skipif(os.name != "posix", reason="owner ids and process ids")


def demo_dirs(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.name.startswith(PREFIX))


async def test_closing_the_demo_removes_its_directory(tmp_path: Path) -> None:
    session = open_demo(parent=tmp_path)
    (workdir,) = demo_dirs(tmp_path)
    assert session.config.path.parent == workdir
    assert (workdir / "config.toml").exists()
    await session.aclose()
    assert demo_dirs(tmp_path) == []


async def test_a_pipeline_added_in_the_demo_is_saved_to_its_config(tmp_path: Path) -> None:
    """The duplicate form and `a` save through append_pipeline: the demo's own config
    (an inline array written by tomli-w) takes the new entry."""
    session = open_demo(parent=tmp_path)
    try:
        path = session.config.path
        before = [p.id for p in session.config.pipelines]
        append_pipeline(path, PipelineEntry(987654, "Made in the demo"))
        after = load_config(path, env={}).pipelines
        assert [p.id for p in after] == [*before, 987654]
        assert path.read_text().startswith("# kondado-tui demo: the built-in simulator\n")
    finally:
        await session.aclose()


async def test_a_failed_start_leaves_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kondado_tui.core import session as session_module

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_module, "_open_demo_session", broken)
    with pytest.raises(OSError):
        open_demo(parent=tmp_path)
    assert demo_dirs(tmp_path) == []


@posix_only
def test_leftovers_of_ended_demos_are_swept(tmp_path: Path) -> None:
    running = make_demo_dir(tmp_path)  # this process's demo (it sweeps too: made first)
    # A demo killed with SIGKILL: its process is gone, its directory stayed.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    gone = tmp_path / f"{PREFIX}gone"
    gone.mkdir()
    (gone / "owner.pid").write_text(dead.stdout)
    (gone / "history.sqlite3").write_text("x")
    # One starting up (no pid file yet), an old unmarked one, a file, a symlink: with
    # the running one, only the dead and the old go.
    starting = tmp_path / f"{PREFIX}starting"
    starting.mkdir()
    old = tmp_path / f"{PREFIX}old"
    old.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (tmp_path / f"{PREFIX}file").write_text("not a directory")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / f"{PREFIX}link").symlink_to(target)

    removed = sweep_leftovers(tmp_path)

    assert sorted(removed) == sorted([gone, old])
    assert not gone.exists() and not old.exists()
    assert running.exists() and starting.exists() and target.exists()
    assert (tmp_path / f"{PREFIX}file").exists() and (tmp_path / f"{PREFIX}link").exists()


@posix_only
def test_a_new_demo_sweeps_before_it_starts(tmp_path: Path) -> None:
    stale = tmp_path / f"{PREFIX}stale"
    stale.mkdir()
    (stale / "owner.pid").write_text("999999999\n")  # no such process
    fresh = make_demo_dir(tmp_path)
    assert demo_dirs(tmp_path) == [fresh]
    assert (fresh / "owner.pid").read_text() == f"{os.getpid()}\n"
    assert (fresh.stat().st_mode & 0o777) == 0o700
