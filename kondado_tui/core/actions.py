"""Runs and duplicates: what is known after one fails, and the sends whose outcome is not.

A failed run or duplicate either did nothing (refused, rate limited, never sent:
`errors.Outcome.NOT_DONE`) or may have been carried out (the answer was lost or
unreadable after the request went out: `Outcome.UNKNOWN`). The CLI and the dashboard say
so in the same words, from here, and never both at once.

An unknown outcome is remembered (`DoubtLog`, a small file in the state dir shared by
every process of the user), so that sending the same thing again (the same run, or a
body with the same base, destination and tables) asks a second time, naming the risk:
a second pipeline and its tables recreated, or a second run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.durations import format_age
from kondado_tui.core.errors import ApiError, Outcome, RateLimited
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.core.private_file import write_private

log = logging.getLogger(__name__)

DOUBTS_VERSION = 1
DOUBTS_LIMIT = 100  # remembered sends; the oldest are forgotten first
# How long a send of unknown outcome makes the same send ask twice. A run shows in the
# pipeline's status within minutes; a duplicate may sit unnoticed for days.
RUN_DOUBT_SECONDS = 3600.0
DUPLICATE_DOUBT_SECONDS = 7 * 86400.0
TABLES_NAMED = 6  # table names listed in a warning before "and N more"


class Action(Enum):
    RUN = "run"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Target:
    """One thing a user may send twice: a run of a pipeline, or a duplicate body."""

    action: Action
    key: str  # what "the same send" means (stored, so no secret in it)
    label: str  # for a person: "pipeline 2040", "a copy of 2040 into destination 7002"
    tables: tuple[str, ...] = ()  # tables a duplicate creates (or recreates)

    @property
    def lifetime(self) -> float:
        return RUN_DOUBT_SECONDS if self.action is Action.RUN else DUPLICATE_DOUBT_SECONDS


def run_target(pipeline_id: int, label: str | None = None) -> Target:
    return Target(Action.RUN, f"run:{pipeline_id}", label or f"pipeline {pipeline_id}")


def duplicate_target(body: Mapping[str, Any]) -> Target:
    """The same base, destination and table names make the same send (a changed name or
    parameter does not make a second pipeline any less of a risk)."""
    base, dest = body.get("pipeline_id"), body.get("dest_collection_id")
    tables: list[str] = []
    for section in ("full_tables", "deltas_tables"):
        names = body.get(section)
        if isinstance(names, Mapping):
            tables += [str(name) for name in names.values()]
    unique = tuple(sorted(set(tables)))
    digest = hashlib.sha256(json.dumps([base, dest, unique]).encode("utf-8")).hexdigest()
    label = f"a copy of pipeline {base} into destination {dest}"
    return Target(Action.DUPLICATE, f"duplicate:{base}:{dest}:{digest[:16]}", label, unique)


def _tables(names: tuple[str, ...]) -> str:
    shown = [clean(name, keep_newlines=False) for name in names[:TABLES_NAMED]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def after_failure(exc: ApiError, target: Target) -> str:
    """What a user can rely on after `exc` ended a run or a duplicate: only what is known.
    The API's own failure (`str(exc)`) is shown before this."""
    duplicate = target.action is Action.DUPLICATE
    if exc.outcome is Outcome.UNKNOWN:
        if duplicate:
            return (
                "The request went out and no readable answer came back: the pipeline may "
                "have been created. Look for it in the Kondado app before sending "
                "again: a second send may create a second pipeline and recreate its tables."
            )
        return (
            "The request went out and no readable answer came back: the run may have "
            f"been queued. Check {target.label} in the app before running it again."
        )
    nothing = "Nothing was created" if duplicate else "Nothing was queued"
    if isinstance(exc, RateLimited):
        return f"{nothing}; try again in {exc.retry_after:.0f} s."
    return f"{nothing}."


@dataclass(frozen=True)
class Doubt:
    """An earlier send of the same thing whose outcome is unknown."""

    key: str
    at: float
    label: str
    error: str

    def warning(self, target: Target, now: float) -> str:
        """The second confirmation's words: when, what happened, what sending risks."""
        ago = format_age(max(0.0, now - self.at))
        head = (
            f"The same request was sent {ago} ago and its outcome is unknown "
            f"({clean(self.error, keep_newlines=False)})."
        )
        if target.action is Action.DUPLICATE:
            risk = (
                f" {target.label.capitalize()} may exist already. Sending again may create "
                "a SECOND pipeline, and recreate these tables (their data replaced): "
                f"{_tables(target.tables)}. Look in the Kondado app first."
            )
        else:
            risk = (
                f" {target.label.capitalize()} may be queued or running already: running "
                "it again may run it twice. Check its status first."
            )
        return head + risk


class DoubtLog:
    """Sends of unknown outcome, per `Target.key`. `path` None keeps them in memory
    (tests, a session without a state dir). Never raises: a file that cannot be read or
    written is reported in `note`, and memory still holds this process's doubts."""

    def __init__(self, path: Path | None, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: dict[str, dict[str, Any]] = {}
        self.note = ""

    def note_unknown(self, target: Target, exc: ApiError) -> None:
        """Remember that `target` was sent and its outcome is unknown."""
        entry = {
            "at": self._clock.now(),
            "label": target.label,
            "error": redact(str(exc))[:300],
            "lifetime": target.lifetime,
        }
        with self._lock:
            entries = self._load()
            entries.pop(target.key, None)  # re-inserted last: kept longest
            entries[target.key] = entry
            self._save(entries)

    def find(self, target: Target) -> Doubt | None:
        """The earlier send of unknown outcome of the same thing, if it is recent."""
        with self._lock:
            entry = self._load().get(target.key)
        if entry is None:
            return None
        return Doubt(target.key, float(entry["at"]), str(entry["label"]), str(entry["error"]))

    def warning(self, target: Target) -> str | None:
        """The second confirmation's words when `target` went out before with an unknown
        outcome, recently (None: nothing to ask)."""
        doubt = self.find(target)
        return None if doubt is None else doubt.warning(target, self._clock.now())

    def clear(self, target: Target) -> None:
        """The same send worked: the user confirmed the risk and saw the answer."""
        with self._lock:
            entries = self._load()
            if entries.pop(target.key, None) is not None:
                self._save(entries)

    # -- the file ------------------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Any]]:
        now = self._clock.now()
        entries = dict(self._memory)
        if self.path is not None:
            entries = {**self._read(), **entries}
        return {
            key: entry
            for key, entry in entries.items()
            if now - entry["at"] < entry.get("lifetime", DUPLICATE_DOUBT_SECONDS)
        }

    def _read(self) -> dict[str, dict[str, Any]]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.note = f"earlier sends of unknown outcome ignored: cannot read {self.path} ({exc})"
            return {}
        entries = data.get("sends") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            return {}
        good: dict[str, dict[str, Any]] = {}
        for key, entry in entries.items():
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("at"), int | float)
                and isinstance(entry.get("lifetime", 0.0), int | float)
            ):
                good[str(key)] = {
                    "at": float(entry["at"]),
                    "label": str(entry.get("label", "")),
                    "error": str(entry.get("error", "")),
                    "lifetime": float(entry.get("lifetime", DUPLICATE_DOUBT_SECONDS)),
                }
        return good

    def _save(self, entries: dict[str, dict[str, Any]]) -> None:
        while len(entries) > DOUBTS_LIMIT:
            entries.pop(next(iter(entries)))
        self._memory = dict(entries)  # this process remembers even if the file fails
        if self.path is None:
            return
        text = json.dumps({"version": DOUBTS_VERSION, "sends": entries}, indent=2)
        try:
            write_private(self.path, text + "\n")
        except OSError as exc:
            self.note = f"could not remember a send of unknown outcome in {self.path}: {exc}"
            log.warning("%s", self.note)
            return
        self.note = ""
        self._memory = {}  # the file holds them now (and other processes' clears count)


__all__ = [
    "Action",
    "Doubt",
    "DoubtLog",
    "Target",
    "after_failure",
    "duplicate_target",
    "run_target",
]
