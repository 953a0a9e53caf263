"""The simulated API's own check of a duplicate body (`POST /pipelines`).

Deliberately independent of `kondado_tui.core.duplicate` (the client's validator): the
simulator plays the server, so a mistake in the client's validator must reach this one
and be refused here, as the real API would, instead of being agreed with.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from kondado_tui.core.sim.catalogue import COLLECTIONS_BY_ID
from kondado_tui.core.sim.spec import PipelineSpec

REQUIRED = (
    "pipeline_id",
    "dest_collection_id",
    "src_collection_id",
    "full_tables",
    "execute_immediately",
)
KNOWN = {*REQUIRED, "client_id", "deltas_tables", "name", "overwrite_parameters"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_duplicate(
    body: Any, specs: Mapping[int, PipelineSpec], client_ids: Collection[int]
) -> str | None:
    """The API's error text for a bad body, or None when it would be accepted."""
    if not isinstance(body, dict):
        return "Invalid body: expected a JSON object"
    missing = [f for f in REQUIRED if f not in body]
    if missing:
        return f"Missing required field(s): {', '.join(missing)}"
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        return f"Unknown field(s): {', '.join(unknown)}"
    for name in ("pipeline_id", "dest_collection_id", "src_collection_id", "client_id"):
        if name in body and not _is_int(body[name]):
            return f"Field '{name}' must be an integer"
    base = specs.get(body["pipeline_id"])
    if base is None:
        return f"Pipeline {body['pipeline_id']} not found"
    problem = (
        _check_collection(
            body["src_collection_id"], "src_collection_id", "source", base.src_collection_id
        )
        or _check_collection(
            body["dest_collection_id"], "dest_collection_id", "destination", base.dest_collection_id
        )
        or _check_tables(body["full_tables"], "full_tables", base.paths)
        or (
            "deltas_tables" in body
            and _check_tables(body["deltas_tables"], "deltas_tables", base.paths)
        )
        or None
    )
    if problem:
        return problem
    if body["execute_immediately"] not in ("Y", "N"):
        return 'Field \'execute_immediately\' must be "Y" or "N"'
    if "client_id" in body and body["client_id"] not in client_ids:
        return f"Client {body['client_id']} not found or not accessible"
    if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
        return "Field 'name' must be a non-empty string"
    if "overwrite_parameters" in body:
        return _check_parameters(body["overwrite_parameters"], base.parameters)
    return None


def _check_collection(value: int, field: str, role: str, base_id: int) -> str | None:
    collection = COLLECTIONS_BY_ID.get(value)
    if collection is None or collection.role != role:
        return f"Field '{field}': {role} collection {value} not found"
    if not collection.active:
        return f"Field '{field}': {role} collection {value} is not active"
    expected = COLLECTIONS_BY_ID[base_id].type
    if collection.type != expected:
        return (
            f"Field '{field}': collection {value} is of type {collection.type}, "
            f"the base pipeline needs {expected}"
        )
    return None


def _check_tables(value: Any, field: str, paths: tuple[str, ...]) -> str | None:
    if not isinstance(value, dict):
        return f"Field '{field}' must be an object mapping table paths to table names"
    missing = [p for p in paths if p not in value]
    if missing:
        shown = ", ".join(repr(p) for p in missing)
        return f"Field '{field}': missing table path(s) {shown}"
    extra = sorted(set(value) - set(paths))
    if extra:
        return f"Field '{field}': unknown table path(s) {', '.join(map(repr, extra))}"
    for path, name in value.items():
        if not isinstance(name, str) or not name.strip():
            return f"Field '{field}': the table name for path {path!r} must be a non-empty string"
    return None


def _check_parameters(value: Any, parameters: Mapping[str, str]) -> str | None:
    if not isinstance(value, dict):
        return "Field 'overwrite_parameters' must be an object"
    for name, new in value.items():
        if name not in parameters:
            return f"Parameter '{name}' does not exist in the base pipeline"
        if parameters[name] == "":
            return f"Parameter '{name}' is not filled in the base pipeline"
        # The API's own example passes a list (of ad accounts), so lists of scalars are fine.
        items = new if isinstance(new, list) else [new]
        if isinstance(new, list) and not new:
            return f"Parameter '{name}': the list is empty"
        if not all(isinstance(item, (str, int, float, bool)) for item in items):
            return (
                f"Parameter '{name}': the value must be a string, number, boolean "
                "or a list of those"
            )
    return None
