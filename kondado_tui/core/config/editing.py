"""Adding and removing pipelines in the user's file. Saving never rewrites it: a new
`[[pipelines]]` entry is appended as text and a removed one is cut out as text, so every
comment and blank line the user wrote survives byte for byte."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from kondado_tui.core.config.files import (
    NEW_FILE_MODE,
    atomic_write,
    make_dir,
    mode_of,
    target,
    write_lock,
)
from kondado_tui.core.config.loading import parse_toml, read_text
from kondado_tui.core.config.model import PipelineEntry
from kondado_tui.core.config.scanner import Line, scan
from kondado_tui.core.config.validation import Reader, validate
from kondado_tui.core.errors import ConfigError


def _entry_table(entry: PipelineEntry) -> dict[str, Any]:
    table: dict[str, Any] = {"id": entry.id}
    if entry.name:
        table["name"] = entry.name
    if entry.group:
        table["group"] = entry.group
    return table


def normalize_entry(path: Path, entry: PipelineEntry) -> PipelineEntry:
    """The entry as `load_config` would read it back (labels stripped, empty ones None);
    raises `ConfigError` for a bad id or a label with control characters."""
    if isinstance(entry.id, bool) or not isinstance(entry.id, int) or entry.id <= 0:
        raise ConfigError(
            f"{path}: pipelines.id: {entry.id!r} is not a positive integer; "
            "use the number at the end of the pipeline's app URL"
        )
    table = _entry_table(PipelineEntry(entry.id, entry.name, entry.group))
    text = "[[pipelines]]\n" + tomli_w.dumps(table)
    return validate(Reader(path, text), tomllib.loads(text)).pipelines[0]


def _verified(path: Path, new_text: str, expected: dict[str, Any]) -> None:
    """Parse and validate the text about to be written; it must mean exactly `expected`."""
    try:
        doc = tomllib.loads(new_text.removeprefix("\ufeff"))
        validate(Reader(path, new_text), doc)
    except (tomllib.TOMLDecodeError, ConfigError) as exc:
        raise ConfigError(
            f"{path}: the edit would break the file ({exc}); nothing was "
            "changed, edit the file by hand"
        ) from None
    if doc != expected:
        raise ConfigError(
            f"{path}: could not edit the file safely (unusual layout); nothing "
            "was changed, edit the [[pipelines]] entries by hand"
        )


def append_pipeline(path: Path, entry: PipelineEntry) -> None:
    """Add a `[[pipelines]]` entry at the end of the file, keeping everything else.

    Creates the file (mode 0600, parent directories too) when it does not exist; refuses a
    pipeline that is already listed.
    """
    path = target(path)
    entry = normalize_entry(path, entry)
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
        newline = "\r\n" if "\r\n" in text else "\n"
        block = "[[pipelines]]\n" + tomli_w.dumps(_entry_table(entry))
        if text and not text.endswith("\n"):
            text += newline
        if text.strip() and not text.endswith(newline * 2):
            text += newline
        new_text = text + block.replace("\n", newline)
        expected = {**doc, "pipelines": [*doc.get("pipelines", []), _entry_table(entry)]}
        _verified(path, new_text, expected)
        atomic_write(path, new_text, mode)


def remove_pipeline(path: Path, pipeline_id: int) -> bool:
    """Cut that pipeline's `[[pipelines]]` block out of the file (comments inside it too),
    leaving every other byte as it was. False when the pipeline is not listed."""
    path = target(path)
    with write_lock(path.parent):
        text = read_text(path)
        doc = parse_toml(path, text)
        current = validate(Reader(path, text), doc).pipelines
        index = next((i for i, p in enumerate(current) if p.id == pipeline_id), None)
        if index is None:
            return False
        start, end = _entry_span(scan(text), index)
        new_text = text[:start] + text[end:]
        remaining = [t for i, t in enumerate(doc.get("pipelines", [])) if i != index]
        expected = {k: v for k, v in doc.items() if k != "pipelines"}
        if remaining:
            expected["pipelines"] = remaining
        _verified(path, new_text, expected)
        atomic_write(path, new_text, mode_of(path))
        return True


def _entry_span(lines: list[Line], index: int) -> tuple[int, int]:
    """Text offsets of the index-th `[[pipelines]]` block.

    The block runs from its header to the next header. Comment lines written directly
    above the next header belong to that one and stay; blank lines after the block go.
    """
    headers = [
        n
        for n, line in enumerate(lines)
        if line.kind == "header" and line.name == "pipelines" and line.index is not None
    ]
    starts = [lines[n].index for n in headers]
    if starts != list(range(len(starts))) or index >= len(headers):
        raise ConfigError("could not find the entry's [[pipelines]] header; edit it by hand")
    first = headers[index]
    following = next(
        (n for n in range(first + 1, len(lines)) if lines[n].kind == "header"), len(lines)
    )
    last = first  # the last line that says something about this entry
    for n in range(first + 1, following):
        if lines[n].kind in ("key", "more"):
            last = n
    stop = last + 1
    while stop < following and lines[stop].kind == "comment":
        stop += 1
    if stop == following and following < len(lines):
        stop = last + 1  # those comments sit on the next header: leave them to it
    while stop < following and lines[stop].kind == "blank":
        stop += 1
    if stop < len(lines):
        return lines[first].start, lines[stop].start
    # The last entry: take the blank lines that separated it too, so that adding and then
    # removing a pipeline gives back the very same file.
    while first > 0 and lines[first - 1].kind == "blank":
        first -= 1
    return lines[first].start, sum(len(line.text) for line in lines)
