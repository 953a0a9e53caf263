"""One schedule for everyone: what the collector's poller asks about, and what it holds.

Every dashboard of a collector (its own screen, `LOCAL`, and each viewer) says which
pipelines it watches and whether it is paused. The poller's list is the union, in order
(its own first, then each viewer's as it came); a pipeline every watcher of which paused
is held (asked only on a key press, `Scheduler.hold`); when every dashboard paused, the
poller pauses, exactly as a lone dashboard's does. Pure logic: the caller applies the
`Plan` to the poller (`apply`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from kondado_tui.core.scheduling import LOCAL


@dataclass(frozen=True)
class Plan:
    ids: tuple[int, ...] = ()  # the poller's list
    held: frozenset[int] = frozenset()  # asked only on a key press
    paused: bool = False  # every dashboard paused: the poller pauses


@dataclass
class _Part:
    ids: tuple[int, ...] = ()
    paused: bool = False


@dataclass
class Interests:
    _parts: dict[str, _Part] = field(default_factory=dict)

    def set(self, who: str, ids: tuple[int, ...] | list[int], paused: bool = False) -> Plan:
        self._parts[who] = _Part(tuple(dict.fromkeys(ids)), paused)
        if who == LOCAL:  # its own list first, whatever joined before
            self._parts = {LOCAL: self._parts.pop(LOCAL), **self._parts}
        return self.plan

    def leave(self, who: str) -> Plan:
        self._parts.pop(who, None)
        return self.plan

    def watches(self, who: str, pipeline_id: int) -> bool:
        part = self._parts.get(who)
        return part is not None and pipeline_id in part.ids

    def add(self, who: str, pipeline_id: int) -> Plan:
        """`who` watches one more (a pipeline it just created by duplicating)."""
        part = self._parts.setdefault(who, _Part())
        if pipeline_id not in part.ids:
            part.ids = (*part.ids, pipeline_id)
        return self.plan

    @property
    def plan(self) -> Plan:
        union: dict[int, None] = {}
        wanted: set[int] = set()
        for part in self._parts.values():
            union.update(dict.fromkeys(part.ids))
            if not part.paused:
                wanted.update(part.ids)
        everyone_paused = bool(self._parts) and all(p.paused for p in self._parts.values())
        held = frozenset() if everyone_paused else frozenset(union.keys() - wanted)
        return Plan(tuple(union), held, everyone_paused)


class PlannedPoller(Protocol):
    """What `apply` needs of the poller."""

    def set_pipelines(self, ids: list[int]) -> None: ...
    def hold(self, ids: frozenset[int]) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...


def apply(poller: PlannedPoller, plan: Plan, before: Plan | None) -> None:
    """Bring the poller to `plan` (`before`: the plan applied last, None at first)."""
    if before is None or plan.ids != before.ids:
        poller.set_pipelines(list(plan.ids))
    if before is None or plan.held != before.held:
        poller.hold(plan.held)
    if plan.paused and (before is None or not before.paused):
        poller.pause()
    elif not plan.paused and before is not None and before.paused:
        poller.resume()


__all__ = ["Interests", "Plan", "PlannedPoller", "apply"]
