"""An independent implementation of the documented Kondado API, for outside-in QA.

Written from /work/shared/KONDADO_API.md only (it never imports `kondado_tui`), making
different choices than our simulator wherever the docs allow, so that tests catch a
product that depends on the simulator's quirks:

- status answers in the wrapped form `{"success": true, "data": {"<id>": {...}}}` by
  default (`wrapped=False` gives the documented bare form), with extra unknown fields;
- a wrong or missing token gets HTTP 401 (or 403, or HTTP 200 `success: false`) with a
  JSON body `{"success": false, "error": ..., "message": ...}`;
- an unknown pipeline gets HTTP 404 JSON;
- rate limits are counted here (a sliding minute and one per second per key) and a
  breach answers exactly as documented: HTTP 200 RATE_LIMIT_EXCEEDED, 60 s lock-out;
- run answers `{"success": true}` with no message; duplicate is doubly wrapped;
- raw_msg texts are long, multi-line, unicode, markup-like and carry ESC sequences;
- one status value is not in the docs;
- Content-Type varies (`text/html; charset=utf-8` on a JSON body, none at all), and
  answers may be gzip-compressed and/or chunked.

Run it by hand for terminal QA: `python tests/altapi.py [--port N] [--rpm 20]`; it
prints its base URL, key and token. `GET /__alt/log` lists the last requests;
`POST /__alt/lockout?seconds=N` (no auth) makes it
answer RATE_LIMIT_EXCEEDED from then on for N seconds; `POST /__alt/auth?mode=401|403|200|ok`
makes every authenticated call fail (or work again); `POST /__alt/runfail?error=TEXT`
makes run answer success false (empty: succeed again); `POST /__alt/down?seconds=N` drops
connections for N seconds; `POST /__alt/delay?seconds=N` answers every call N s late.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RATE_LIMIT_BODY = {
    "success": False,
    "error": "RATE_LIMIT_EXCEEDED",
    "message": "Too many requests. Please try again in 60 seconds.",
}

LONG_MSG = (
    "Erro ao conectar na origem: não foi possível autenticar (código 28000).\n"
    'Detalhes: FATAL: password authentication failed for user "etl_ü"\n'
    "Tentativas: 3 — última às 03:14 · ☃ 日本語 テーブル\n"
    + "\n".join(f"  at step {i}: connector.fetch(page={i}) -> timeout" for i in range(40))
    + "\nEnd of trace."
)
ESC_MSG = (
    "clear\x1b[2Jscreen then title\x1b]0;pwned-title\x07 and clipboard"
    "\x1b]52;c;ZWNobyBwd25lZA==\x07 done \x1b[31mred\x1b[0m"
)
MARKUP_MSG = "destination said [b]x[/] and then oops [/] here [link=http://evil]click[/link]"

# id -> the entry as the API would hold it (plus extra fields the docs never mention)
STARTING_PIPELINES: dict[int, dict[str, Any]] = {
    101: {
        "status": "active",
        "is_running": False,
        "is_active": True,
        "is_blocked": False,
        "raw_msg": None,
        "last_run_at": "2026-11-28T10:00:00Z",
        "owner": {"id": 7},
    },
    102: {
        "status": "running",
        "is_running": True,
        "is_active": True,
        "is_blocked": False,
        "raw_msg": None,
        "progress": 0.42,
    },
    103: {
        "status": "error_building_tables",
        "is_running": False,
        "is_active": True,
        "is_blocked": True,
        "raw_msg": LONG_MSG,
    },
    104: {
        "status": "too_many_consecutive_failed_builds__blocked",
        "is_running": False,
        "is_active": False,
        "is_blocked": True,
        "raw_msg": ESC_MSG,
    },
    105: {
        "status": "paused_by_billing",
        "is_running": False,
        "is_active": False,
        "is_blocked": True,
        "raw_msg": "Plano suspenso: fatura em aberto",
    },
    106: {
        "status": "not_active",
        "is_running": False,
        "is_active": False,
        "is_blocked": False,
        "raw_msg": None,
    },
    107: {
        "status": "scheduled",
        "is_running": False,
        "is_active": True,
        "is_blocked": False,
        "raw_msg": None,
    },
    108: {
        "status": "too_many_consecutive_failed_builds",
        "is_running": False,
        "is_active": True,
        "is_blocked": False,
        "raw_msg": MARKUP_MSG,
    },
    109: {
        "status": "building_tables",
        "is_running": False,
        "is_active": True,
        "is_blocked": True,
        "raw_msg": "",
    },
}
# every base pipeline's table paths (duplicate must name every one)
TABLE_PATHS: dict[int, tuple[str, ...]] = {101: ("", "items"), 102: ("",)}
PARAMETERS: dict[int, tuple[str, ...]] = {101: ("start_date",), 102: ()}
COLLECTIONS = {5001, 5002, 7001, 7002}


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    answered: int = 0
    answer: Any = None
    at: float = field(default_factory=time.monotonic)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class AltApi:
    """The server. Options may be changed while it runs (tests flip them between calls)."""

    key: str = "alt-key"
    token: str = "ALT-S3CRET-tok-9d1e"
    wrapped: bool = True
    auth_mode: str = "401"  # how a bad token is answered: "401", "403" or "200"
    content_type: str = "text/html; charset=utf-8"  # "" sends no Content-Type at all
    gzip_answers: bool = True
    chunked: bool = True
    rps: int = 1
    rpm: int = 20
    lockout: float = 60.0
    rate_limit: bool = True
    force_auth_failure: str = ""  # "" or an auth_mode: every call fails as bad credentials
    down_until: float = 0.0
    delay: float = 0.0  # seconds before each answer
    run_fails: str = ""  # "" or an error text: run answers success false
    garble: bool = False  # do the work, then answer a body that is not JSON
    pipelines: dict[int, dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(STARTING_PIPELINES)
    )
    received: list[Received] = field(default_factory=list)
    forbidden: set[int] = field(default_factory=lambda: {120})
    next_new_id: int = 900001

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stamps: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self, port: int = 0) -> AltApi:
        api = self

        class Handler(_Handler):
            alt = api

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lock_out(self, seconds: float | None = None) -> None:
        """Answer RATE_LIMIT_EXCEEDED to every caller for `seconds` (default: lockout)."""
        until = time.monotonic() + (self.lockout if seconds is None else seconds)
        with self._lock:
            self._locked_until["*"] = until

    def unlock(self) -> None:
        """Forget every lock-out and every counted request."""
        with self._lock:
            self._locked_until.clear()
            self._stamps.clear()

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[Received]:
        return [
            r
            for r in self.received
            if (method is None or r.method == method) and r.path.startswith(path_prefix)
        ]

    # -- the rules -----------------------------------------------------------------

    def _rate_check(self, who: list[str]) -> bool:
        """True when the request may proceed. Refused requests are not counted."""
        now = time.monotonic()
        with self._lock:
            for name in [*who, "*"]:
                if self._locked_until.get(name, 0.0) > now:
                    return False
            if not self.rate_limit:
                return True
            for name in who:
                stamps = self._stamps.setdefault(name, deque())
                while stamps and stamps[0] <= now - 60.0:
                    stamps.popleft()
                last_second = sum(1 for s in stamps if s > now - 1.0)
                if len(stamps) >= self.rpm or last_second >= self.rps:
                    for other in who:
                        self._locked_until[other] = now + self.lockout
                    return False
            for name in who:
                self._stamps[name].append(now)
        return True

    def handle(
        self, method: str, path: str, query: dict[str, str], body: bytes, client_ip: str
    ) -> tuple[int, Any]:
        if path.startswith("/__alt/"):
            return self._control(path, query)
        if self.force_auth_failure:
            return self._auth_failure(self.force_auth_failure)
        if query.get("key") != self.key or query.get("token") != self.token:
            return self._auth_failure(self.auth_mode)
        if not self._rate_check([f"key:{self.key}", f"ip:{client_ip}"]):
            return 200, RATE_LIMIT_BODY
        parts = [p for p in path.split("/") if p]
        if method == "GET" and len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "status":
            return self._status(parts[1])
        if method == "POST" and len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "run":
            return self._run(parts[1])
        if method == "POST" and parts == ["pipelines"]:
            return self._duplicate(body)
        return 404, {
            "success": False,
            "error": "NOT_FOUND",
            "message": f"No route for {method} {path}",
        }

    def _auth_failure(self, mode: str) -> tuple[int, Any]:
        body = {
            "success": False,
            "error": "INVALID_CREDENTIALS",
            "message": "Invalid key or token, or the token was deactivated.",
        }
        return (int(mode) if mode in ("401", "403") else 200), body

    def _pipeline(self, text: str) -> tuple[int, dict[str, Any] | None]:
        if not text.isdigit():
            return 0, None
        pid = int(text)
        return pid, self.pipelines.get(pid)

    def _status(self, text: str) -> tuple[int, Any]:
        pid, entry = self._pipeline(text)
        if pid in self.forbidden:  # another account's pipeline: the token lacks rights
            return 403, {
                "success": False,
                "error": "FORBIDDEN",
                "message": "You do not have permission to access this pipeline",
            }
        if entry is None:
            return 404, {
                "success": False,
                "error": "PIPELINE_NOT_FOUND",
                "message": f"Pipeline {text} not found for this account",
            }
        answer = {str(pid): dict(entry)}
        return 200, ({"success": True, "data": answer} if self.wrapped else answer)

    def _run(self, text: str) -> tuple[int, Any]:
        _, entry = self._pipeline(text)
        if entry is None:
            return 404, {
                "success": False,
                "error": "PIPELINE_NOT_FOUND",
                "message": f"Pipeline {text} not found for this account",
            }
        if self.run_fails:
            return 200, {"success": False, "error": self.run_fails}
        entry.update(status="scheduled", is_running=False, raw_msg=None)
        return 200, {"success": True}

    def _duplicate(self, body: bytes) -> tuple[int, Any]:
        try:
            doc = json.loads(body.decode("utf-8"))
        except ValueError:
            return 400, {
                "success": False,
                "error": "INVALID_JSON",
                "message": "The body is not JSON",
            }
        problems = []
        for name in ("pipeline_id", "dest_collection_id", "src_collection_id"):
            if not isinstance(doc.get(name), int) or isinstance(doc.get(name), bool):
                problems.append(f"{name} must be an integer")
        base = doc.get("pipeline_id")
        if base not in self.pipelines:
            problems.append(f"pipeline {base} not found")
        if doc.get("execute_immediately") not in ("Y", "N"):
            problems.append("execute_immediately must be 'Y' or 'N'")
        tables = doc.get("full_tables")
        if not isinstance(tables, dict):
            problems.append("full_tables is required")
        elif set(tables) != set(TABLE_PATHS.get(base, ("",))):
            problems.append("full_tables must name every table path of the base pipeline")
        for name in doc.get("overwrite_parameters", {}) or {}:
            if name not in PARAMETERS.get(base, ()):
                problems.append(f"parameter {name} does not exist in the base pipeline")
        if problems:
            return 200, {"success": False, "error": "; ".join(problems)}
        new_id = self.next_new_id
        self.next_new_id += 1
        self.pipelines[new_id] = {
            "status": "building_tables",
            "is_running": False,
            "is_active": True,
            "is_blocked": True,
            "raw_msg": None,
        }
        return 200, {
            "success": True,
            "data": {"success": True, "data": {"new_pipeline_id": new_id}},
        }

    def _control(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        seconds = float(query.get("seconds", self.lockout))
        if path == "/__alt/lockout":
            self.lock_out(seconds)
        elif path == "/__alt/auth":
            mode = query.get("mode", "ok")
            self.force_auth_failure = "" if mode == "ok" else mode
        elif path == "/__alt/down":
            self.down_until = time.monotonic() + seconds
        elif path == "/__alt/delay":
            self.delay = seconds
        elif path == "/__alt/runfail":
            self.run_fails = query.get("error", "")
        elif path == "/__alt/log":
            start = self.received[0].at if self.received else 0.0
            return 200, [
                [round(r.at - start, 3), r.method, r.path, r.answered, r.answer == RATE_LIMIT_BODY]
                for r in self.received[-60:]
            ]
        elif path == "/__alt/set":
            pid = int(query["id"])
            entry = self.pipelines.setdefault(
                pid,
                {
                    "status": "active",
                    "is_running": False,
                    "is_active": True,
                    "is_blocked": False,
                    "raw_msg": None,
                },
            )
            if "status" in query:
                entry["status"] = query["status"]
                entry["is_running"] = query["status"] == "running"
            if "raw_msg" in query:
                entry["raw_msg"] = query["raw_msg"] or None
        else:
            return 404, {"success": False, "error": "unknown control"}
        return 200, {"success": True}


class _Handler(BaseHTTPRequestHandler):
    alt: AltApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def _serve(self, method: str) -> None:
        api = self.alt
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Received(method, split.path, query, dict(self.headers.items()), body)
        if not split.path.startswith("/__alt/"):
            api.received.append(record)
            if api.down_until > time.monotonic():
                self.close_connection = True
                self.connection.close()
                return
            if api.delay:
                time.sleep(api.delay)
        code, payload = api.handle(method, split.path, query, body, self.client_address[0])
        record.answered, record.answer = code, payload
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if api.garble and not split.path.startswith("/__alt/"):
            data = b"OK"
        self.send_response(code)
        if api.content_type:
            self.send_header("Content-Type", api.content_type)
        if api.gzip_answers and "gzip" in self.headers.get("Accept-Encoding", ""):
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        if api.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = max(1, len(data) // 3)
            for i in range(0, len(data), step):
                piece = data[i : i + step]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rpm", type=int, default=20)
    parser.add_argument("--unwrapped", action="store_true")
    parser.add_argument("--no-rate-limit", action="store_true")
    args = parser.parse_args()
    api = AltApi(wrapped=not args.unwrapped, rpm=args.rpm, rate_limit=not args.no_rate_limit).start(
        args.port
    )
    print(f"base_url={api.base_url} key={api.key} token={api.token}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()
