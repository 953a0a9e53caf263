"""Network and server failures the simulator can play, switchable while it runs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class FaultMode(Enum):
    HTTP_500_HTML = "http_500_html"  # a 5xx with a proxy's HTML error page
    HTML_200 = "html_200"  # HTTP 200 with an HTML page (a login or maintenance page)
    MALFORMED_JSON = "malformed_json"  # HTTP 200, JSON cut in the middle
    SLOW = "slow"  # a normal answer, after `delay` seconds
    RESET = "reset"  # the connection is reset (TCP RST) instead of an answer
    NO_ANSWER = "no_answer"  # the connection stays open, silent, until the client gives up
    HTTP_429 = "http_429"  # HTTP 429 Too Many Requests, with `retry_after` as Retry-After
    # Hostile answers, for the tests of the guards (tests/hostile_corpus.py):
    FIELDS = "fields"  # the normal answer with some fields replaced (`fields=`)
    BODY = "body"  # exactly the bytes given (`body=`), with `http_status`
    HUGE = "huge"  # a JSON status answer `size` bytes long, streamed, never held whole


@dataclass(frozen=True)
class Fault:
    mode: FaultMode
    delay: float = 2.0
    http_status: int = 500
    retry_after: str | None = "30"  # HTTP_429's Retry-After header (None: none sent)
    # MALFORMED_JSON's body instead of the default cut status; BODY's bytes as given
    body: str | bytes | None = None
    # FIELDS: field -> value, set in the answer's innermost object (a status entry, the
    # run answer, the duplicate's data); a value of `REMOVE` removes the field. JSON is
    # written with NaN/Infinity allowed, as a hostile server would.
    fields: Mapping[str, Any] = field(default_factory=dict)
    # BODY's headers
    content_type: str = "application/json"
    content_encoding: str = ""
    # HUGE: how many bytes the answer has (the server never holds more than a chunk).
    size: int = 0


REMOVE = object()  # a FIELDS value: leave the field out of the answer


class FaultSwitch:
    """The fault to play on the next requests: for all of them, or the next `count`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._remaining: int | None = None

    def set(self, fault: Fault, count: int | None = None) -> None:
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for every request)")
        with self._lock:
            self._fault, self._remaining = fault, count

    def clear(self) -> None:
        with self._lock:
            self._fault, self._remaining = None, None

    @property
    def current(self) -> Fault | None:
        with self._lock:
            return self._fault

    def take(self) -> Fault | None:
        """The fault for one request, counting it down."""
        with self._lock:
            fault = self._fault
            if fault is not None and self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault, self._remaining = None, None
            return fault


BAD_GATEWAY_PAGE = """<!DOCTYPE html>
<html>
<head><title>{code} Bad Gateway</title></head>
<body>
<center><h1>{code} Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="pt-BR">
<head><meta charset="utf-8"><title>Kondado - Entrar</title></head>
<body><div id="app">Sua sessão expirou. Faça login novamente.</div>
<script src="/static/js/app.3f9c2.js"></script></body>
</html>
"""

MALFORMED_BODY = '{"2040": {"status": "running", "is_running": true, "is_act'
