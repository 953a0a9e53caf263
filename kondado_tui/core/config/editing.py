"""Adding and removing pipelines in the user's file, whichever way its list is written,
and changing one setting (`set_setting`: the theme the dashboard remembers).

Saving never rewrites the file: `layout` inserts or cuts the one entry as text, so every
comment and blank line the user wrote survives byte for byte. Before the rename, the new
text is parsed again and must mean exactly the old document with that one change; all
edits are serialised by a lock on the directory and written atomically.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from kondado_tui.core.config.arrays import LayoutError
from kondado_tui.core.config.files import (
    NEW_FILE_MODE,
    atomic_write,
    make_dir,
    mode_of,
    target,
    write_lock,
)
from kondado_tui.core.config.layout import (
    KEY,
    inline_table,
    with_entry,
    with_setting,
    without_entry,
)
from kondado_tui.core.config.loading import parse_toml, read_text
from kondado_tui.core.config.model import MAX_PIPELINE_ID, PipelineEntry
from kondado_tui.core.config.validation import (
    LABEL_FIX,
    LABEL_PROBLEM,
    Reader,
    label_ok,
    validate,
)
from kondado_tui.core.errors import ConfigError


def _entry_table(entry: PipelineEntry) -> dict[str, Any]:
    table: dict[str, Any] = {"id": entry.id}
    if entry.name:
        table["name"] = entry.name
    if entry.group:
        table["group"] = entry.group
    return table


class EntryError(ConfigError):
    """A pipeline entry given by a user (an option, a form field) that cannot be saved;
    `field` names what is wrong: id, name or group."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(f"{field}: {problem}; {fix}")
        self.field = field
        self.problem = problem
        self.fix = fix


def normalize_entry(entry: PipelineEntry) -> PipelineEntry:
    """The entry as `load_config` would read it back (labels stripped, empty ones None);
    raises `EntryError` for a bad id or a label with control characters."""
    pid = entry.id
    whole = isinstance(pid, int) and not isinstance(pid, bool)
    if not whole or not 0 < pid <= MAX_PIPELINE_ID:
        problem = "is too large" if whole and pid > 0 else "is not a positive integer"
        raise EntryError(
            "id", f"{pid!r} {problem}", "use the number at the end of the pipeline's app URL"
        )
    labels: list[str | None] = []
    for field, value in (("name", entry.name), ("group", entry.group)):
        text = (value or "").strip()
        if not label_ok(text):
            raise EntryError(field, LABEL_PROBLEM, LABEL_FIX)
        labels.append(text or None)
    return PipelineEntry(pid, labels[0], labels[1])


def _verified(
    path: Path, new_text: str, old: dict[str, Any], pipelines: list[Any], fix: str
) -> None:
    """Parse and validate the text about to be written: it must be the old document with
    the pipelines list replaced by `pipelines`, and nothing else changed."""
    try:
        doc = tomllib.loads(new_text.removeprefix("\ufeff"))
        validate(Reader(path, new_text), doc)
    except (tomllib.TOMLDecodeError, ConfigError):
        raise _unsafe(path, "the result would not read back", fix) from None
    rest = {k: v for k, v in doc.items() if k != KEY}
    if rest != {k: v for k, v in old.items() if k != KEY} or doc.get(KEY, []) != pipelines:
        raise _unsafe(path, "the result would change more than that entry", fix)


def _unsafe(path: Path, why: str, fix: str) -> ConfigError:
    return ConfigError(
        f"{path}: could not edit the pipelines list safely ({why}); nothing was changed; {fix}"
    )


def _add_by_hand(entry_table: dict[str, Any]) -> str:
    return f"add the pipeline by hand: {inline_table(entry_table)}"


def append_pipeline(path: Path, entry: PipelineEntry) -> None:
    """Add the entry to the pipelines list, however it is written; create the list as
    `[[pipelines]]` tables at the end of the file when there is none.

    Creates the file (mode 0600, parent directories too) when it does not exist; refuses a
    pipeline that is already listed.
    """
    path = target(path)
    entry = normalize_entry(entry)
    make_dir(path.parent)
    with write_lock(path.parent):
        if path.exists():
            text = read_text(path)
            doc = parse_toml(path, text)
            current = validate(Reader(path, text), doc).pipelines
            mode = mode_of(path)
        else:
            text, doc, current, mode = "", {}, (), NEW_FILE_MODE
        for known in current:
            if known.id == entry.id:
                also = f" (as '{known.name}')" if known.name else ""
                raise ConfigError(
                    f"{path}: pipeline {entry.id} is already listed{also}; nothing to add"
                )
        table = _entry_table(entry)
        fix = _add_by_hand(table)
        try:
            new_text = with_entry(text, table)
        except LayoutError as exc:
            raise _unsafe(path, str(exc), fix) from None
        _verified(path, new_text, doc, [*doc.get(KEY, []), table], fix)
        atomic_write(path, new_text, mode)


def remove_pipeline(path: Path, pipeline_id: int) -> bool:
    """Cut that pipeline's entry out of the file (its `[[pipelines]]` block with the
    comments inside it, or its element of the inline array with a comment on its line),
    leaving every other byte as it was. False when the pipeline is not listed."""
    path = target(path)
    with write_lock(path.parent):
        text = read_text(path)
        doc = parse_toml(path, text)
        current = validate(Reader(path, text), doc).pipelines
        index = next((i for i, p in enumerate(current) if p.id == pipeline_id), None)
        if index is None:
            return False
        fix = f"remove the entry with id = {pipeline_id} by hand"
        try:
            new_text = without_entry(text, index)
        except LayoutError as exc:
            raise _unsafe(path, str(exc), fix) from None
        remaining = [t for i, t in enumerate(doc.get(KEY, [])) if i != index]
        _verified(path, new_text, doc, remaining, fix)
        atomic_write(path, new_text, mode_of(path))
        return True


def set_setting(path: Path, table: str, key: str, value: str | bool | int) -> None:
    """Set `[table] key = value` in the file, keeping every other byte (see
    `layout.with_setting`); creates the file (mode 0600) when there is none. The result
    must read back as the old document with that one value changed, or nothing is
    written."""
    path = target(path)
    make_dir(path.parent)
    fix = f"set it by hand: {inline_table({key: value})[2:-2]} in the [{table}] table"
    with write_lock(path.parent):
        if path.exists():
            text = read_text(path)
            doc = parse_toml(path, text)
            validate(Reader(path, text), doc)
            mode = mode_of(path)
        else:
            text, doc, mode = "", {}, NEW_FILE_MODE
        if isinstance(doc.get(table, {}), dict) and doc.get(table, {}).get(key) == value:
            return  # already so: the file is not touched
        try:
            new_text = with_setting(text, table, key, value)
        except (LayoutError, IndexError, ValueError) as exc:
            raise _unsafe(path, str(exc) or "an unexpected layout", fix) from None
        wanted = {**doc, table: {**doc.get(table, {}), key: value}}
        try:
            new_doc = tomllib.loads(new_text.removeprefix("\ufeff"))
            validate(Reader(path, new_text), new_doc)
        except (tomllib.TOMLDecodeError, ConfigError):
            raise _unsafe(path, "the result would not read back", fix) from None
        if new_doc != wanted:
            raise _unsafe(path, f"the result would change more than {table}.{key}", fix)
        atomic_write(path, new_text, mode)
