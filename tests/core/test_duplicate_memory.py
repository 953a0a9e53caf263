"""Remembered mappings: per base pipeline, atomic, private, never a secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kondado_tui.core import duplicate, private_file
from kondado_tui.core.duplicate import (
    DuplicateDraft,
    MappingMemory,
    ParamRow,
    TableRow,
    build_body,
)
from kondado_tui.core.errors import KondadoError
from kondado_tui.core.guards.redact import register_secret


def body_for(base: str = "2040", **params: str) -> dict[str, object]:
    return build_body(
        DuplicateDraft(
            base_id=base,
            src="311",
            dest="412",
            client="77",
            name="copy",
            full_tables=[TableRow("", "acme_orders"), TableRow("items", "acme_items")],
            delta_tables=[TableRow("", "acme_orders_d")],
            parameters=[ParamRow(k, v) for k, v in params.items()],
        )
    )


def test_recall_gives_back_tables_and_parameters_but_not_ids(tmp_path: Path) -> None:
    memory = MappingMemory(tmp_path / "state" / "dup.json")
    assert memory.recall(2040) is None
    memory.remember(body_for(ids="[1, 2]", code='"12"', start="2024-01-01"))
    draft = memory.recall(2040)
    assert draft is not None
    assert draft.base_id == "2040"
    assert (draft.src, draft.dest, draft.client, draft.name) == ("", "", "", "")
    assert draft.full_tables == [TableRow("", "acme_orders"), TableRow("items", "acme_items")]
    assert draft.delta_tables == [TableRow("", "acme_orders_d")]
    assert [(p.name, p.value) for p in draft.parameters] == [
        ("ids", "[1, 2]"),
        ("code", '"12"'),
        ("start", "2024-01-01"),
    ]
    assert memory.recall(9999) is None
    assert memory.note is None


def test_the_file_is_private_and_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    MappingMemory(path).remember(body_for())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["dup.json"]  # no temp file left


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dup.json"
    memory = MappingMemory(path)
    memory.remember(body_for())
    before = path.read_text()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(private_file.os, "replace", broken_replace)
    with pytest.raises(KondadoError, match="No space left on device"):
        memory.remember(body_for(base="3000"))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["dup.json"]


def test_values_of_secret_looking_parameters_are_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    memory = MappingMemory(path)
    memory.remember(body_for(db_password="hunter2x", api_key="abcd1234", start="2024"))
    assert "hunter2x" not in path.read_text()
    assert "abcd1234" not in path.read_text()
    draft = memory.recall(2040)
    assert draft is not None
    assert {p.name: p.value for p in draft.parameters} == {
        "db_password": "",
        "api_key": "",
        "start": "2024",
    }


def test_a_registered_secret_is_never_written(tmp_path: Path) -> None:
    register_secret("tok-SECRET-123")
    path = tmp_path / "dup.json"
    with pytest.raises(KondadoError, match="contain the API token") as info:
        MappingMemory(path).remember(body_for(note="tok-SECRET-123"))
    assert "tok-SECRET-123" not in str(info.value)
    assert not path.exists()


@pytest.mark.parametrize("text", ["{not json", "[]", '{"pipelines": 3}', "\xff\xfe"])
def test_a_corrupt_file_is_ignored_with_a_note_and_replaced(tmp_path: Path, text: str) -> None:
    path = tmp_path / "dup.json"
    path.write_bytes(text.encode("latin-1"))
    memory = MappingMemory(path)
    assert memory.recall(2040) is None
    assert memory.note is not None and "ignored" in memory.note and str(path) in memory.note
    memory.remember(body_for())
    assert memory.recall(2040) is not None
    assert memory.note is None


def test_a_bad_entry_is_ignored_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text(json.dumps({"version": 1, "pipelines": {"2040": {"full_tables": 5}}}))
    memory = MappingMemory(path)
    assert memory.recall(2040) is None
    assert memory.note is not None and "2040" in memory.note


def test_only_the_most_recent_bases_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duplicate, "MEMORY_LIMIT", 3)
    memory = MappingMemory(tmp_path / "dup.json")
    for base in ("1", "2", "3", "1", "4"):
        memory.remember(body_for(base=base))
    assert memory.recall(2) is None
    assert all(memory.recall(b) is not None for b in (1, 3, 4))


def test_the_default_path_is_in_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert MappingMemory().path.parent == tmp_path / "kondado-tui"
