"""The heap index of steady rows that lets `Scheduler.plan` choose without walking the
whole list (`Scheduler.plan_walk` is the walk it is held to)."""

from __future__ import annotations

import heapq
import itertools
import math

from kondado_tui.core.scheduling.tracked import Tracked

# Heap entries: (key, stamp, pipeline id); the stamp tells a row's current entry from
# the ones it left behind when it changed (dropped when they reach the top).
_Entry = tuple[float, int, int]


class SteadyIndex:
    """The plan's index of steady rows (see `Scheduler.plan`): what they need, by when.

    A steady row has a stamp, an interval, whether it is predictable (both as they stay
    until its steady spell ends), and entries in three heaps: by when its interval runs
    out (until then it is not due), by when it was asked (the oldest win the sweep), and
    by when its spell ends. Every other row is *unsteady*: worked out at every plan.
    """

    def __init__(
        self, built_for: tuple[int, float] | None = None, tracked: dict[int, Tracked] | None = None
    ) -> None:
        """An index to fill: every row of `tracked` is filed at the next plan."""
        self.built_for = built_for  # (list version, per_minute): when either changes, anew
        self.now = -math.inf  # of the last plan: a clock going back starts over
        self.steady: dict[int, tuple[int, float, bool]] = {}  # pid -> (stamp, interval, p.)
        # place in the list, to break ties as the walk does (the first wins)
        self._positions = {pid: i for i, pid in enumerate(tracked or {})}
        self._unsteady: set[int] = set()
        self._changed: set[int] = set(tracked or {})  # to file (again) at the next plan
        self._again: set[int] = set()  # unsteady for now only: to file at the next plan
        self._due: dict[int, float] = {}  # steady rows whose interval ran out: asked + it
        self._not_due: list[_Entry] = []  # (asked + interval, ...) still ahead
        self._by_asked: tuple[list[_Entry], list[_Entry]] = ([], [])  # [predictable]
        self._spells: list[_Entry] = []  # (end of the steady spell, ...)
        self._stamps = itertools.count()

    def changed(self, pipeline_id: int) -> None:
        """Something happened to this row: its entries are void until it is filed again."""
        self._changed.add(pipeline_id)
        self.steady.pop(pipeline_id, None)
        self._due.pop(pipeline_id, None)
        self._unsteady.discard(pipeline_id)

    def take_changed(self) -> set[int]:
        """The rows to file (again) now: changed, or unsteady for now only."""
        for pid in self._again:
            self.changed(pid)
        changed, self._changed, self._again = self._changed, set(), set()
        return changed

    def position(self, pipeline_id: int) -> int:
        return self._positions[pipeline_id]

    def add_unsteady(self, pipeline_id: int, again: bool) -> None:
        """`again`: it may turn steady with time alone (no event will say so)."""
        self._unsteady.add(pipeline_id)
        if again:
            self._again.add(pipeline_id)

    def add_steady(
        self,
        pipeline_id: int,
        asked_at: float,
        interval: float,
        predictable: bool,
        until: float,
        now: float,
    ) -> None:
        stamp = next(self._stamps)
        self.steady[pipeline_id] = (stamp, interval, predictable)
        due_at = asked_at + interval  # as `plan_walk` adds them (no rounding apart)
        if now >= due_at:
            self._due[pipeline_id] = due_at
        elif due_at < math.inf:
            heapq.heappush(self._not_due, (due_at, stamp, pipeline_id))
        heapq.heappush(self._by_asked[predictable], (asked_at, stamp, pipeline_id))
        if until < math.inf:
            heapq.heappush(self._spells, (until, stamp, pipeline_id))

    def expire(self, now: float) -> None:
        """Rows whose steady spell is over are filed again."""
        while self._spells and self._spells[0][0] <= now:
            _, stamp, pid = heapq.heappop(self._spells)
            if self._current(stamp, pid):
                self.changed(pid)
        for heap in (self._not_due, *self._by_asked, self._spells):
            if len(heap) > 2 * len(self.steady) + 64:  # mostly left-behind entries
                heap[:] = [e for e in heap if self._current(e[1], e[2])]
                heapq.heapify(heap)

    def collect_due(self, now: float) -> None:
        while self._not_due and self._not_due[0][0] <= now:
            due_at, stamp, pid = heapq.heappop(self._not_due)
            if self._current(stamp, pid):
                self._due[pid] = due_at

    def candidates(self) -> set[int]:
        """The rows that can win a choice: the unsteady, the due, the oldest asked of the
        predictable and of the others (all of them when several were asked together)."""
        found = self._unsteady | self._due.keys()
        for heap in self._by_asked:
            found.update(pid for _, _, pid in self._oldest(heap))
        return found

    def oldest_asked(self) -> float | None:
        tops = [e[0] for e in (self._top(h) for h in self._by_asked) if e is not None]
        return min(tops, default=None)

    def soonest_interval_due(self) -> float:
        """The earliest `asked + interval` among the steady rows."""
        ahead = self._top(self._not_due)
        return min(
            min(self._due.values(), default=math.inf), math.inf if ahead is None else ahead[0]
        )

    def _current(self, stamp: int, pipeline_id: int) -> bool:
        known = self.steady.get(pipeline_id)
        return known is not None and known[0] == stamp

    def _top(self, heap: list[_Entry]) -> _Entry | None:
        while heap and not self._current(heap[0][1], heap[0][2]):
            heapq.heappop(heap)
        return heap[0] if heap else None

    def _oldest(self, heap: list[_Entry]) -> list[_Entry]:
        """The current entries with the smallest key (taken off, then put back)."""
        top = self._top(heap)
        if top is None:
            return []
        taken = []
        while heap and heap[0][0] == top[0]:
            entry = heapq.heappop(heap)
            if self._current(entry[1], entry[2]):
                taken.append(entry)
        for entry in taken:
            heapq.heappush(heap, entry)
        return taken
