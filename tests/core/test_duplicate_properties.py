"""Property tests: whatever is typed, a body with a wrong type never leaves the validator."""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kondado_tui.core.duplicate import (
    DuplicateDraft,
    ParamRow,
    TableRow,
    build_body,
    draft_from_body,
    param_text,
    parse_param_value,
    validate,
)
from kondado_tui.core.errors import ValidationError
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.core.sim import SimWorld
from kondado_tui.core.sim.catalogue import COLLECTIONS_BY_ID
from kondado_tui.core.sim.validate import validate_duplicate

REQUIRED = {
    "pipeline_id",
    "dest_collection_id",
    "src_collection_id",
    "full_tables",
    "execute_immediately",
}
OPTIONAL = {"client_id", "deltas_tables", "name", "overwrite_parameters"}
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _is_id(value: Any) -> bool:
    return type(value) is int and 0 < value < 2**63


def _is_param_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool, list))


def assert_well_shaped(body: dict[str, Any]) -> None:
    """What the API documents for `POST /pipelines`, checked type by type."""
    assert REQUIRED <= set(body) <= REQUIRED | OPTIONAL
    for key in ("pipeline_id", "dest_collection_id", "src_collection_id"):
        assert _is_id(body[key]), key
    if "client_id" in body:
        assert _is_id(body["client_id"])
    assert body["execute_immediately"] in ("Y", "N")
    if "name" in body:
        assert isinstance(body["name"], str) and body["name"] == body["name"].strip() != ""
    for key in ("full_tables", "deltas_tables"):
        if key not in body:
            continue
        tables = body[key]
        assert isinstance(tables, dict) and "" in tables
        names = list(tables.values())
        assert all(isinstance(n, str) and TABLE_NAME.fullmatch(n) for n in names)
        assert len({n.casefold() for n in names}) == len(names)
        assert all(isinstance(p, str) and p == p.strip() for p in tables)
    if "overwrite_parameters" in body:
        params = body["overwrite_parameters"]
        assert isinstance(params, dict) and params
        for name, value in params.items():
            assert isinstance(name, str) and name.strip() == name != ""
            assert _is_param_value(value), (name, value)


def assert_faithful(draft: DuplicateDraft, body: dict[str, Any]) -> None:
    """Nothing typed is dropped on the way: one entry per row (no duplicate collapsed)."""
    assert len(body["full_tables"]) == len(draft.full_tables)
    assert len(body.get("deltas_tables", {})) == len(draft.delta_tables)
    assert len(body.get("overwrite_parameters", {})) == len(draft.parameters)


# Table names one character away from valid.
NEAR_NAMES = st.tuples(
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
    st.sampled_from([" ", "-", ".", "ç", "\t", "\n", "\x1b", "0"]),
    st.from_regex(r"[a-z0-9]{0,4}", fullmatch=True),
).map(lambda t: "".join(t) if t[1] != "0" else t[1] + t[0])
# Text a user could type, biased towards the edges the rules care about.
EDGY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1",
        "42",
        " 7 ",
        "1.5",
        "1e3",
        "²",
        "12345-X",
        "null",
        "true",
        "[1,",
        "[1, 2]",
        '{"a": 1}',
        '"x"',
        "NaN",
        "a b",
        "orders",
        "Orders",
        "x\t",
        "ção",
        "9" * 25,
    ]
)
TEXT = st.one_of(EDGY, NEAR_NAMES, st.text(max_size=12))
TABLE_ROWS = st.lists(st.builds(TableRow, TEXT, TEXT), max_size=4)
PARAM_ROWS = st.lists(st.builds(ParamRow, TEXT, TEXT), max_size=4)

DRAFTS = st.builds(
    DuplicateDraft,
    base_id=TEXT,
    src=TEXT,
    dest=TEXT,
    client=TEXT,
    name=TEXT,
    execute_immediately=st.booleans(),
    full_tables=TABLE_ROWS,
    delta_tables=TABLE_ROWS,
    parameters=PARAM_ROWS,
)


@settings(max_examples=200, deadline=None)
@given(DRAFTS)
def test_any_draft_is_refused_or_builds_a_well_shaped_body(draft: DuplicateDraft) -> None:
    problems = validate(draft)
    try:
        body = build_body(draft)
    except ValidationError as exc:
        assert problems and exc.problems == problems
        assert all(isinstance(m, str) and m for m in problems.values())
        return
    assert problems == {}
    assert_well_shaped(body)
    assert_faithful(draft, body)


IDS = st.integers(min_value=1, max_value=2**63 - 1).map(str)
NAMES = st.from_regex(TABLE_NAME, fullmatch=True)
PATHS = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "Pd", "Pc"]), min_size=1, max_size=10
)
JSON_SCALARS = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=10),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
PARAM_VALUES = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=4))


@st.composite
def valid_drafts(draw: st.DrawFn) -> DuplicateDraft:
    def tables(required: bool) -> list[TableRow]:
        if not required and draw(st.booleans()):
            return []
        paths = ["", *draw(st.lists(PATHS, max_size=3, unique=True))]
        names = draw(
            st.lists(NAMES, min_size=len(paths), max_size=len(paths), unique_by=str.casefold)
        )
        return [TableRow(p, n) for p, n in zip(paths, names, strict=True)]

    param_names = draw(
        st.lists(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), max_size=3, unique=True)
    )
    values = [param_text(draw(PARAM_VALUES)) for _ in param_names]
    return DuplicateDraft(
        base_id=draw(IDS),
        src=draw(IDS),
        dest=draw(IDS),
        client=draw(st.one_of(st.just(""), IDS)),
        name=draw(SHOWN_NAMES),
        execute_immediately=draw(st.booleans()),
        full_tables=tables(True),
        delta_tables=tables(False),
        parameters=[ParamRow(n, v) for n, v in zip(param_names, values, strict=True) if v.strip()],
    )


@settings(max_examples=150, deadline=None)
@given(valid_drafts())
def test_valid_drafts_build_well_shaped_bodies_that_round_trip(draft: DuplicateDraft) -> None:
    body = build_body(draft)
    assert_well_shaped(body)
    again, shape = draft_from_body(body)
    assert shape == {}
    assert build_body(again) == body


@st.composite
def nearly_valid_drafts(draw: st.DrawFn) -> DuplicateDraft:
    """A valid draft with a few cells overwritten or copied across rows: the boundary."""
    draft = draw(valid_drafts())
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        text = draw(TEXT)
        cells: list[tuple[Any, str]] = [
            (draft, a) for a in ("base_id", "src", "dest", "client", "name")
        ]
        cells += [
            (row, a) for row in draft.full_tables + draft.delta_tables for a in ("path", "name")
        ]
        cells += [(row, a) for row in draft.parameters for a in ("name", "value")]
        target, attr = draw(st.sampled_from(cells))
        setattr(target, attr, text)
    sections: list[list[Any]] = [draft.full_tables, draft.delta_tables, draft.parameters]
    rows = draw(st.sampled_from(sections))
    action = draw(st.sampled_from(["none", "drop", "copy"]))
    if action == "drop" and rows:
        rows.pop(draw(st.integers(min_value=0, max_value=len(rows) - 1)))
    elif action == "copy" and len(rows) >= 2:  # the same path/name/value in two rows
        i, j = draw(st.lists(st.integers(0, len(rows) - 1), min_size=2, max_size=2, unique=True))
        attr = draw(
            st.sampled_from(["path", "name"] if rows is not draft.parameters else ["name", "value"])
        )
        text = getattr(rows[i], attr)
        if draw(st.booleans()):
            text = text.swapcase()
        setattr(rows[j], attr, text)
    return draft


@settings(max_examples=300, deadline=None)
@given(nearly_valid_drafts())
def test_nearly_valid_drafts_are_refused_or_well_shaped(draft: DuplicateDraft) -> None:
    problems = validate(draft)
    try:
        body = build_body(draft)
    except ValidationError as exc:
        assert problems and exc.problems == problems
        return
    assert problems == {}
    assert_well_shaped(body)
    assert_faithful(draft, body)


@settings(max_examples=300, deadline=None)
@given(PARAM_VALUES)
def test_parameter_text_reads_back_as_the_same_value(value: Any) -> None:
    text = param_text(value)
    if isinstance(value, str) and not value.strip():
        return  # a blank value is refused as "give a value", whatever its type
    parsed = parse_param_value(text)
    assert parsed == value
    assert type(parsed) is type(value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_parameter_values_parse_to_allowed_types_or_explain(text: str) -> None:
    try:
        value = parse_param_value(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert _is_param_value(value)


@settings(max_examples=200, deadline=None)
@given(valid_drafts(), st.sampled_from(["full", "delta", "param"]), st.data())
def test_a_repeated_path_or_parameter_name_is_always_refused(
    draft: DuplicateDraft, where: str, data: st.DataObject
) -> None:
    """A JSON object keeps one entry per key: a repeat would silently drop a row."""
    rows: list[Any] = {
        "full": draft.full_tables,
        "delta": draft.delta_tables,
        "param": draft.parameters,
    }[where]
    if not rows:
        return
    original = data.draw(st.sampled_from(rows))
    if where == "param":
        rows.append(ParamRow(original.name, "1"))
    else:
        rows.append(TableRow(original.path, "another_table_name"))
    assert validate(draft)


# -- against the simulator's own (independent) check of a body ---------------------------

_WORLD = SimWorld(demo=True)
_BASE = _WORLD.spec(2040)
_SPECS = {pid: _WORLD.spec(pid) for pid in _WORLD.pipeline_ids}


def _same_type(collection_id: int) -> list[int]:
    kind = COLLECTIONS_BY_ID[collection_id]
    return [
        c.id
        for c in COLLECTIONS_BY_ID.values()
        if c.type == kind.type and c.role == kind.role and c.active
    ]


# A pipeline name as the validator takes it: shown as it is (no control, escape or
# format character: `clean` would change it).
SHOWN_NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Cf"]), max_size=20
).filter(lambda t: clean(t.strip(), keep_newlines=False) == t.strip())


@st.composite
def drafts_for_the_demo_base(draw: st.DrawFn) -> DuplicateDraft:
    """What a user would type to copy the simulator's pipeline 2040: every path named."""
    paths = list(_BASE.paths)
    names = draw(st.lists(NAMES, min_size=len(paths), max_size=len(paths), unique_by=str.casefold))
    filled = sorted(k for k, v in _BASE.parameters.items() if v != "")
    chosen = draw(st.lists(st.sampled_from(filled), unique=True)) if filled else []
    values = [
        param_text(draw(JSON_SCALARS.filter(lambda v: not isinstance(v, str) or v.strip())))
        for _ in chosen
    ]
    delta_names = draw(
        st.one_of(
            st.just([]),
            st.lists(NAMES, min_size=len(paths), max_size=len(paths), unique_by=str.casefold),
        )
    )
    return DuplicateDraft(
        base_id=str(_BASE.id),
        src=str(draw(st.sampled_from(_same_type(_BASE.src_collection_id)))),
        dest=str(draw(st.sampled_from(_same_type(_BASE.dest_collection_id)))),
        client=draw(st.sampled_from(["", *map(str, sorted(_WORLD.client_ids))])),
        name=draw(SHOWN_NAMES),
        execute_immediately=draw(st.booleans()),
        full_tables=[TableRow(p, n) for p, n in zip(paths, names, strict=True)],
        delta_tables=[TableRow(p, n) for p, n in zip(paths, delta_names, strict=True)]
        if delta_names
        else [],
        parameters=[ParamRow(n, v) for n, v in zip(chosen, values, strict=True)],
    )


@settings(max_examples=100, deadline=None)
@given(drafts_for_the_demo_base())
def test_what_the_validator_lets_through_the_simulator_accepts(draft: DuplicateDraft) -> None:
    assert validate(draft) == {}
    body = build_body(draft)
    assert validate_duplicate(body, _SPECS, _WORLD.client_ids) is None
