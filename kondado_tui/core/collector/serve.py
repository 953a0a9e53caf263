"""The collector's side of the socket: prove, admit, and serve each viewer what it watches.

Two halves on two threads:

* `_Doorman`, the `LineServer` handler on the server's thread (`kondado-collect`): the
  handshake (`trust`), the seals, and the checks of every line (`wire`). A peer that
  does not prove it holds the account within the hello deadline gets a refusal and
  nothing else; a bad line ends that connection only. What a proven viewer says is
  handed, checked, to the event loop.
* `Serving`, on the event loop: who is attached and what each watches, their interest
  handed to the poller's one schedule (`Host.set_interest`), the poller's events sent
  to the viewers that watch each pipeline (a viewer never receives a pipeline it does
  not watch), runs and duplicates executed through this process's budget at
  INTERACTIVE priority, history read from this process's store; and a `Beat` to each
  viewer it told nothing for a while, from the loop: a viewer that hears nothing for
  `SILENT_AFTER` knows this process is stopped or its loop hung.

Lines to a viewer are encoded on the loop and sealed on the server's thread, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kondado_tui.core.collector import trust, wire
from kondado_tui.core.collector.messages import (
    BEAT_EVERY,
    HANDSHAKE_LINE,
    TO_COLLECTOR_LINE,
    Active,
    AlertDuty,
    Ask,
    Beat,
    Challenge,
    Duplicate,
    Duty,
    Failure,
    Focus,
    Follow,
    Hello,
    HistoryAsk,
    Made,
    Peek,
    Peeked,
    Prove,
    Ran,
    Refused,
    Run,
    Summaries,
    SummariesAsk,
    ToCollector,
    ToViewer,
    Viewers,
    Watch,
    Welcome,
)
from kondado_tui.core.duplicate import build_body, draft_from_body, validate
from kondado_tui.core.errors import KondadoError, ValidationError
from kondado_tui.core.events import HealthChanged, PipelineFailed, SessionEvent, StatusObserved
from kondado_tui.core.history.timeline import HistorySummary, Transition
from kondado_tui.core.localsock.framing import ProtocolError, VersionMismatch
from kondado_tui.core.localsock.server import Limits, LineServer, Peer

log = logging.getLogger(__name__)

THREAD = "kondado-collect"  # its name in `top -H`, `ps -L` and /proc
LIMITS = Limits(
    max_line=TO_COLLECTOR_LINE,
    hello_deadline=2.0,  # the whole handshake, proof included
    max_connections=256,
    max_per_uid=32,
    max_outbox=16 * 1024 * 1024,  # a first snapshot of many pipelines with long messages
    message_burst=400,  # a cursor held down moves the focus 30 times a second
    messages_per_second=100.0,
)


class Host(Protocol):
    """What `Serving` needs of the process that polls (`local.LocalBackend`)."""

    @property
    def latest(self) -> Mapping[int, StatusObserved]: ...
    @property
    def failures(self) -> Mapping[int, PipelineFailed]: ...
    @property
    def health(self) -> HealthChanged: ...
    @property
    def keeps_history(self) -> bool: ...

    def set_interest(self, who: str, ids: tuple[int, ...], paused: bool) -> None: ...
    def add_interest(self, who: str, pipeline_id: int) -> None: ...
    def leave(self, who: str) -> None: ...
    def focus(self, who: str, pipeline_id: int | None, pinned: bool) -> None: ...
    def user_active(self, who: str) -> None: ...
    def request_now(self, pipeline_id: int) -> None: ...
    def follow(self, pipeline_id: int) -> None: ...
    async def run_pipeline(self, pipeline_id: int) -> str: ...
    async def duplicate(self, body: dict[str, Any]) -> int: ...
    def history(self, pipeline_id: int, limit: int) -> tuple[HistorySummary, list[Transition]]:
        """Blocking (a thread calls it)."""
        ...

    def summaries(self, ids: tuple[int, ...]) -> list[tuple[int, HistorySummary]]:
        """Blocking (a thread calls it)."""
        ...


# -- the server's thread -------------------------------------------------------------------


@dataclass
class _Door:
    """One connection's handshake and seals (the server's thread only)."""

    viewer_nonce: str = ""
    collector_nonce: str = ""
    to_viewer: trust.Seal | None = None
    to_collector: trust.Seal | None = None


class _Doorman:
    def __init__(self, secret: bytes, serving: Serving) -> None:
        self._secret = secret
        self._serving = serving
        self._doors: dict[int, _Door] = {}

    def received(self, server: LineServer, peer: Peer, line: bytes, now: float) -> None:
        door = self._doors.setdefault(peer.id, _Door())
        if door.to_collector is not None:  # proven: a sealed message
            payload = door.to_collector.open(line)
            if payload is None:
                raise ProtocolError("a line whose seal does not hold")
            self._serving.heard(peer.id, wire.decode_to_collector(payload))
            return
        if len(line) > HANDSHAKE_LINE:
            raise ProtocolError("a handshake line longer than the protocol allows")
        try:
            message = wire.decode_handshake(line)
        except VersionMismatch:
            server.refuse(peer, wire.encode_handshake(Refused("version")))
            return
        if isinstance(message, Hello) and not door.viewer_nonce:
            door.viewer_nonce, door.collector_nonce = message.nonce, trust.nonce()
            proof = trust.proof(
                self._secret, trust.Direction.TO_VIEWER, door.viewer_nonce, door.collector_nonce
            )
            server.send(peer.id, wire.encode_handshake(Challenge(door.collector_nonce, proof)))
        elif isinstance(message, Prove) and door.viewer_nonce:
            if not trust.proves(
                self._secret,
                trust.Direction.TO_COLLECTOR,
                door.viewer_nonce,
                door.collector_nonce,
                message.proof,
            ):
                log.warning(
                    "collector: refused a process of uid %d (pid %d): it does not hold "
                    "this account's token",
                    peer.uid,
                    peer.pid,
                )
                server.refuse(peer, wire.encode_handshake(Refused("proof")))
                return
            door.to_viewer, door.to_collector = trust.seals(
                self._secret, door.viewer_nonce, door.collector_nonce
            )
            server.join(peer)
            self._serving.joined(peer.id, peer.uid, peer.pid)
        else:
            raise ProtocolError("a handshake out of order")

    def left(self, server: LineServer, peer: Peer, now: float) -> None:
        door = self._doors.pop(peer.id, None)
        if peer.joined and door is not None:
            self._serving.gone(peer.id)

    def next_decision_at(self, now: float) -> float | None:
        return None

    def decide(self, server: LineServer, now: float) -> None:
        return None

    def seal_and_send(self, server: LineServer, peer_id: int, lines: list[bytes]) -> None:
        door = self._doors.get(peer_id)
        if door is None or door.to_viewer is None:
            return  # gone meanwhile
        server.send(peer_id, b"".join(door.to_viewer.seal(line) for line in lines))


# -- the event loop --------------------------------------------------------------------------


@dataclass
class _Viewer:
    peer_id: int
    uid: int
    pid: int
    key: str  # its watcher's name in the schedule
    watched: set[int] = field(default_factory=set)
    paused: bool = False
    sent_at: float = 0.0  # the loop's time of the last line it was sent


class Serving:
    """Serves the account's viewers from `host` (whose poller polls for all of them)."""

    def __init__(self, listener: socket.socket, account: trust.Account, host: Host) -> None:
        self._host = host
        self._loop = asyncio.get_running_loop()
        self._doorman = _Doorman(account.secret, self)
        self._server = LineServer(
            listener, self._doorman, LIMITS, thread_name=THREAD, what="collector"
        )
        self._viewers: dict[int, _Viewer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._beating: asyncio.TimerHandle | None = None
        self.changed: list[Any] = []  # callbacks: the count of viewers changed
        self.duty: AlertDuty | None = None  # the alert command this process runs, if any

    def set_duty(self, duty: AlertDuty | None) -> None:
        """The alert command this process runs now, and for which pipelines: told in each
        welcome, and to every viewer attached when it changes."""
        if duty == self.duty:
            return
        self.duty = duty
        for viewer in list(self._viewers.values()):
            self._send(viewer.peer_id, Duty(duty))

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        """Stop serving: the name is free at once, every viewer sees its connection end."""
        if self._beating is not None:
            self._beating.cancel()
            self._beating = None
        self._server.stop()
        for task in list(self._tasks):
            task.cancel()

    @property
    def running(self) -> bool:
        return self._server.running

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def dropped(self) -> Mapping[str, int]:
        """Why connections were ended (diagnostics and tests)."""
        return self._server.dropped

    # -- called on the server's thread: hand over to the loop -----------------------------

    def joined(self, peer_id: int, uid: int, pid: int) -> None:
        self._call(self._joined, peer_id, uid, pid)

    def heard(self, peer_id: int, message: ToCollector) -> None:
        self._call(self._heard, peer_id, message)

    def gone(self, peer_id: int) -> None:
        self._call(self._gone, peer_id)

    def _call(self, work: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: the process is ending
            self._loop.call_soon_threadsafe(work, *args)

    # -- the loop ---------------------------------------------------------------------------

    def publish(self, event: SessionEvent) -> None:
        """One of the poller's events: to every viewer that watches its pipeline (the
        health to all)."""
        if isinstance(event, HealthChanged):
            line = wire.encode(event)
            for viewer in self._viewers.values():
                self._send_lines(viewer.peer_id, [line])
        elif isinstance(event, StatusObserved | PipelineFailed):
            pid = event.pipeline_id
            watching = [v for v in self._viewers.values() if pid in v.watched and not v.paused]
            if watching:
                line = wire.encode(event)
                for viewer in watching:
                    self._send_lines(viewer.peer_id, [line])

    def _send(self, peer_id: int, *messages: ToViewer) -> None:
        self._send_lines(peer_id, [wire.encode(m) for m in messages])

    def _beat(self) -> None:
        """On the loop (a hung loop beats no more): a `Beat` to each viewer told nothing
        for half an interval, so none waits more than about 1.5 intervals for a line."""
        now = self._loop.time()
        line = wire.encode(Beat())
        for viewer in list(self._viewers.values()):
            if now - viewer.sent_at >= BEAT_EVERY / 2:
                self._send_lines(viewer.peer_id, [line])
        # only while someone listens: a dashboard nobody views wakes for nothing
        self._beating = self._loop.call_later(BEAT_EVERY, self._beat) if self._viewers else None

    def _send_lines(self, peer_id: int, lines: list[bytes]) -> None:
        viewer = self._viewers.get(peer_id)
        if viewer is not None:
            viewer.sent_at = self._loop.time()
        doorman, server = self._doorman, self._server
        server.call(lambda: doorman.seal_and_send(server, peer_id, lines))

    def _joined(self, peer_id: int, uid: int, pid: int) -> None:
        viewer = _Viewer(peer_id, uid, pid, f"viewer {peer_id}")
        self._viewers[peer_id] = viewer
        if self._beating is None and self._server.running:
            self._beating = self._loop.call_later(BEAT_EVERY, self._beat)
        log.info("collector: a viewer attached (uid %d, pid %d)", uid, pid)
        host = self._host
        welcome = Welcome(len(self._viewers), host.keeps_history, self.duty)
        self._send(peer_id, welcome, host.health)
        self._told_viewers()

    def _gone(self, peer_id: int) -> None:
        viewer = self._viewers.pop(peer_id, None)
        if viewer is None:
            return
        log.info("collector: a viewer left (uid %d, pid %d)", viewer.uid, viewer.pid)
        self._host.leave(viewer.key)
        self._told_viewers()

    def _told_viewers(self) -> None:
        count = len(self._viewers)
        for viewer in self._viewers.values():
            self._send(viewer.peer_id, Viewers(count))
        for callback in self.changed:
            callback()

    def _heard(self, peer_id: int, message: ToCollector) -> None:
        viewer = self._viewers.get(peer_id)
        if viewer is None:
            return  # it left meanwhile
        host = self._host
        match message:
            case Watch(ids, paused):
                fresh = set(ids) - viewer.watched if not paused else set()
                if viewer.paused and not paused:
                    fresh = set(ids)  # resumed: what it missed while paused
                viewer.watched, viewer.paused = set(ids), paused
                host.set_interest(viewer.key, ids, paused)
                self._snapshot(viewer, [pid for pid in ids if pid in fresh])
            case Focus(pid, pinned):
                if pid is None or pid in viewer.watched:
                    host.focus(viewer.key, pid, pinned)
            case Active():
                host.user_active(viewer.key)
            case Ask(pid):
                if pid in viewer.watched:
                    host.request_now(pid)
            case Follow(pid):
                if pid in viewer.watched:
                    host.follow(pid)
            case Run() | Duplicate() | HistoryAsk() | SummariesAsk():
                self._spawn(self._answer(viewer, message))
            case Peek(req, ids):
                latest = host.latest
                found = tuple(latest[pid] for pid in ids if pid in latest)
                self._send(peer_id, Peeked(req, found))

    def _snapshot(self, viewer: _Viewer, ids: list[int]) -> None:
        """What is known of pipelines the viewer just started watching: their last
        observations (with their own times) and failures."""
        latest, failures = self._host.latest, self._host.failures
        lines = [wire.encode(latest[pid]) for pid in ids if pid in latest]
        lines += [wire.encode(failures[pid]) for pid in ids if pid in failures]
        if lines:
            self._send_lines(viewer.peer_id, lines)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(
        self, viewer: _Viewer, message: Run | Duplicate | HistoryAsk | SummariesAsk
    ) -> None:
        host, req = self._host, message.req
        try:
            match message:
                case Run(_, pid):
                    if pid not in viewer.watched:
                        raise KondadoError(f"pipeline {pid} is not one this dashboard watches")
                    self._send(viewer.peer_id, Ran(req, await host.run_pipeline(pid)))
                case Duplicate(_, body):
                    new_id = await host.duplicate(_checked_body(body))
                    viewer.watched.add(new_id)  # it will watch the pipeline it created
                    host.add_interest(viewer.key, new_id)
                    self._send(viewer.peer_id, Made(req, new_id))
                case HistoryAsk(_, pid, limit):
                    self._need_history(viewer, pid)
                    summary, items = await asyncio.to_thread(host.history, pid, limit)
                    self._send_lines(viewer.peer_id, wire.history_parts(req, summary, items))
                case SummariesAsk(_, ids):
                    for pid in ids:
                        self._need_history(viewer, pid)
                    found = await asyncio.to_thread(host.summaries, ids)
                    self._send(viewer.peer_id, Summaries(req, tuple(found)))
        except KondadoError as exc:  # typed: the viewer raises it as it came
            self._send(viewer.peer_id, Failure(req, exc))
        except Exception as exc:  # a bug of ours: the viewer is told, not left waiting
            log.exception("collector: answering a viewer failed")
            self._send(
                viewer.peer_id,
                Failure(req, KondadoError(f"the collector failed ({type(exc).__name__})")),
            )

    def _need_history(self, viewer: _Viewer, pid: int) -> None:
        if not self._host.keeps_history:
            raise KondadoError("this account's collector keeps no history")
        if pid not in viewer.watched:
            raise KondadoError(f"pipeline {pid} is not one this dashboard watches")


_Question = Run | Duplicate | HistoryAsk | SummariesAsk


def _checked_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A viewer's duplicate body through the one validator, as the CLI's is: refused
    typed (`ValidationError`), else rebuilt from the checked draft."""
    draft, problems = draft_from_body(body)
    problems = {**validate(draft), **problems}
    if problems:
        raise ValidationError(problems)
    return build_body(draft)


__all__ = ["LIMITS", "Host", "Serving"]
