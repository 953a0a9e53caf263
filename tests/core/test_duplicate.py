"""The duplicate validator: one example per rule, and the body it builds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kondado_tui.core.duplicate import (
    DuplicateDraft,
    ParamRow,
    TableRow,
    body_json,
    build_body,
    draft_from_body,
    field_label,
    load_body_file,
    param_text,
    parse_param_value,
    parse_row_key,
    row_key,
    tables_to_be_created,
    validate,
    warnings,
)
from kondado_tui.core.errors import ValidationError


def good(**changes: Any) -> DuplicateDraft:
    draft = DuplicateDraft(
        base_id="2040",
        src="311",
        dest="412",
        full_tables=[TableRow("", "acme_orders"), TableRow("items", "acme_items")],
    )
    for key, value in changes.items():
        setattr(draft, key, value)
    return draft


def test_a_complete_draft_is_valid_and_builds_the_documented_body() -> None:
    draft = good(
        client="12345",
        name="  Orders ACME ",
        execute_immediately=True,
        delta_tables=[TableRow("", "acme_orders_delta")],
        parameters=[ParamRow("start", "2024-01-01"), ParamRow("ids", "[1, 2]")],
    )
    assert validate(draft) == {}
    assert build_body(draft) == {
        "pipeline_id": 2040,
        "dest_collection_id": 412,
        "src_collection_id": 311,
        "client_id": 12345,
        "full_tables": {"": "acme_orders", "items": "acme_items"},
        "deltas_tables": {"": "acme_orders_delta"},
        "execute_immediately": "Y",
        "name": "Orders ACME",
        "overwrite_parameters": {"start": "2024-01-01", "ids": [1, 2]},
    }


def test_optional_fields_are_omitted_when_empty() -> None:
    body = build_body(good(client="  ", name="   "))
    assert set(body) == {
        "pipeline_id",
        "dest_collection_id",
        "src_collection_id",
        "full_tables",
        "execute_immediately",
    }
    assert body["execute_immediately"] == "N"


@pytest.mark.parametrize("key, attr", [("base", "base_id"), ("src", "src"), ("dest", "dest")])
def test_required_ids_are_required(key: str, attr: str) -> None:
    problems = validate(good(**{attr: ""}))
    assert problems[key].startswith("required:")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("abc", "is not a whole number"),
        ("12.5", "is not a whole number"),
        ("-3", "is not a whole number"),
        ("0", "must be a positive number"),
        ("1_000", "is not a whole number"),
        ("²", "is not a whole number"),  # str.isdigit() would accept it
        ("99999999999999999999", "too large"),
        ("https://app.kondado.com.br/pipelines/2040", "number at the end of the URL: 2040"),
    ],
)
def test_ids_must_be_positive_integers(text: str, expected: str) -> None:
    assert expected in validate(good(base_id=text))["base"]


def test_ids_may_have_spaces_around() -> None:
    assert build_body(good(src=" 311 "))["src_collection_id"] == 311


def test_client_is_optional_but_an_integer_and_the_team_id_is_explained() -> None:
    assert "client" not in validate(good(client=""))
    assert "before the dash only: 12345" in validate(good(client="12345-X"))["client"]
    assert "not a whole number" in validate(good(client="acme"))["client"]


def test_the_main_table_is_required() -> None:
    problems = validate(good(full_tables=[TableRow("items", "acme_items")]))
    assert "main table is missing" in problems["full_tables"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("", "give the new table's name"),
        ("   ", "give the new table's name"),
        ("my orders", "space"),
        ("orders-2", "'-'"),
        ("pedidos_ção", "Use letters, digits and _"),
        ("1orders", "starts with a digit"),
        ("a" * 64, "at most 63"),
        ("orders\t", "'\\t'"),
    ],
)
def test_table_names_are_checked(name: str, expected: str) -> None:
    problems = validate(good(full_tables=[TableRow("", name)]))
    assert expected in problems["full_tables[0].name"]


def test_a_bad_name_message_suggests_a_fix() -> None:
    problem = validate(good(full_tables=[TableRow("", "my orders-2")]))["full_tables[0].name"]
    assert "e.g. my_orders_2" in problem


def test_table_names_are_unique_within_full_tables_ignoring_case() -> None:
    draft = good(full_tables=[TableRow("", "orders"), TableRow("items", "Orders")])
    problem = validate(draft)["full_tables[1].name"]
    assert 'is the same as "orders" in row 1' in problem


def test_table_names_are_unique_within_delta_tables() -> None:
    draft = good(delta_tables=[TableRow("", "d"), TableRow("items", "d")])
    assert "is already in row 1" in validate(draft)["delta_tables[1].name"]


def test_a_name_in_both_full_and_delta_tables_is_a_warning_not_an_error() -> None:
    draft = good(delta_tables=[TableRow("", "ACME_ORDERS")])
    assert validate(draft) == {}
    assert "also a full table's name (row 1)" in warnings(draft)["delta_tables[0].name"]


def test_paths_are_unique() -> None:
    draft = good(full_tables=[TableRow("", "a"), TableRow("items", "b"), TableRow("items", "c")])
    assert 'path "items" is already in row 2' in validate(draft)["full_tables[2].path"]
    two_mains = good(full_tables=[TableRow("", "a"), TableRow("", "b")])
    problem = validate(two_mains)["full_tables[1].path"]
    assert "the path is empty, like the main table's" in problem


def test_paths_have_no_blank_or_padded_text() -> None:
    draft = good(full_tables=[TableRow("", "a"), TableRow("  ", "b"), TableRow(" x", "c")])
    problems = validate(draft)
    assert "the path is blank" in problems["full_tables[1].path"]
    assert "spaces at the start or end" in problems["full_tables[2].path"]


def test_delta_tables_need_the_main_path_when_given() -> None:
    draft = good(delta_tables=[TableRow("items", "acme_items_delta")])
    assert "without the main table" in validate(draft)["delta_tables"]
    assert "delta_tables" not in validate(good(delta_tables=[]))


@pytest.mark.parametrize(
    "rows, key, expected",
    [
        ([ParamRow("", "1")], "parameters[0].name", "give the parameter's name"),
        ([ParamRow(" a", "1")], "parameters[0].name", "spaces at the start or end"),
        ([ParamRow("a b", "1")], "parameters[0].name", "no spaces"),
        ([ParamRow("a", "1"), ParamRow("a", "2")], "parameters[1].name", "already in row 1"),
        ([ParamRow("a", "")], "parameters[0].value", "give a value"),
        ([ParamRow("a", "[1,")], "parameters[0].value", "not valid"),
        ([ParamRow("a", "null")], "parameters[0].value", "null is not a value"),
        ([ParamRow("a", '{"x": 1}')], "parameters[0].value", "objects are not accepted"),
    ],
)
def test_parameters_are_checked(rows: list[ParamRow], key: str, expected: str) -> None:
    assert expected in validate(good(parameters=rows))[key]


@pytest.mark.parametrize(
    "text, value",
    [
        ("12", 12),
        ("-1.5", -1.5),
        ("1e3", 1000.0),
        ("true", True),
        ("false", False),
        ('[1, "a"]', [1, "a"]),
        ('"12"', "12"),
        ('"null"', "null"),
        ("007", "007"),  # not a JSON number: kept as typed
        ("2024-01-01", "2024-01-01"),
        ("True", "True"),
        ("NaN", "NaN"),
        ("hello world", "hello world"),
    ],
)
def test_parameter_values_are_json_when_they_look_like_json(text: str, value: Any) -> None:
    assert parse_param_value(text) == value
    assert type(parse_param_value(text)) is type(value)
    assert parse_param_value(param_text(value)) == value


def test_build_body_raises_with_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        build_body(DuplicateDraft(full_tables=[TableRow("", "bad name")]))
    assert set(info.value.problems) == {"base", "src", "dest", "full_tables[0].name"}
    assert "full_tables[0].name" in str(info.value)


def test_tables_to_be_created_lists_every_name_once_in_order() -> None:
    body = build_body(
        good(delta_tables=[TableRow("", "acme_orders"), TableRow("items", "acme_items_d")])
    )
    assert tables_to_be_created(body) == ["acme_orders", "acme_items", "acme_items_d"]


def test_body_json_is_the_exact_body() -> None:
    body = build_body(good(name="Pedidos ção"))
    assert json.loads(body_json(body)) == body
    assert "ção" in body_json(body)


def test_row_keys_round_trip_and_labels_name_the_row() -> None:
    assert parse_row_key(row_key("full_tables", 2, "name")) == ("full_tables", 2, "name")
    assert parse_row_key("src") is None
    draft = good(parameters=[ParamRow("start", "x")])
    assert field_label(draft, "full_tables[0].name") == "full table (main): name"
    assert field_label(draft, "full_tables[1].path") == 'full table "items": path'
    assert field_label(draft, "parameters[0].value") == 'parameter "start": value'
    assert field_label(draft, "src").startswith("source collection")


def test_is_filled_ignores_the_prefilled_base() -> None:
    assert not DuplicateDraft(base_id="2040").is_filled("2040")
    assert DuplicateDraft(base_id="2041").is_filled("2040")
    assert DuplicateDraft(base_id="2040", src="1").is_filled("2040")
    assert DuplicateDraft(base_id="2040", execute_immediately=True).is_filled("2040")


# -- body files -------------------------------------------------------------------------

TOML_BODY = """
pipeline_id = 2040
src_collection_id = 311
dest_collection_id = 412
client_id = 12345
name = "Orders ACME"
execute_immediately = "N"

[full_tables]
"" = "acme_orders"
items = "acme_items"

[deltas_tables]
"" = "acme_orders_delta"

[overwrite_parameters]
account_ids = [101, 102]
start_date = "2024-01-01"
code = "12"
"""


def test_a_toml_body_file_round_trips_through_the_draft(tmp_path: Path) -> None:
    path = tmp_path / "body.toml"
    path.write_text(TOML_BODY, encoding="utf-8")
    data = load_body_file(path)
    draft, problems = draft_from_body(data)
    assert problems == {}
    assert build_body(draft) == data
    assert draft.parameters[2].value == '"12"'  # a string that looks like a number


def test_a_json_body_file_without_extension_is_told_by_its_content(tmp_path: Path) -> None:
    path = tmp_path / "body"
    body = {
        "pipeline_id": 1,
        "src_collection_id": 2,
        "dest_collection_id": 3,
        "full_tables": {"": "t"},
        "execute_immediately": "Y",
    }
    path.write_text(json.dumps(body), encoding="utf-8")
    draft, problems = draft_from_body(load_body_file(path))
    assert problems == {}
    assert build_body(draft) == body


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("b.json", "{oops", "not valid JSON (line 1, column 2"),
        ("b.toml", "a = ", "not valid TOML"),
        ("b.json", "[1]", "must be a JSON object"),
        ("missing.json", None, "no such file"),
    ],
)
def test_bad_body_files_are_named(
    tmp_path: Path, name: str, text: str | None, expected: str
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_body_file(path)
    assert expected in info.value.problems["body"]
    assert str(path) in info.value.problems["body"]


def test_a_body_of_wrong_shapes_reports_every_problem() -> None:
    data = {
        "pipeline_id": "2040",  # text digits are what a user would type: accepted
        "src_collection_id": True,
        "dest_collection_id": 4.5,
        "execute_immediately": "maybe",
        "full_tables": ["orders"],
        "overwrite_parameters": "x",
        "pipline_name": "typo",
    }
    draft, shape = draft_from_body(data)
    problems = {**validate(draft), **shape}  # a shape problem says more
    assert "'pipline_name'" in problems["body"]
    assert '"Y" or "N"' in problems["execute"]
    assert "must be an object" in problems["full_tables"]
    assert "must be an object" in problems["parameters"]
    assert "not a whole number" in problems["src"]
    assert "not a whole number" in problems["dest"]
    assert "base" not in problems


def test_an_unknown_field_gets_a_suggestion() -> None:
    _, shape = draft_from_body({"delta_tables": {}})
    assert "did you mean 'deltas_tables'" in shape["body"]


@pytest.mark.parametrize("value, expected", [(True, True), ("y", True), ("N", False)])
def test_execute_immediately_accepts_y_n_and_booleans(value: Any, expected: bool) -> None:
    draft, shape = draft_from_body({"execute_immediately": value})
    assert shape == {}
    assert draft.execute_immediately is expected
