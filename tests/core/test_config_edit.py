"""append_pipeline / remove_pipeline: atomic, keep the user's bytes, never break the file."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kondado_tui.core.config import (
    PipelineEntry,
    append_pipeline,
    files,
    layout,
    load_config,
    remove_pipeline,
)
from kondado_tui.core.config.scanner import Line
from kondado_tui.core.config.validation import label_ok
from kondado_tui.core.errors import ConfigError

ORIGINAL = r'''# My Kondado monitor.   (odd   spacing kept)
[api]
key = "k"          # the key id
token_command = "pass show kondado"

[ui]
bell = false

# --- pipelines ---
[[pipelines]]   # the first one
id = 2040
name = "Orders"
# group = "ecommerce"   (commented out on purpose)

# Billing belongs to Ana.
[[pipelines]]
id = 2041
group = "finance"
name = """\
    # not a comment \
    [not-a-header]"""

[[pipelines]]
id = 2042
'''


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(mode)
    return path


def ids(path: Path) -> list[int]:
    return [p.id for p in load_config(path, {}, require_credentials=False).pipelines]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "config.toml")


# -- append -----------------------------------------------------------------------------


def test_append_adds_one_block_and_keeps_every_byte(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    append_pipeline(path, PipelineEntry(7, 'Say "hi" ☃', "ops"))
    assert (
        path.read_text() == ORIGINAL + '\n[[pipelines]]\nid = 7\nname = "Say \\"hi\\" ☃"\n'
        'group = "ops"\n'
    )
    assert load_config(path, {}, require_credentials=False).pipelines[-1] == PipelineEntry(
        7, 'Say "hi" ☃', "ops"
    )
    assert leftovers(tmp_path) == []  # no temp file left behind


def test_append_to_a_file_without_final_newline(tmp_path: Path) -> None:
    path = write(tmp_path, '[api]\nkey = "k"')
    append_pipeline(path, PipelineEntry(1))
    assert path.read_text() == '[api]\nkey = "k"\n\n[[pipelines]]\nid = 1\n'


def test_append_keeps_windows_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, '# c\r\n[api]\r\nkey = "k"\r\n')
    append_pipeline(path, PipelineEntry(3, "three"))
    assert (
        path.read_bytes() == b'# c\r\n[api]\r\nkey = "k"\r\n\r\n[[pipelines]]\r\nid = 3\r\n'
        b'name = "three"\r\n'
    )


def test_append_creates_a_private_file_and_its_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "config.toml"
    append_pipeline(path, PipelineEntry(5, None, "g"))
    assert path.read_text() == '[[pipelines]]\nid = 5\ngroup = "g"\n'
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_append_keeps_an_existing_mode(tmp_path: Path) -> None:
    path = write(tmp_path, '[api]\nkey = "k"\n', mode=0o640)
    append_pipeline(path, PipelineEntry(5))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_append_refuses_a_duplicate_and_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    before = path.stat()
    with pytest.raises(ConfigError, match=r"pipeline 2040 is already listed \(as 'Orders'\)"):
        append_pipeline(path, PipelineEntry(2040))
    assert path.read_text() == ORIGINAL
    assert path.stat().st_ino == before.st_ino


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (PipelineEntry(0), "not a positive integer"),
        (PipelineEntry(-1), "not a positive integer"),
        (PipelineEntry(True), "not a positive integer"),  # type: ignore[arg-type]
        (PipelineEntry(4, "bad\x1b]52;c;aGk=\x07"), "control characters"),
        (PipelineEntry(4, None, "two\nlines"), "control characters"),
    ],
)
def test_append_refuses_a_bad_entry(tmp_path: Path, entry: PipelineEntry, message: str) -> None:
    path = write(tmp_path, ORIGINAL)
    with pytest.raises(ConfigError, match=message):
        append_pipeline(path, entry)
    assert path.read_text() == ORIGINAL


def test_append_stores_blank_labels_as_absent(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    append_pipeline(path, PipelineEntry(9, "  Nine ", "  "))
    assert path.read_text() == '[[pipelines]]\nid = 9\nname = "Nine"\n'


def test_append_refuses_to_touch_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[api]\nrequests_per_minute = 99\n")
    with pytest.raises(ConfigError, match=r"api\.requests_per_minute"):
        append_pipeline(path, PipelineEntry(1))
    assert path.read_text() == "[api]\nrequests_per_minute = 99\n"


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_append_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "kondado.toml"
    real.parent.mkdir()
    real.write_text('[api]\nkey = "k"\n')
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    append_pipeline(link, PipelineEntry(1))
    assert link.is_symlink()
    assert real.read_text().endswith("[[pipelines]]\nid = 1\n")


def test_a_failed_write_leaves_the_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, ORIGINAL)

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(ConfigError, match=r"No space left on device\); nothing was changed"):
        append_pipeline(path, PipelineEntry(1))
    assert path.read_text() == ORIGINAL
    assert leftovers(tmp_path) == []


# -- remove -----------------------------------------------------------------------------


def test_remove_cuts_exactly_one_block(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    assert remove_pipeline(path, 2040) is True
    # The entry and the comment inside it go; the comment that sits on the next entry's
    # header stays, and so does everything else.
    expected = ORIGINAL.replace(
        '[[pipelines]]   # the first one\nid = 2040\nname = "Orders"\n'
        '# group = "ecommerce"   (commented out on purpose)\n\n',
        "",
    )
    assert path.read_text() == expected
    assert ids(path) == [2041, 2042]
    assert leftovers(tmp_path) == []


def test_remove_an_entry_holding_a_multiline_string(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    assert remove_pipeline(path, 2041) is True
    start = ORIGINAL.index("[[pipelines]]\nid = 2041")
    end = ORIGINAL.index("[[pipelines]]\nid = 2042")
    assert path.read_text() == ORIGINAL[:start] + ORIGINAL[end:]
    assert ids(path) == [2040, 2042]


def test_remove_the_last_entry(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    assert remove_pipeline(path, 2042) is True
    assert path.read_text() == ORIGINAL[: ORIGINAL.index("\n\n[[pipelines]]\nid = 2042")] + "\n"


def test_remove_every_entry(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    for pid in (2041, 2042, 2040):
        assert remove_pipeline(path, pid)
    assert ids(path) == []
    text = path.read_text()
    assert text.startswith(ORIGINAL[: ORIGINAL.index("[[pipelines]]   # the first one")])
    assert "# Billing belongs to Ana." in text


def test_remove_an_absent_pipeline_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    inode = path.stat().st_ino
    assert remove_pipeline(path, 99) is False
    assert path.read_text() == ORIGINAL
    assert path.stat().st_ino == inode


def test_remove_from_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no config file there; create one with .*init"):
        remove_pipeline(tmp_path / "config.toml", 1)


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
def test_remove_keeps_the_mode(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL, mode=0o604)
    remove_pipeline(path, 2040)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_a_wrong_cut_is_caught_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-validation guards the file: a cut that would change other data is refused."""
    path = write(tmp_path, ORIGINAL)
    real_span = layout.entry_span

    def too_wide(lines: list[Line], index: int) -> tuple[int, int]:
        start, _ = real_span(lines, index)
        return start, len(ORIGINAL)  # would also drop the entries after it

    monkeypatch.setattr(layout, "entry_span", too_wide)
    with pytest.raises(ConfigError, match="nothing was changed"):
        remove_pipeline(path, 2040)
    assert path.read_text() == ORIGINAL


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    """The TUI and the CLI may save at once: the directory lock serialises them."""
    path = write(tmp_path, '[api]\nkey = "k"\n')
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda pid: append_pipeline(path, PipelineEntry(pid)), range(1, 25)))
    assert sorted(ids(path)) == list(range(1, 25))
    assert leftovers(tmp_path) == []


def test_add_then_remove_gives_back_the_same_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, ORIGINAL)
    append_pipeline(path, PipelineEntry(77, "x", "y"))
    assert remove_pipeline(path, 77)
    assert path.read_text() == ORIGINAL


labels = st.none() | st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf"), blacklist_characters="\x7f\u2028\u2029"),
    max_size=30,
).filter(label_ok)  # what a config may hold: shown as it is (no stray variation selector)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.lists(
        st.builds(PipelineEntry, st.integers(1, 10**12), labels, labels),
        max_size=5,
        unique_by=lambda e: e.id,
    )
)
def test_any_entries_round_trip(tmp_path: Path, entries: list[PipelineEntry]) -> None:
    base = ORIGINAL.split("# --- pipelines ---")[0].rstrip("\n") + "\n"
    path = write(tmp_path, base)
    for entry in entries:
        append_pipeline(path, entry)
    loaded = load_config(path, {}, require_credentials=False).pipelines
    assert [(p.id, p.name, p.group) for p in loaded] == [
        (e.id, (e.name or "").strip() or None, (e.group or "").strip() or None) for e in entries
    ]
    for entry in reversed(entries):
        assert remove_pipeline(path, entry.id)
    assert path.read_text() == base
