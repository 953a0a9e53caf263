"""The simulated Kondado API over real HTTP (stdlib only), in a background thread.

It runs beside an asyncio app in the same process (`kondado-tui --demo`), so it lives in
its own threads and never touches the event loop. The token is never logged: the
request log keeps the path without its query, and the stdlib's per-request stderr
logging is silenced (it prints whole URLs).
"""

from __future__ import annotations

import json
import secrets
import socket
import struct
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kondado_tui.core.clock import Clock
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.sim.faults import (
    BAD_GATEWAY_PAGE,
    LOGIN_PAGE,
    MALFORMED_BODY,
    REMOVE,
    Fault,
    FaultMode,
    FaultSwitch,
)
from kondado_tui.core.sim.outside import NEIGHBOUR_KEY, OUTSIDE_IP, OutsideConsumer
from kondado_tui.core.sim.ratelimit import RateLimiter, RateLimits
from kondado_tui.core.sim.world import SimWorld, UnknownPipeline

RATE_LIMIT_ANSWER = {
    "success": False,
    "error": "RATE_LIMIT_EXCEEDED",
    "message": "Too many requests. Please try again in 60 seconds.",
}
AUTH_ANSWER = {
    "success": False,
    "error": "INVALID_TOKEN",
    "message": "Invalid or deactivated API key/token. Create a new token in the Kondado app.",
}
MAX_BODY = 1 << 20
MAX_KEYS = 50
OUTSIDE_PATH = "(outside)"
"""The path logged for an outside consumer's request (it sends no HTTP)."""


class Outcome(Enum):
    OK = "ok"
    REJECTED = "rejected"  # success: false from the API (plan, state, validation, unknown id)
    AUTH_FAILED = "auth_failed"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"  # no such endpoint
    BAD_REQUEST = "bad_request"  # unreadable body
    FAULT = "fault"  # an injected failure answered instead


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # never the query: it holds the token
    time: float
    http_status: int  # 0 when no HTTP answer was sent (reset, no answer)
    outcome: Outcome
    rate_limited: bool = False
    fault: FaultMode | None = None
    account: int | None = None  # 1-based index of the key used (None: none of ours)
    outside: bool = False  # an outside consumer's request (`SimServer.add_outside`)


@dataclass(frozen=True)
class SimAccount:
    """One key/token pair the server accepts. Every account sees the same pipelines (the
    tokens of several people of one Kondado team), and they share the server's limiter."""

    key: str
    token: str

    def __repr__(self) -> str:
        return f"SimAccount(key={self.key!r}, token='***')"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    sim: SimServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr. A client hanging up mid-answer is
        # normal here; anything else is a simulator bug, kept for the tests to see.
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, (ConnectionError, TimeoutError)):
            return
        self.sim.errors.append(f"{type(exc).__name__}: {redact(str(exc))}")


class SimServer:
    """The fake API: `with SimServer(world) as server: ... server.base_url ...`."""

    def __init__(
        self,
        world: SimWorld,
        key: str | None = None,
        token: str | None = None,
        rps: int | None = 1,
        rpm: int | None = 20,
        lockout: float = 60.0,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate_limit: bool = True,
        wrapped: bool = False,
        keys: int = 1,
    ) -> None:
        if not 1 <= keys <= MAX_KEYS:
            raise ValueError(f"keys: between 1 and {MAX_KEYS}")
        self.world = world
        first = SimAccount(
            key if key is not None else secrets.token_urlsafe(8),
            token if token is not None else secrets.token_urlsafe(24),
        )
        self.accounts: list[SimAccount] = [first] + [
            SimAccount(secrets.token_urlsafe(8), secrets.token_urlsafe(24)) for _ in range(keys - 1)
        ]
        self.clock = clock or world.clock
        limits = RateLimits(rps, rpm, lockout) if rate_limit else RateLimits(None, None, lockout)
        self.limiter = RateLimiter(limits, self.clock)
        self.wrapped = wrapped  # answer statuses as {"success": true, "data": {...}}
        self.faults = FaultSwitch()
        self._host, self._port = host, port
        self._log: list[RequestRecord] = []
        self._outside: list[OutsideConsumer] = []
        # told of each request as it is logged (`kondado-tui sim --log`); on the
        # server's threads, so it must be quick and thread-safe
        self.on_record: Callable[[RequestRecord], None] | None = None
        self._outside_lock = threading.Lock()
        self.errors: list[str] = []  # unexpected exceptions in request handling (bugs)
        self.huge_sent: list[int] = []  # bytes of each HUGE answer written before the end
        self._log_lock = threading.Lock()
        self.stopping = threading.Event()  # set by stop(): held answers give up
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SimServer({self.base_url if self._httpd else 'stopped'}, token='***')"

    # -- life --------------------------------------------------------------------------

    def start(self) -> SimServer:
        if self._httpd is not None:
            return self
        self.stopping.clear()
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.sim = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="kondado-sim",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()  # releases held (NO_ANSWER) and SLOW connections
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # -- faults ------------------------------------------------------------------------

    def set_fault(
        self,
        mode: FaultMode,
        count: int | None = None,
        delay: float = 2.0,
        http_status: int | None = None,
        *,
        retry_after: str | None = "30",
        body: str | bytes | None = None,
        fields: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        content_encoding: str = "",
        size: int = 0,
    ) -> None:
        """Play `mode` on every request, or on the next `count` ones. Faults answer after
        reading the whole request and without acting on it (FIELDS acts, then answers).

        `http_status` defaults to 500 for HTTP_500_HTML, else 200. FIELDS: the normal
        answer with `fields` replaced. BODY: `body` as it is, with the content headers
        given. HUGE: a status answer of `size` bytes, streamed.
        """
        if http_status is None:
            http_status = 500 if mode is FaultMode.HTTP_500_HTML else 200
        fault = Fault(
            mode,
            delay,
            http_status,
            retry_after,
            body,
            fields=dict(fields or {}),
            content_type=content_type,
            content_encoding=content_encoding,
            size=size,
        )
        self.faults.set(fault, count)

    def clear_fault(self) -> None:
        self.faults.clear()

    # -- request log -------------------------------------------------------------------

    @property
    def log(self) -> list[RequestRecord]:
        """Every request so far, the outside consumers' included (`outside=True`)."""
        self.catch_up()
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(record)
        watcher = self.on_record
        if watcher is not None:
            watcher(record)

    @property
    def last_duplicate_body(self) -> Any:
        return self.world.duplicate_bodies[-1] if self.world.duplicate_bodies else None

    # The first account's key and token. Setting one replaces that account, as
    # deactivating a token in the Kondado app and making a new one would: the old one
    # is refused from the next request on (the chaos tests rely on it).
    @property
    def key(self) -> str:
        return self.accounts[0].key

    @key.setter
    def key(self, value: str) -> None:
        self.accounts[0] = SimAccount(value, self.accounts[0].token)

    @property
    def token(self) -> str:
        return self.accounts[0].token

    @token.setter
    def token(self, value: str) -> None:
        self.accounts[0] = SimAccount(self.accounts[0].key, value)

    # -- someone else spending the budget ----------------------------------------------

    def add_outside(
        self,
        per_minute: float,
        *,
        on: str = "key",
        account: int = 1,
        jitter: float = 0.2,
        seed: int = 0,
    ) -> OutsideConsumer:
        """Someone else asks `per_minute` times a minute, from now on: on `"key"`, another
        tool using account `account`'s key from another machine (it spends that key's
        budget); on `"ip"`, another machine behind this one's address with a key of its
        own (a NAT neighbour: it spends the IP's budget). No HTTP: see `outside`."""
        if on not in ("key", "ip"):
            raise ValueError('on: "key" or "ip"')
        if not 1 <= account <= len(self.accounts):
            raise ValueError(f"account: between 1 and {len(self.accounts)}")
        key = self.accounts[account - 1].key if on == "key" else NEIGHBOUR_KEY
        ip = OUTSIDE_IP if on == "key" else self._host
        consumer = OutsideConsumer(per_minute, key, ip, self.clock.now(), jitter, seed)
        with self._outside_lock:
            self._outside.append(consumer)
        return consumer

    def catch_up(self, now: float | None = None) -> None:
        """Let the outside consumers' requests up to `now` arrive, in time order."""
        now = self.clock.now() if now is None else now
        with self._outside_lock:
            if not self._outside:
                return
            arrivals = sorted((t, n, c) for n, c in enumerate(self._outside) for t in c.due(now))
            for at, _, consumer in arrivals:
                admitted = self.limiter.admit(consumer.ip, consumer.key, at=at)
                outcome = Outcome.OK if admitted else Outcome.RATE_LIMITED
                self.record(
                    RequestRecord(
                        "GET",
                        OUTSIDE_PATH,
                        at,
                        200,
                        outcome,
                        rate_limited=not admitted,
                        account=self.account_of(consumer.key),
                        outside=True,
                    )
                )

    def _authentic(self, key: str | None, token: str | None) -> bool:
        if key is None or token is None:
            return False
        return any(
            secrets.compare_digest(key, a.key) and secrets.compare_digest(token, a.token)
            for a in self.accounts
        )

    def account_of(self, key: str | None) -> int | None:
        for n, account in enumerate(self.accounts, 1):
            if key is not None and secrets.compare_digest(key, account.key):
                return n
        return None

    # -- the API -----------------------------------------------------------------------

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, ip: str
    ) -> tuple[int, Any, Outcome]:
        """The HTTP status, JSON answer and outcome of one request (no faults here)."""
        key = _single(query, "key")
        token = _single(query, "token")
        parts = [p for p in path.split("/") if p]
        route = _route(method, parts)
        if route is None:
            return 404, {"success": False, "error": "Not found"}, Outcome.NOT_FOUND
        self.catch_up()
        if not self.limiter.admit(ip, key):
            return 200, dict(RATE_LIMIT_ANSWER), Outcome.RATE_LIMITED
        if not self._authentic(key, token):
            return 200, dict(AUTH_ANSWER), Outcome.AUTH_FAILED
        if route == "duplicate":
            try:
                payload = json.loads(body.decode("utf-8")) if body else None
            except (UnicodeDecodeError, ValueError):
                return 200, {"success": False, "error": "Invalid JSON body"}, Outcome.BAD_REQUEST
            answer = self.world.duplicate(payload)
            return 200, answer, Outcome.OK if answer.get("success") else Outcome.REJECTED
        pid_text = parts[1]
        if not pid_text.isdigit():
            return 200, _not_found(pid_text), Outcome.REJECTED
        pid = int(pid_text)
        if route == "run":
            answer = self.world.run(pid)
            return 200, answer, Outcome.OK if answer.get("success") else Outcome.REJECTED
        try:
            entry = self.world.status(pid)
        except UnknownPipeline:
            return 200, _not_found(pid_text), Outcome.REJECTED
        data = {str(pid): entry}
        return 200, ({"success": True, "data": data} if self.wrapped else data), Outcome.OK


JSON = "application/json"


def _bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body


def _with_fields(payload: Any, fields: Mapping[str, Any]) -> Any:
    """`payload` with `fields` set in its innermost object: the status entry of a status
    answer (wrapped or not), the data of a duplicate answer, the run answer itself."""
    node = payload
    while isinstance(node, dict):
        inner = node.get("data")
        if isinstance(inner, dict):
            node = inner
            continue
        entries = [v for k, v in node.items() if k.isdigit() and isinstance(v, dict)]
        if len(entries) == 1:
            node = entries[0]
        break
    if isinstance(node, dict):
        for name, value in fields.items():
            if value is REMOVE:
                node.pop(name, None)
            else:
                node[name] = value
    return payload


def _route(method: str, parts: list[str]) -> str | None:
    if method == "POST" and parts == ["pipelines"]:
        return "duplicate"
    if len(parts) == 3 and parts[0] == "pipelines":
        if method == "GET" and parts[2] == "status":
            return "status"
        if method == "POST" and parts[2] == "run":
            return "run"
    return None


def _not_found(pid: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": "Pipeline not found",
        "message": f"No pipeline {pid[:20]} in this account.",
    }


def _fault_status(fault: Fault) -> int:
    """The HTTP status a fault answers with; 0 when it sends no HTTP answer at all."""
    if fault.mode in (FaultMode.HTTP_500_HTML, FaultMode.BODY):
        return fault.http_status
    if fault.mode in (FaultMode.HTML_200, FaultMode.MALFORMED_JSON, FaultMode.HUGE):
        return 200
    if fault.mode is FaultMode.HTTP_429:
        return 429
    return 0


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    server: _HTTPServer
    server_version = "nginx"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the stdlib would print every URL, token included, to stderr

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        # Each request is logged before its answer leaves, so a client that has its
        # answer always finds the record.
        sim = self.server.sim
        arrived = sim.clock.now()
        url = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the rest of the body is not read
            sim.record(RequestRecord(method, url.path, arrived, 413, Outcome.BAD_REQUEST))
            self._send(
                413, b'{"success": false, "error": "Request body too large"}', "application/json"
            )
            return
        body = self.rfile.read(length) if length else b""
        fault = sim.faults.take()
        if fault is not None and fault.mode is FaultMode.FIELDS:
            code, payload, outcome = sim.answer(
                method, url.path, parse_qs(url.query), body, self.client_address[0]
            )
            if outcome is not Outcome.RATE_LIMITED:
                code = fault.http_status
                payload = _with_fields(payload, fault.fields)
            sim.record(
                RequestRecord(method, url.path, arrived, code, Outcome.FAULT, fault=fault.mode)
            )
            self._send(code, json.dumps(payload).encode("utf-8", "surrogatepass"), JSON)
            return
        if fault is not None and fault.mode is not FaultMode.SLOW:
            sim.record(
                RequestRecord(
                    method, url.path, arrived, _fault_status(fault), Outcome.FAULT, fault=fault.mode
                )
            )
            self._play(fault)
            return
        if fault is not None and sim.stopping.wait(fault.delay):
            sim.record(RequestRecord(method, url.path, arrived, 0, Outcome.FAULT, fault=fault.mode))
            self._reset()  # stopped while the answer was held back
            return
        query = parse_qs(url.query)
        code, payload, outcome = sim.answer(method, url.path, query, body, self.client_address[0])
        sim.record(
            RequestRecord(
                method,
                url.path,
                arrived,
                code,
                outcome,
                rate_limited=outcome is Outcome.RATE_LIMITED,
                fault=fault.mode if fault else None,
                account=sim.account_of(_single(query, "key")),
            )
        )
        self._send(code, json.dumps(payload).encode("utf-8"), "application/json")

    def _play(self, fault: Fault) -> None:
        if fault.mode is FaultMode.HTTP_500_HTML:
            page = BAD_GATEWAY_PAGE.format(code=fault.http_status)
            self._send(fault.http_status, page.encode(), "text/html")
        elif fault.mode is FaultMode.HTML_200:
            self._send(200, LOGIN_PAGE.encode(), "text/html; charset=utf-8")
        elif fault.mode is FaultMode.MALFORMED_JSON:
            body = MALFORMED_BODY if fault.body is None else fault.body
            self._send(200, _bytes(body), "application/json")
        elif fault.mode is FaultMode.BODY:
            encoding = (
                {"Content-Encoding": fault.content_encoding} if fault.content_encoding else {}
            )
            self._send(fault.http_status, _bytes(fault.body or b""), fault.content_type, encoding)
        elif fault.mode is FaultMode.HUGE:
            self._stream_huge(fault.size)
        elif fault.mode is FaultMode.HTTP_429:
            extra = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            refusal = b'{"success": false, "error": "Too Many Requests"}'
            self._send(429, refusal, "application/json", extra)
        else:
            if fault.mode is FaultMode.NO_ANSWER:
                self._hold()
            self._reset()

    def _hold(self) -> None:
        """Say nothing until the client hangs up or the server stops."""
        stopping = self.server.sim.stopping
        self.connection.settimeout(0.05)
        while not stopping.is_set():
            try:
                if self.connection.recv(1024) == b"":
                    return  # the client gave up
            except TimeoutError:
                continue
            except OSError:
                return

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the client sees a TCP reset, not a clean close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _stream_huge(self, size: int) -> None:
        """A status answer `size` bytes long, its raw_msg one long run of "x", written a
        chunk at a time; the bytes written before the client hung up are recorded."""
        head = b'{"2040": {"status": "active", "raw_msg": "'
        tail = b'"}}'
        self.close_connection = True
        sent = 0
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(head)
            sent = len(head)
            chunk = b"x" * 65536
            while sent < size - len(tail):
                piece = chunk[: size - len(tail) - sent]
                self.wfile.write(piece)
                sent += len(piece)
            self.wfile.write(tail)
            sent += len(tail)
        except OSError:
            pass
        finally:
            self.server.sim.huge_sent.append(sent)

    def _send(
        self, code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True
