"""ConfigWatcher: a stat per interval, a reload only on change, failures held back once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.config import Config, PipelineEntry, append_pipeline, load_config
from kondado_tui.core.config.watch import (
    ConfigWatcher,
    Reloaded,
    ReloadFailed,
    pipeline_changes,
)


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # Same-second edits must still be seen: move the mtime on explicitly.
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))


class Rig:
    def __init__(self, tmp_path: Path, text: str = '[api]\nkey = "k"\n') -> None:
        self.path = tmp_path / "config.toml"
        self.path.write_text(text, encoding="utf-8")
        self.clock = ManualClock()
        self.loads = 0
        self.config = self.load()
        self.loads = 0
        self.watcher = ConfigWatcher(self.config, self.load, self.clock, interval=10.0)

    def load(self) -> Config:
        self.loads += 1
        return load_config(self.path, {}, require_credentials=False)

    def tick(self) -> Reloaded | ReloadFailed | None:
        self.clock.advance(10.0)
        return self.watcher.poll()


def test_nothing_changed_means_no_read(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for _ in range(5):
        assert rig.tick() is None
    assert rig.loads == 0


def test_at_most_one_stat_per_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kondado_tui.core.config import watch

    rig = Rig(tmp_path)
    stats: list[Path] = []
    real = watch.stamp_of
    monkeypatch.setattr(watch, "stamp_of", lambda path: stats.append(path) or real(path))
    rig.clock.advance(10.0)
    assert rig.watcher.poll() is None
    for _ in range(20):  # called every half second: still one stat per 10 s
        rig.clock.advance(0.5)
        rig.watcher.poll()
    assert len(stats) == 2  # at t = 10 s and t = 20 s
    assert rig.watcher.poll(force=True) is None
    assert len(stats) == 3


def test_an_added_pipeline_is_reported(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    append_pipeline(rig.path, PipelineEntry(2041, "Billing"))
    change = rig.tick()
    assert isinstance(change, Reloaded)
    assert change.settings_changed is False
    assert change.config.pipelines == (PipelineEntry(2041, "Billing"),)
    assert rig.loads == 1
    assert rig.tick() is None  # reported once


def test_an_editors_rename_is_seen(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    new = tmp_path / ".config.toml.swp"
    new.write_text('[api]\nkey = "k"\n\n[[pipelines]]\nid = 7\n', encoding="utf-8")
    os.replace(new, rig.path)  # a new inode, maybe the same size and second
    change = rig.tick()
    assert isinstance(change, Reloaded) and [p.id for p in change.config.pipelines] == [7]


def test_other_settings_are_flagged_for_the_next_start(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    write(rig.path, '[api]\nkey = "k"\n[ui]\nbell = false\n')
    change = rig.tick()
    assert isinstance(change, Reloaded) and change.settings_changed is True
    write(rig.path, '[api]\nkey = "k"\n[ui]\nbell = false\n\n[[pipelines]]\nid = 1\n')
    change = rig.tick()
    assert isinstance(change, Reloaded) and change.settings_changed is False


def test_a_broken_file_is_reported_once_after_it_settles(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    write(rig.path, '[api]\nkey = "k"\n\n[[pipelines]]\nid = "2041"\n')
    assert rig.tick() is None  # maybe an editor half way through: look once more
    failed = rig.tick()
    assert isinstance(failed, ReloadFailed)
    assert failed.message.startswith(f"{rig.path}:5: pipelines[1].id: must be a whole number")
    assert rig.watcher.failure == failed
    assert rig.tick() is None  # said once
    write(rig.path, '[api]\nkey = "k"\n\n[[pipelines]]\nid = 2041\n')
    fixed = rig.tick()
    assert isinstance(fixed, Reloaded) and [p.id for p in fixed.config.pipelines] == [2041]
    assert rig.watcher.failure is None


def test_a_half_written_file_that_is_then_finished_is_no_alarm(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    write(rig.path, '[api]\nkey = "k"\n\n[[pipelines]]\nid = ')
    assert rig.tick() is None
    write(rig.path, '[api]\nkey = "k"\n\n[[pipelines]]\nid = 9\n')
    change = rig.tick()
    assert isinstance(change, Reloaded) and [p.id for p in change.config.pipelines] == [9]


def test_force_reports_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    write(rig.path, "[api\n")
    failed = rig.watcher.poll(force=True)
    assert isinstance(failed, ReloadFailed) and "invalid TOML" in failed.message


def test_a_file_gone_for_a_moment_is_no_alarm_gone_for_good_is(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    text = rig.path.read_text()
    rig.path.unlink()
    assert rig.tick() is None
    rig.path.write_text(text)  # back, unchanged content but a new inode
    change = rig.tick()
    assert isinstance(change, Reloaded) and change.settings_changed is False
    rig.path.unlink()
    assert rig.tick() is None
    gone = rig.tick()
    assert isinstance(gone, ReloadFailed) and "gone" in gone.message
    assert rig.tick() is None


def test_pipeline_changes() -> None:
    shown = [PipelineEntry(1, "One"), PipelineEntry(2), PipelineEntry(3, None, "g")]
    loaded = [PipelineEntry(3, None, "h"), PipelineEntry(1, "One"), PipelineEntry(4, "Four")]
    changes = pipeline_changes(shown, loaded)
    assert changes.added == (PipelineEntry(4, "Four"),)
    assert changes.removed == (PipelineEntry(2),)
    assert changes.relabelled == (PipelineEntry(3, None, "h"),)
    assert changes.entries == tuple(loaded)
    assert changes.summary() == "added Four (4); removed 2; relabelled 3"
    assert not pipeline_changes(shown, shown)
