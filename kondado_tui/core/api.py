"""Async client of Kondado's REST API (httpx). No Textual here.

Every answer is inspected: the API answers HTTP 200 to a rate-limit breach and to many
failures, so the status code alone never tells success. Every failure becomes one of the
typed errors of `kondado_tui.core.errors`, with a message that is safe to show (redacted).
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import re
import zlib
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from kondado_tui import __version__
from kondado_tui.core.clock import SYSTEM_CLOCK, Clock
from kondado_tui.core.errors import (
    ApiError,
    BadAnswer,
    Outcome,
    RateLimited,
    Rejected,
    Unreachable,
)
from kondado_tui.core.guards import strict_json
from kondado_tui.core.guards.limits import (
    MAX_ANSWER_BYTES,
    MAX_EXTRA,
    MAX_FIELD,
    MAX_MESSAGE,
    MAX_WORD,
    cut,
    size_text,
)
from kondado_tui.core.guards.redact import register_secret
from kondado_tui.core.guards.sanitize import clean, one_line
from kondado_tui.core.models import MAX_PIPELINE_ID, PipelineStatus, Priority

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://k2.kondado.com.br"
RATE_LIMIT_ERROR = "RATE_LIMIT_EXCEEDED"
DEFAULT_RATE_LIMIT_WAIT = 60.0
# A wait the API asks for (Retry-After, "try again in N seconds") is believed up to this:
# a hostile or broken answer must not silence the monitor for a day.
MAX_RATE_LIMIT_WAIT = 600.0
MIN_RATE_LIMIT_WAIT = 1.0
_WAIT_IN_MESSAGE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)", re.IGNORECASE)
_AUTH_WORDS = re.compile(r"token|key|auth|credential|permission|forbidden|denied", re.I)
EXCERPT_LIMIT = 160
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() accepts "²", int() refuses it


class RequestGate(Protocol):
    """Decides when a request may leave (the rate budget). The client asks it every time."""

    async def acquire(self, priority: Priority) -> None: ...

    def report_rate_limited(self, wait: float) -> None: ...


@runtime_checkable
class AnswerAwareGate(Protocol):
    """A gate that also hears when each request's answer (or failure) is in: the request
    has surely reached the API by then (`budget.RateBudget` spaces requests from it)."""

    def request_done(self) -> None: ...


class OpenGate:
    """No limiting at all: for the simulator's own tests and one-off scripts."""

    async def acquire(self, priority: Priority) -> None:
        return None

    def report_rate_limited(self, wait: float) -> None:
        return None


def excerpt(text: str, limit: int = EXCERPT_LIMIT) -> str:
    """A short, single-line, terminal-safe and redacted piece of an answer body."""
    return one_line(text, limit)


def _as_bool(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return default


def remote_text(value: Any, limit: int = MAX_FIELD, *, multiline: bool = False) -> str:
    """Any field of an answer as text that may be shown, stored and compared: cleaned
    of escapes and format characters, secrets masked, cut to `limit` characters with a
    marker saying how much was left out. Not text (a number, an object): its JSON."""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    return cut(clean(value, keep_newlines=multiline), limit)


def _remote_extra(fields: dict[str, Any]) -> dict[str, object]:
    """The fields the docs do not list, kept for whoever wants them: keys and texts
    cleaned, and at most MAX_EXTRA characters of them (else only their names)."""
    kept = {remote_text(k, MAX_WORD): _cleaned(v) for k, v in fields.items()}
    if len(json.dumps(kept, ensure_ascii=False)) <= MAX_EXTRA:
        return kept
    return {name: "(left out: too long)" for name in list(kept)[:32]}


def _cleaned(value: Any) -> object:
    """A JSON value with every text in it cleaned (depth is bounded by the parser)."""
    if isinstance(value, str):
        return remote_text(value)
    if isinstance(value, dict):
        return {remote_text(k, MAX_WORD): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value  # numbers, booleans, null: finite and bounded by the parser


def _pipeline_key(key: object) -> int | None:
    """A key of a status answer that names a pipeline id (ASCII digits, in range)."""
    text = str(key).strip()
    if not _DIGITS.fullmatch(text) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_PIPELINE_ID else None


def parse_status(pipeline_id: int, payload: Any) -> PipelineStatus:
    """Parse both documented shapes: `{"<id>": {...}}` and `{"success": true, "data": {...}}`.

    Every text of the answer is cleaned here (`remote_text`): what leaves this function
    is safe to show, store and compare, however hostile the answer was.
    """
    data = payload
    if isinstance(payload, dict) and "success" in payload and "data" in payload:
        data = payload["data"]
    if not isinstance(data, dict):
        raise BadAnswer(
            f"pipeline {pipeline_id}: unexpected status answer", excerpt=_payload_excerpt(payload)
        )
    entry = data.get(str(pipeline_id))
    if entry is None and isinstance(data.get("status"), str):
        entry = data  # one pipeline's fields, not keyed by its id
    elif entry is None and len(data) == 1:
        key, only = next(iter(data.items()))
        other = _pipeline_key(key)
        if other is not None and other != pipeline_id:
            # never show another pipeline's status under this one's name
            raise BadAnswer(
                f"pipeline {pipeline_id}: the API answered about pipeline {other} instead",
                excerpt=_payload_excerpt(payload),
            )
        entry = only if isinstance(only, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("status"), str):
        raise BadAnswer(
            f"pipeline {pipeline_id}: the status answer has no status for this id",
            excerpt=_payload_excerpt(payload),
        )
    status = remote_text(entry["status"], MAX_WORD).strip()
    if not status:
        raise BadAnswer(
            f"pipeline {pipeline_id}: the status answer's status is empty once its "
            "unprintable characters are removed",
            excerpt=_payload_excerpt(payload),
        )
    raw = entry.get("raw_msg")
    raw_msg = None if raw is None else remote_text(raw, MAX_MESSAGE, multiline=True)
    known = {"status", "is_running", "is_active", "is_blocked", "raw_msg"}
    return PipelineStatus(
        pipeline_id=pipeline_id,
        status=status,
        is_running=_as_bool(entry.get("is_running"), status == "running"),
        is_active=_as_bool(entry.get("is_active"), status != "not_active"),
        is_blocked=_as_bool(entry.get("is_blocked"), status.endswith("__blocked")),
        raw_msg=raw_msg or None,
        extra=_remote_extra({k: v for k, v in entry.items() if k not in known}),
    )


def parse_new_pipeline_id(payload: Any) -> int:
    """Duplicate answers `{"success": true, "data": {"success": true, "data": {...}}}`."""
    node = payload
    for _ in range(4):  # unwrap however many `success/data` layers there are
        if isinstance(node, dict) and "new_pipeline_id" in node:
            break
        if isinstance(node, dict) and isinstance(node.get("data"), dict):
            _raise_if_failed(node, 200)
            node = node["data"]
        else:
            break
    if isinstance(node, dict):
        _raise_if_failed(node, 200)
        value = node.get("new_pipeline_id")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        new_id = _pipeline_key(value) if isinstance(value, str) else None
        if new_id is not None:
            return new_id
        if value is not None:
            raise BadAnswer(
                "duplicate: the answer's new_pipeline_id is not a pipeline id "
                f"({excerpt(str(value), 40)})",
                excerpt=_payload_excerpt(payload),
            )
    raise BadAnswer(
        "duplicate: the answer has no new_pipeline_id", excerpt=_payload_excerpt(payload)
    )


def _payload_excerpt(payload: Any) -> str:
    return excerpt(json.dumps(payload, ensure_ascii=False)[:400])


def _bounded_wait(seconds: float) -> float:
    return min(MAX_RATE_LIMIT_WAIT, max(MIN_RATE_LIMIT_WAIT, seconds))


def _rate_limit_wait(message: str) -> float:
    match = _WAIT_IN_MESSAGE.search(message)
    if match:
        return _bounded_wait(float(match.group(1)))
    return DEFAULT_RATE_LIMIT_WAIT


def retry_after_seconds(value: str | None, server_date: str | None, now: float) -> float | None:
    """The wait an HTTP `Retry-After` asks for: delay-seconds, or an HTTP date (counted
    from the answer's own `Date` when it has one, so a skewed local clock does not
    matter). None when absent or unreadable; bounded to [1 s, 10 min] otherwise."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return _bounded_wait(float(text[:7]))  # past 10 min anyway: the cap applies
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    reference = now
    if server_date:
        try:
            reference = parsedate_to_datetime(server_date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            reference = now
    return _bounded_wait(when - reference)


def _raise_if_failed(payload: Any, http_status: int) -> None:
    """Raise the typed error for a `success: false` body (whatever the HTTP status)."""
    if not isinstance(payload, dict) or payload.get("success") is not False:
        return
    error = remote_text(payload.get("error") or "")
    message = remote_text(payload.get("message") or "")
    if error == RATE_LIMIT_ERROR:
        wait = _rate_limit_wait(message)
        raise RateLimited(
            f"rate limited by the API ({error}): {excerpt(message) or 'try again later'}",
            retry_after=wait,
        )
    text = " — ".join(p for p in (excerpt(error), excerpt(message)) if p) or "no error text"
    # 404 names the thing asked about, whatever words it uses ("not found for this key")
    auth = http_status in (401, 403) or (
        http_status != 404 and bool(_AUTH_WORDS.search(error + " " + message))
    )
    raise Rejected(f"the API refused: {text}", error=error, http_status=http_status, auth=auth)


class KondadoClient:
    """One client per process; a keep-alive connection pool reused by every request."""

    def __init__(
        self,
        base_url: str,
        key: str,
        token: str,
        *,
        timeout: float = 10.0,
        gate: RequestGate | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        register_secret(token)
        self._clock = clock  # for a Retry-After given as a date without a Date header
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._token = token
        self.gate: RequestGate = gate or OpenGate()
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers={
                "User-Agent": f"kondado-tui/{__version__}",
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"KondadoClient(base_url={self.base_url!r}, key={self._key!r}, token='***')"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> KondadoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- endpoints ---------------------------------------------------------------------

    async def get_status(
        self, pipeline_id: int, priority: Priority = Priority.BACKGROUND
    ) -> PipelineStatus:
        payload = await self._request("GET", f"/pipelines/{pipeline_id}/status", priority)
        _raise_if_failed(payload, 200)
        return parse_status(pipeline_id, payload)

    async def run(self, pipeline_id: int, priority: Priority = Priority.INTERACTIVE) -> str:
        """Queue a run. Returns the API's answer as text; raises on `success: false`.

        A failure's `outcome` tells a refusal (nothing queued) from an answer lost or
        unreadable after sending (it may have been queued): `core.actions` words it."""
        payload = await self._request("POST", f"/pipelines/{pipeline_id}/run", priority)
        _raise_if_failed(payload, 200)
        if not isinstance(payload, dict) or payload.get("success") is not True:
            raise BadAnswer(
                f"run {pipeline_id}: unexpected answer", excerpt=_payload_excerpt(payload)
            )
        message = payload.get("message")
        return excerpt(remote_text(message)) if message else "run queued"

    async def duplicate(
        self, body: dict[str, Any], priority: Priority = Priority.INTERACTIVE
    ) -> int:
        """Create a pipeline from another. Returns the new pipeline's id (failures: as
        `run`'s)."""
        payload = await self._request("POST", "/pipelines", priority, json_body=body)
        return parse_new_pipeline_id(payload)

    # -- transport ---------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        priority: Priority,
        json_body: dict[str, Any] | None = None,
    ) -> Any:
        await self.gate.acquire(priority)
        try:
            return await self._send(method, path, json_body)
        finally:
            if isinstance(self.gate, AnswerAwareGate):
                self.gate.request_done()

    async def _send(self, method: str, path: str, json_body: dict[str, Any] | None) -> Any:
        where = f"{method} {path}"
        request = self._http.build_request(
            method, path, params={"key": self._key, "token": self._token}, json=json_body
        )
        try:
            # httpx's timeout is per step (connect, each read): a server dripping a byte
            # every few seconds would never time out. The whole answer has a deadline too.
            async with asyncio.timeout(self._timeout * ANSWER_DEADLINE_FACTOR):
                response = await self._http.send(request, stream=True)
                try:
                    body = await _read_bounded(where, response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise Unreachable(
                f"{where}: the answer from {self.base_url} did not arrive whole within "
                f"{self._timeout * ANSWER_DEADLINE_FACTOR:g} s",
                maybe_delivered=True,
            ) from None
        except httpx.TimeoutException as exc:
            raise Unreachable(
                f"{where}: no answer from {self.base_url} within {self._timeout:g} s (timed out)",
                maybe_delivered=not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)),
            ) from None
        except httpx.ConnectError as exc:
            raise Unreachable(
                f"{where}: cannot connect to {self.base_url} ({_reason(exc)})"
            ) from None
        except httpx.RemoteProtocolError:
            raise Unreachable(
                f"{where}: the connection to {self.base_url} was closed mid-answer",
                maybe_delivered=True,
            ) from None
        except httpx.NetworkError:
            raise Unreachable(
                f"{where}: the connection to {self.base_url} was reset or dropped",
                maybe_delivered=True,
            ) from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"{where}: {type(exc).__name__} ({_reason(exc)})") from None
        try:
            return self._decode(where, response, _text_of(response, body))
        except RateLimited as exc:  # the budget must hear of it, whoever catches the error
            self.gate.report_rate_limited(exc.retry_after)
            raise

    def _decode(self, where: str, response: httpx.Response, text: str) -> Any:
        code = response.status_code
        empty = not text.strip()
        try:
            payload = None if empty else strict_json.loads(text)
        except strict_json.JsonError as exc:
            payload = None
            parsed = False
            # JSON that Python reads but Kondado never sends (NaN, 1e400, huge
            # numbers, deep nesting): a bad answer, said as such
            unusable = None if str(exc).startswith("not valid JSON") else str(exc)
        else:
            parsed = payload is not None
            unusable = None
        if code == 429:  # not documented, but a proxy or a future API may say it so
            wait = retry_after_seconds(
                response.headers.get("Retry-After"), response.headers.get("Date"), self._clock.now()
            )
            asked = f"asked to wait {wait:.0f} s" if wait is not None else "no wait given"
            raise RateLimited(
                f"rate limited by the API (HTTP 429 Too Many Requests, {asked})",
                retry_after=DEFAULT_RATE_LIMIT_WAIT if wait is None else wait,
            )
        if code >= 500:
            detail = excerpt(text) if not _looks_like_html(text) else "an HTML error page"
            raise Unreachable(
                f"{where}: the server failed (HTTP {code}, {detail})", maybe_delivered=True
            )
        if parsed and isinstance(payload, dict) and payload.get("success") is False:
            _raise_if_failed(payload, code)
        if 300 <= code < 400:
            # not followed: the token would travel on to wherever it points
            target = urlsplit(response.headers.get("Location", ""))
            where_to = (
                f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else target.path
            )
            raise BadAnswer(
                f"{where}: the API redirected (HTTP {code}) to {excerpt(where_to, 120) or '?'}; "
                "check base_url",
                http_status=code,
                outcome=Outcome.NOT_DONE,  # sent elsewhere, not acted on here
            )
        if code >= 400:
            auth = code in (401, 403)
            raise Rejected(
                f"{where}: HTTP {code} {excerpt(response.reason_phrase, 60)}"
                + (f": {excerpt(text)}" if text and not _looks_like_html(text) else ""),
                http_status=code,
                auth=auth,
            )
        if unusable is not None:
            raise BadAnswer(
                f"{where}: the answer is JSON kondado-tui does not accept: {unusable}",
                excerpt=excerpt(text),
                http_status=code,
            )
        if not parsed:
            if empty or (payload is None and text.strip() == "null"):
                what = "no body at all" if empty else "JSON null"
                raise BadAnswer(
                    f"{where}: empty answer ({what}, HTTP {code})",
                    excerpt=excerpt(text),
                    http_status=code,
                )
            if _looks_like_html(text):
                raise BadAnswer(
                    f"{where}: got an HTML page instead of JSON (HTTP {code})",
                    excerpt=excerpt(text),
                    http_status=code,
                )
            raise BadAnswer(
                f"{where}: the answer is not valid JSON (HTTP {code}): {excerpt(text, 60)}",
                excerpt=excerpt(text),
                http_status=code,
            )
        return payload


# What an answer may be encoded in; anything else is refused rather than decoded by a
# decoder without an output limit. (We ask for these only.)
ACCEPT_ENCODING = "gzip, deflate"
ANSWER_DEADLINE_FACTOR = 3  # the whole answer within this many `timeout`s


async def _read_bounded(where: str, response: httpx.Response) -> bytes:
    """The answer's body, decompressed, refused beyond MAX_ANSWER_BYTES: neither a huge
    answer nor a small compressed bomb can fill the memory."""
    limit = MAX_ANSWER_BYTES
    too_large = BadAnswer(
        f"{where}: the answer is larger than {size_text(limit)} (HTTP {response.status_code}); "
        "nothing of it was used",
        http_status=response.status_code,
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        raise too_large
    if response.is_stream_consumed:  # built in memory (a test's transport): read already
        if len(response.content) > limit:
            raise too_large
        return response.content
    decoder = _decompressor(where, response)
    out = bytearray()
    async for chunk in response.aiter_raw():
        out += decoder(chunk, limit + 1 - len(out))
        if len(out) > limit:
            raise too_large
    return bytes(out)


Decoder = Callable[[bytes, int], bytes]


def _decompressor(where: str, response: httpx.Response) -> Decoder:
    """A function giving at most `room` bytes of decoded body per piece of raw body."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return lambda data, room: data[:room]
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BadAnswer(
            f"{where}: the answer is encoded as {excerpt(encoding, 40)!r}, which kondado-tui "
            "does not read",
            http_status=response.status_code,
        )
    # 32 + 15: a zlib or a gzip header, told apart by zlib itself
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)

    def decode(data: bytes, room: int) -> bytes:
        try:
            return inflater.decompress(data, max(room, 1))
        except zlib.error:
            raise BadAnswer(
                f"{where}: the answer's {encoding} compression is broken",
                http_status=response.status_code,
            ) from None

    return decode


def _text_of(response: httpx.Response, body: bytes) -> str:
    """The body as text, in the charset the answer names if Python knows it (UTF-8
    otherwise); undecodable bytes become U+FFFD."""
    charset = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return body.decode(charset, errors="replace")


def _looks_like_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or "<body" in head


def _reason(exc: BaseException) -> str:
    """The exception's own words, redacted: httpx may put the full URL in them."""
    text = str(exc) or type(exc).__name__
    return excerpt(text, 120)


__all__ = [
    "DEFAULT_BASE_URL",
    "ApiError",
    "KondadoClient",
    "OpenGate",
    "RequestGate",
    "parse_new_pipeline_id",
    "parse_status",
]
