"""JSON as the API and a request body may hold it: nothing Python accepts beyond it.

Python's `json` reads `NaN`, `Infinity` and `1e400` (as an infinite float), integers of
thousands of digits, and nesting until the interpreter's recursion limit; `tomllib`
adds dates, times and `inf`/`nan`. None of these can be sent as JSON (httpx refuses
them, or they go out as the text "Infinity"), and an answer holding them is not one
Kondado would send. `loads` refuses them with a message in our words, and `problem`
finds them in a value read some other way (a TOML body file), naming where it is.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterator
from typing import Any

from kondado_tui.core.guards.limits import MAX_JSON_DEPTH, MAX_JSON_DIGITS


class JsonError(ValueError):
    """Text that is not JSON kondado-tui accepts; `str()` says why, in our words."""


def loads(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse `text`, refusing NaN and infinities (`1e400` too), integers of more than
    `MAX_JSON_DIGITS` digits and nesting deeper than `max_depth`. Raises JsonError."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except JsonError:
        raise
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise JsonError(f"not valid JSON ({where}: {exc.msg})") from None
    except RecursionError:
        raise JsonError(f"nested deeper than {max_depth} levels") from None
    found = problem(value, max_depth=max_depth)
    if found is not None:
        where, what = found
        raise JsonError(f"{what} (at {where})" if where else what)
    return value


def problem(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """The first thing in `value` that JSON cannot carry, as (where, what is wrong), or
    None. `where` is a path such as `overwrite_parameters.start_date` or `tables[2]`."""
    for path, item, depth in _walk(value):
        if depth > max_depth:
            return "", f"nested deeper than {max_depth} levels"
        what = _not_json(item)
        if what is not None:
            return path, what
    return None


def _walk(value: Any) -> Iterator[tuple[str, Any, int]]:
    """Every node of `value` with its path and depth, without recursion."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        yield path, item, depth
        if isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                name = key if isinstance(key, str) else repr(key)
                stack.append((f"{path}.{name}" if path else name, child, depth + 1))
        elif isinstance(item, list | tuple):
            for index in range(len(item) - 1, -1, -1):
                stack.append((f"{path}[{index}]", item[index], depth + 1))


def _not_json(item: Any) -> str | None:
    if item is None or isinstance(item, str | bool | int | dict | list | tuple):
        if isinstance(item, dict) and not all(isinstance(k, str) for k in item):
            return "an object key that is not text"
        return None
    if isinstance(item, float):
        if math.isnan(item):
            return "NaN is not a number JSON can carry"
        if math.isinf(item):
            return "a number too large for JSON (it would be sent as Infinity)"
        return None
    if isinstance(item, datetime.datetime):
        return f"a date and time ({item.isoformat()}) is not a JSON value"
    if isinstance(item, datetime.date):
        return f"a date ({item.isoformat()}) is not a JSON value"
    if isinstance(item, datetime.time):
        return f"a time of day ({item.isoformat()}) is not a JSON value"
    return f"a {type(item).__name__} is not a JSON value"


def _constant(name: str) -> Any:
    raise JsonError(f"{name} is not a number JSON can carry")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"the number {text[:24]} is too large for JSON")
    return value


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_JSON_DIGITS:
        raise JsonError(f"a number of {digits} digits (at most {MAX_JSON_DIGITS} are read)")
    return int(text)
