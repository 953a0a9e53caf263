"""One JSON object a line, bounded and strictly checked.

Whatever is at the other end of a local socket may be hostile: every line is bounded
(`LineBuffer`), parsed as ASCII JSON without NaN or Infinity, and every field is checked
for its type and range by the helpers below. Anything else raises `ProtocolError`, whose
message says what was wrong in our words (never the peer's), and ends that connection.
Nothing received is ever executed, formatted into markup or logged verbatim.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


class ProtocolError(Exception):
    """The other end sent something the protocol does not allow. The message says what,
    in our words (never theirs)."""


class VersionMismatch(ProtocolError):
    """A greeting of another protocol version (answered with a refusal, then closed)."""


def fail(what: str) -> NoReturn:
    raise ProtocolError(what)


def _reject_constant(name: str) -> NoReturn:
    raise ProtocolError(f"{name} is not a number this protocol allows")


def json_line(payload: dict[str, Any], limit: int, what: str = "a message") -> bytes:
    """`payload` as one ASCII line, newline included; ValueError if it exceeds `limit`
    (a bug of ours: the sender cuts what it sends to fit)."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    line = text.encode("ascii") + b"\n"
    if len(line) > limit:
        raise ValueError(f"{what} does not fit in one line")
    return line


def json_object(line: bytes, limit: int) -> dict[str, Any]:
    """The JSON object on one line, or `ProtocolError`."""
    if len(line) > limit:
        fail("a line longer than the protocol allows")
    try:
        data = json.loads(line.decode("ascii"), parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        fail("a line that is not JSON")
    if not isinstance(data, dict):
        fail("a line that is not a JSON object")
    return data


def check_version(data: dict[str, Any], version: int) -> None:
    value = data.get("v")
    if value != version or isinstance(value, bool):
        raise VersionMismatch("another version of the protocol")


def check_fields(
    data: dict[str, Any], expected: Collection[str], *, kind: str | None = None
) -> None:
    """Exactly these fields (and `"t": kind`, when the object is a message of its own)."""
    keys = set(data)
    if kind is not None and data.get("t") == kind:
        keys.discard("t")
    if keys != set(expected):
        fail("missing or unexpected fields")


def check_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail("a field that should be an object")
    return value


def check_int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        fail("a number out of range")
    return value


def check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        fail("a field that should be true or false")
    return value


def check_number(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail("a field that should be a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        fail("a number out of range")
    return number


def check_time(value: Any, now: float, slack: float) -> float:
    """A wall time within `slack` of the reader's own clock (every process on a host
    reads the same one)."""
    return check_number(value, now - slack, now + slack)


def check_str(value: Any, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        fail("a text that is too long or not a text")
    return value


def check_list(value: Any, limit: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        fail("a list that is too long or not a list")
    return value


def check_optional(value: Any, check: Callable[[Any], T]) -> T | None:
    return None if value is None else check(value)


class LineBuffer:
    """Bytes in, complete lines out; a line longer than `limit` is a `ProtocolError` (a
    peer that never ends its line cannot make anyone hold more than that)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._data = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        self._data += chunk
        lines = []
        while True:
            end = self._data.find(b"\n")
            if end < 0:
                break
            if end + 1 > self._limit:
                fail("a line longer than the protocol allows")
            lines.append(bytes(self._data[: end + 1]))
            del self._data[: end + 1]
        if len(self._data) >= self._limit:
            fail("a line longer than the protocol allows")
        return lines


__all__ = [
    "LineBuffer",
    "ProtocolError",
    "VersionMismatch",
    "check_bool",
    "check_dict",
    "check_fields",
    "check_int",
    "check_list",
    "check_number",
    "check_optional",
    "check_str",
    "check_time",
    "check_version",
    "fail",
    "json_line",
    "json_object",
]
