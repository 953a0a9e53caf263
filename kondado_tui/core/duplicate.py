"""Duplicating a pipeline: the draft the user types, the one validator, the request body.

The CLI and the TUI form both go through `validate` / `build_body`, so a body that the
form refuses is refused by the command line too, with the same words.

The draft keeps every field as the text the user typed, so a form can show it again
after a failure and nothing is lost. Field keys (`base`, `src`, `full_tables[2].name`,
...) are stable: the form puts each message beside its field.

Parameter values are text that may be JSON: a value that looks like JSON (a list
`[...]`, an object `{...}`, a number such as `12` or `1.5`, `true`, `false`, `null` or a
double-quoted string `"12"`) is parsed as JSON; anything else is sent as the text typed.
So `12` sends the number 12, `"12"` sends the text "12", `[1, 2]` sends a list and
`2024-01-01` sends text. Objects and `null` are refused (write them as quoted text).

No Textual or Rich here.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kondado_tui.core.errors import KondadoError, ValidationError
from kondado_tui.core.guards import strict_json
from kondado_tui.core.guards.limits import MAX_BODY_FILE, size_text
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.core.paths import default_duplicates_path
from kondado_tui.core.private_file import write_private

MAIN_PATH = ""  # the main table's path in `full_tables` / `deltas_tables`
MAX_ID = 2**63 - 1  # ids travel as JSON integers; keep them in a signed 64-bit range
MAX_TABLE_NAME = 63  # PostgreSQL's identifier limit, the tightest of common destinations
MAX_NAME = 255

# Field keys: what `validate` reports against. Row keys are built by `row_key`.
BASE = "base"
SRC = "src"
DEST = "dest"
CLIENT = "client"
NAME = "name"
EXECUTE = "execute"
FULL = "full_tables"
DELTA = "delta_tables"
PARAMS = "parameters"
BODY = "body"  # a problem with a body file as a whole (unknown field, wrong shape)

TABLE_SECTIONS = (FULL, DELTA)

ParamValue = str | int | float | bool | list[Any]

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() accepts "²" and "٣"
_TEAM_ID = re.compile(r"([0-9]+)-[0-9A-Za-z]+")  # "12345-X": the client id is 12345
_TRAILING_ID = re.compile(r".*/pipelines/([0-9]+)/?")  # a pasted app URL
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_JSON_WORDS = ("true", "false", "null")


# -- the draft --------------------------------------------------------------------------


@dataclass
class TableRow:
    """One table mapping: the table's path in the base pipeline -> the new table's name."""

    path: str = ""
    name: str = ""

    @property
    def is_main(self) -> bool:
        return self.path == MAIN_PATH


@dataclass
class ParamRow:
    """One parameter to overwrite: its name and the value as typed (see the module doc)."""

    name: str = ""
    value: str = ""


def _main_only() -> list[TableRow]:
    return [TableRow(MAIN_PATH, "")]


@dataclass
class DuplicateDraft:
    """What the user typed, as text. `validate` says what is wrong with it."""

    base_id: str = ""
    src: str = ""
    dest: str = ""
    client: str = ""
    name: str = ""
    execute_immediately: bool = False
    full_tables: list[TableRow] = field(default_factory=_main_only)
    delta_tables: list[TableRow] = field(default_factory=list)
    parameters: list[ParamRow] = field(default_factory=list)

    def rows(self, section: str) -> list[TableRow]:
        """The table rows of `FULL` or `DELTA`."""
        if section == FULL:
            return self.full_tables
        if section == DELTA:
            return self.delta_tables
        raise ValueError(f"not a table section: {section!r}")

    def is_filled(self, base_id: str | None = None) -> bool:
        """True when the user typed something worth asking about before discarding.

        `base_id` is the prefilled base: keeping it as it was does not count as typing.
        """
        if self.base_id.strip() and self.base_id != (base_id or ""):
            return True
        texts = [self.src, self.dest, self.client, self.name]
        texts += [r.name for r in self.full_tables] + [r.path for r in self.full_tables]
        texts += [r.name for r in self.delta_tables] + [r.path for r in self.delta_tables]
        texts += [p.name for p in self.parameters] + [p.value for p in self.parameters]
        return self.execute_immediately or any(t.strip() for t in texts)


def row_key(section: str, index: int, part: str) -> str:
    """The field key of one cell: `row_key(FULL, 2, "name") == "full_tables[2].name"`."""
    return f"{section}[{index}].{part}"


_ROW_KEY = re.compile(r"(full_tables|delta_tables|parameters)\[([0-9]+)\]\.(path|name|value)")


def parse_row_key(key: str) -> tuple[str, int, str] | None:
    """The inverse of `row_key`; None for a field that is not a row cell."""
    match = _ROW_KEY.fullmatch(key)
    if match is None:
        return None
    return match.group(1), int(match.group(2)), match.group(3)


_FIELD_LABELS = {
    BASE: "base pipeline (pipeline_id)",
    SRC: "source collection (src_collection_id)",
    DEST: "destination collection (dest_collection_id)",
    CLIENT: "client (client_id)",
    NAME: "name",
    EXECUTE: "execute immediately (execute_immediately)",
    FULL: "full tables (full_tables)",
    DELTA: "delta tables (deltas_tables)",
    PARAMS: "parameters (overwrite_parameters)",
    BODY: "body file",
}


def field_label(draft: DuplicateDraft, key: str) -> str:
    """A human name for a field key, naming the row by its path or parameter name."""
    parsed = parse_row_key(key)
    if parsed is None:
        return _FIELD_LABELS.get(key, key)
    section, index, part = parsed
    if section == PARAMS:
        rows = draft.parameters
        pname = rows[index].name if index < len(rows) else ""
        who = f"parameter {_quote(pname)}" if pname.strip() else f"parameter row {index + 1}"
        return f"{who}: {part}"
    kind = "full table" if section == FULL else "delta table"
    trows = draft.rows(section)
    path = trows[index].path if index < len(trows) else None
    if path == MAIN_PATH:
        who = f"{kind} (main)"
    elif path is not None and path.strip():
        who = f"{kind} {_quote(path)}"
    else:
        who = f"{kind} row {index + 1}"
    return f"{who}: {part}"


# -- parameter values -------------------------------------------------------------------


def looks_like_json(text: str) -> bool:
    """True when a parameter value is read as JSON rather than as plain text."""
    s = text.strip()
    if not s:
        return False
    return s[0] in '[{"' or s in _JSON_WORDS or _JSON_NUMBER.fullmatch(s) is not None


def parse_param_value(text: str) -> ParamValue:
    """A typed parameter value: JSON when it looks like JSON, else the text as typed.

    Raises ValueError with a message saying how to fix the value.
    """
    if not looks_like_json(text):
        return text
    s = text.strip()
    try:
        value = strict_json.loads(s)
    except strict_json.JsonError as exc:
        detail = str(exc).removeprefix("not valid JSON (").removesuffix(")")
        if str(exc).startswith("not valid JSON"):
            raise ValueError(
                f"looks like JSON but is not valid ({detail}): fix it, or write it as a "
                'quoted JSON string ("...") to send it as text'
            ) from None
        raise ValueError(
            f"{exc}: give a value JSON can carry, or write it as a quoted JSON string "
            f"({_quote(s)}) to send it as text"
        ) from None
    if value is None:
        raise ValueError(
            "null is not a value: remove the row to keep the base's value, "
            'or write "null" (with quotes) to send the text'
        )
    if isinstance(value, dict):
        raise ValueError(
            "objects are not accepted as parameter values: write a string, a number, "
            'true/false or a list [...], or quote the text ("{...}") to send it as text'
        )
    if isinstance(value, (str, int, float, bool, list)):
        return value
    raise ValueError("not a string, number, true/false or list")  # pragma: no cover


def param_text(value: Any) -> str:
    """The text that `parse_param_value` reads back as `value` (for prefilling a form)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if looks_like_json(value) else value
    return json.dumps(value, ensure_ascii=False)


# -- validation -------------------------------------------------------------------------


def _parse_id(text: str) -> int | None:
    s = text.strip()
    if not _DIGITS.fullmatch(s):
        return None
    value = int(s)
    return value if 0 < value <= MAX_ID else None


def _id_problem(text: str, what: str, example: str, *, required: bool) -> str | None:
    s = text.strip()
    if not s:
        return f"required: {what}, e.g. {example}" if required else None
    if _DIGITS.fullmatch(s):
        value = int(s)
        if value == 0:
            return f"must be a positive number: {what}"
        if value > MAX_ID:
            return f"{s[:12]}… is too large for an id: check {what}"
        return None
    url = _TRAILING_ID.fullmatch(s)
    if url is not None:
        return f"type just the number at the end of the URL: {url.group(1)}"
    team = _TEAM_ID.fullmatch(s)
    if team is not None:
        return f"type the number before the dash only: {team.group(1)}"
    return f"{_quote(s)} is not a whole number: type digits only ({what}, e.g. {example})"


def _unshowable(text: str) -> bool:
    """Text that would not show as it is (control, escape or format characters): it is
    sent to Kondado and shown in its app, and in our messages."""
    return clean(text, keep_newlines=False) != text


def _quote(text: str, limit: int = 24) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return json.dumps(shown, ensure_ascii=False)


def table_name_problem(name: str) -> str | None:
    """What is wrong with a destination table name, or None."""
    if not name.strip():
        return "give the new table's name (letters, digits and _)"
    if len(name) > MAX_TABLE_NAME:
        return f"{len(name)} characters: at most {MAX_TABLE_NAME} (the limit of PostgreSQL)"
    if _TABLE_NAME.fullmatch(name):
        return None
    if name[0].isdigit() and _TABLE_NAME.fullmatch("_" + name):
        return f"starts with a digit: start with a letter or _ (e.g. t_{name})"
    bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c == "_"))})
    shown = ", ".join("space" if c == " " else repr(c) for c in bad[:5])
    suggestion = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "new_table"
    if suggestion[0].isdigit():
        suggestion = "t_" + suggestion
    return (
        f"not allowed: {shown}. Use letters, digits and _ only, starting with a letter "
        f"or _ (e.g. {suggestion[:MAX_TABLE_NAME]})"
    )


def _table_problems(draft: DuplicateDraft, section: str, problems: dict[str, str]) -> None:
    rows = draft.rows(section)
    if section == DELTA and not rows:
        return
    if not any(r.is_main for r in rows):
        how = "--table =NAME" if section == FULL else "--delta-table =NAME"
        if section == FULL:
            problems[FULL] = f"the main table is missing: add a row with an empty path ({how})"
        else:
            problems[DELTA] = (
                "delta tables are given without the main table: add a row with an empty "
                f"path ({how}), or remove every delta row"
            )
    seen_paths: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for i, row in enumerate(rows):
        path_key = row_key(section, i, "path")
        name_key = row_key(section, i, "name")
        if row.path and not row.path.strip():
            problems[path_key] = (
                "the path is blank: leave it empty only for the main table, otherwise "
                "type the table's path in the base pipeline"
            )
        elif row.path != row.path.strip():
            problems[path_key] = "remove the spaces at the start or end of the path"
        elif _unshowable(row.path):
            problems[path_key] = (
                "the path contains control or invisible characters (bidirectional marks, "
                "escape sequences): retype it"
            )
        elif row.is_main and MAIN_PATH in seen_paths:
            problems[path_key] = (
                "the path is empty, like the main table's: type the table's path in the "
                "base pipeline (only the main table has an empty path)"
            )
        elif row.path in seen_paths:
            problems[path_key] = (
                f"path {_quote(row.path)} is already in row {seen_paths[row.path] + 1}: "
                "give each path once (remove this row)"
            )
        else:
            seen_paths[row.path] = i
        name_problem = table_name_problem(row.name)
        if name_problem is not None:
            problems[name_key] = name_problem
            continue
        folded = row.name.casefold()
        if folded in seen_names:
            earlier = rows[seen_names[folded]].name
            same = "is already" if earlier == row.name else f"is the same as {_quote(earlier)}"
            problems[name_key] = (
                f"{_quote(row.name)} {same} in row {seen_names[folded] + 1} (names are "
                "compared ignoring case): give each table its own name"
            )
        else:
            seen_names[folded] = i


def _param_problems(draft: DuplicateDraft, problems: dict[str, str]) -> None:
    seen: dict[str, int] = {}
    for i, row in enumerate(draft.parameters):
        name_key = row_key(PARAMS, i, "name")
        value_key = row_key(PARAMS, i, "value")
        if not row.name.strip():
            problems[name_key] = "give the parameter's name as in the base pipeline"
        elif row.name != row.name.strip():
            problems[name_key] = "remove the spaces at the start or end of the name"
        elif _unshowable(row.name) or any(c.isspace() for c in row.name):
            problems[name_key] = "a parameter name has no spaces, control or invisible characters"
        elif row.name in seen:
            problems[name_key] = (
                f"{_quote(row.name)} is already in row {seen[row.name] + 1}: "
                "give each parameter once"
            )
        else:
            seen[row.name] = i
        if not row.value.strip():
            problems[value_key] = (
                "give a value, or remove the row to keep the base pipeline's value"
            )
            continue
        try:
            parse_param_value(row.value)
        except ValueError as exc:
            problems[value_key] = str(exc)


def validate(draft: DuplicateDraft) -> dict[str, str]:
    """Every problem of the draft: field key -> what is wrong and how to fix it."""
    problems: dict[str, str] = {}
    checks = (
        (BASE, draft.base_id, "the id of the pipeline to copy (end of its app URL)", "2040", True),
        (SRC, draft.src, "the id of the new source collection", "311", True),
        (DEST, draft.dest, "the id of the new destination collection", "412", True),
        (CLIENT, draft.client, "the target account's number", "12345", False),
    )
    for key, text, what, example, required in checks:
        problem = _id_problem(text, what, example, required=required)
        if problem is not None:
            problems[key] = problem
    name = draft.name.strip()
    if name and _unshowable(name):
        problems[NAME] = (
            "the name contains control or invisible characters (tabs, line breaks, "
            "bidirectional marks, escape sequences): retype it"
        )
    elif len(name) > MAX_NAME:
        problems[NAME] = f"{len(name)} characters: at most {MAX_NAME}"
    for section in TABLE_SECTIONS:
        _table_problems(draft, section, problems)
    _param_problems(draft, problems)
    return problems


def warnings(draft: DuplicateDraft) -> dict[str, str]:
    """Things allowed but probably a mistake: field key -> what to check."""
    found: dict[str, str] = {}
    full_names = {r.name.casefold(): i for i, r in enumerate(draft.full_tables) if r.name}
    for i, row in enumerate(draft.delta_tables):
        j = full_names.get(row.name.casefold()) if row.name else None
        if j is not None:
            found[row_key(DELTA, i, "name")] = (
                f"{_quote(row.name)} is also a full table's name (row {j + 1}): both would "
                "write the same table; check that this is meant"
            )
    return found


# -- the request body -------------------------------------------------------------------


def _id(text: str) -> int:
    value = _parse_id(text)
    if value is None:  # validate() ran first; this guards a caller that skipped it
        raise ValidationError({"id": f"{_quote(text)} is not a positive whole number"})
    return value


def build_body(draft: DuplicateDraft) -> dict[str, Any]:
    """The JSON body of `POST /pipelines`. Raises ValidationError listing every problem."""
    problems = validate(draft)
    if problems:
        raise ValidationError(problems)
    body: dict[str, Any] = {
        "pipeline_id": _id(draft.base_id),
        "dest_collection_id": _id(draft.dest),
        "src_collection_id": _id(draft.src),
    }
    if draft.client.strip():
        body["client_id"] = _id(draft.client)
    body["full_tables"] = {r.path: r.name for r in draft.full_tables}
    if draft.delta_tables:
        body["deltas_tables"] = {r.path: r.name for r in draft.delta_tables}
    body["execute_immediately"] = "Y" if draft.execute_immediately else "N"
    if draft.name.strip():
        body["name"] = draft.name.strip()
    if draft.parameters:
        body["overwrite_parameters"] = {
            p.name: parse_param_value(p.value) for p in draft.parameters
        }
    return body


def tables_to_be_created(body: Mapping[str, Any]) -> list[str]:
    """Every table name the body creates: an existing table of that name is recreated."""
    names: list[str] = []
    for key in ("full_tables", "deltas_tables"):
        tables = body.get(key)
        if isinstance(tables, Mapping):
            for name in tables.values():
                if isinstance(name, str) and name not in names:
                    names.append(name)
    return names


def body_json(body: Mapping[str, Any]) -> str:
    """The body exactly as it is sent, indented for review."""
    return json.dumps(body, indent=2, ensure_ascii=False, allow_nan=False)


# -- body files -------------------------------------------------------------------------

_BODY_FIELDS = {
    "pipeline_id": BASE,
    "src_collection_id": SRC,
    "dest_collection_id": DEST,
    "client_id": CLIENT,
    "name": NAME,
    "execute_immediately": EXECUTE,
    "full_tables": FULL,
    "deltas_tables": DELTA,
    "overwrite_parameters": PARAMS,
}


def _scalar_text(value: Any) -> str:
    """A field value from a file as the text a user would have typed."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # refused by the validator, visibly
    if isinstance(value, int):
        return str(value)
    if strict_json.problem(value) is not None:
        return str(value)  # refused by `_not_json_problem`, said by the caller
    return json.dumps(value, ensure_ascii=False)


def _not_json_problem(value: Any) -> str | None:
    """What is wrong with a value a body file holds that JSON cannot carry (TOML dates
    and times, inf and nan), with the fix; None for a value JSON can carry."""
    found = strict_json.problem(value)
    if found is None:
        return None
    where, what = found
    inside = f" (at {where})" if where else ""
    if isinstance(value, str | int | float | bool) or value is None:
        inside = ""
    return (
        f"{what}{inside}: quote it in the file to send it as text, or give a number, "
        "true/false or a list"
    )


def draft_from_body(data: Mapping[str, Any]) -> tuple[DuplicateDraft, dict[str, str]]:
    """A draft from a body as sent to the API (a body file), plus problems of its shape.

    Values of the wrong type become text that `validate` then refuses with a message, so
    the caller reports shape problems and field problems together.
    """
    problems: dict[str, str] = {}
    unknown = [k for k in data if k not in _BODY_FIELDS]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(str(k), list(_BODY_FIELDS), n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        problems[BODY] = (
            f"unknown field {', '.join(hints)}: the fields are {', '.join(_BODY_FIELDS)}"
        )
    draft = DuplicateDraft(full_tables=[])
    for key, attr in (
        ("pipeline_id", "base_id"),
        ("src_collection_id", "src"),
        ("dest_collection_id", "dest"),
        ("client_id", "client"),
        ("name", "name"),
    ):
        if key in data and data[key] is not None:
            setattr(draft, attr, _scalar_text(data[key]))
            problem = _not_json_problem(data[key])
            if problem is not None:
                problems[_BODY_FIELDS[key]] = problem
    execute = data.get("execute_immediately", "N")
    if isinstance(execute, bool):
        draft.execute_immediately = execute
    elif isinstance(execute, str) and execute.strip().upper() in ("Y", "N"):
        draft.execute_immediately = execute.strip().upper() == "Y"
    else:
        problems[EXECUTE] = f'must be "Y" or "N" (got {_quote(_scalar_text(execute))})'
    for key, section in (("full_tables", FULL), ("deltas_tables", DELTA)):
        tables = data.get(key)
        if tables is None:
            continue
        if not isinstance(tables, Mapping):
            problems[section] = (
                f'{key} must be an object of table path -> new name, e.g. {{"": "orders"}}'
            )
            continue
        rows = draft.rows(section)
        for path, name in tables.items():
            problem = _not_json_problem(name)
            if problem is not None:
                problems[row_key(section, len(rows), "name")] = problem
            rows.append(TableRow(str(path), _scalar_text(name)))
    params = data.get("overwrite_parameters")
    if isinstance(params, Mapping):
        for name, value in params.items():
            problem = _not_json_problem(value)
            if problem is not None:
                problems[row_key(PARAMS, len(draft.parameters), "value")] = problem
                text = str(value)
            else:
                text = param_text(value)
            draft.parameters.append(ParamRow(str(name), text))
    elif params is not None:
        problems[PARAMS] = "overwrite_parameters must be an object of name -> value"
    return draft, problems


def load_body_file(path: Path) -> dict[str, Any]:
    """A body file: JSON or TOML, told by the extension, else by the content.

    Raises ValidationError (key `body`) naming the file and what is wrong.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BODY_FILE + 1)
    except FileNotFoundError:
        raise ValidationError({BODY: f"{path}: no such file"}) from None
    except OSError as exc:
        raise ValidationError({BODY: f"{path}: cannot read it ({exc.strerror or exc})"}) from None
    return parse_body_text(body_text(data, str(path)), str(path), path.suffix)


def body_text(data: bytes, source: str) -> str:
    """The text of a body read as bytes (at most MAX_BODY_FILE + 1 of them, so that one
    too large is told as such). Raises ValidationError naming `source`."""
    if len(data) > MAX_BODY_FILE:
        raise ValidationError(
            {BODY: f"{source}: larger than {size_text(MAX_BODY_FILE)}; a body is a few lines"}
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            {BODY: f"{source}: not UTF-8 text (byte {exc.start + 1} cannot be read)"}
        ) from None


def parse_body_text(text: str, source: str, suffix: str = "") -> dict[str, Any]:
    """A body as text (a file's, or standard input's): JSON or TOML, told by the suffix
    (".json", ".toml"), else by the content. `source` names it in messages."""
    suffix = suffix.lower()
    as_json = suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{"))
    try:
        data: Any = strict_json.loads(text) if as_json else tomllib.loads(text)
    except strict_json.JsonError as exc:
        raise ValidationError({BODY: f"{source}: {exc}"}) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError({BODY: f"{source}: not valid TOML ({exc})"}) from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise ValidationError({BODY: f"{source}: nested too deeply"}) from None
    if not isinstance(data, dict):
        raise ValidationError({BODY: f"{source}: the body must be a JSON object"})
    return data


# -- remembered mappings ----------------------------------------------------------------

MEMORY_VERSION = 1
MEMORY_LIMIT = 200  # base pipelines remembered; the oldest are forgotten first
# Parameter values under names like these are never written to disk (names are kept).
_SECRET_NAME = re.compile(r"pass|secret|token|credential|api_?key|private|auth", re.I)


class MappingMemory:
    """Per base pipeline, the table mappings and parameters used last time (JSON file).

    The file never holds a secret: no credentials, and no value of a parameter whose
    name looks secret (its name is kept, so the form asks for the value again).
    A corrupt file is ignored; `note` says so, and the next `remember` replaces it.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_duplicates_path()
        self.note: str | None = None

    def _load(self) -> dict[str, Any]:
        self.note = None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            self.note = f"remembered mappings ignored: cannot read {self.path} ({exc})"
            return {}
        try:
            data = strict_json.loads(text)
        except ValueError as exc:
            self.note = (
                f"remembered mappings ignored: {self.path} is not valid JSON ({exc}); "
                "it will be replaced after the next duplicate"
            )
            return {}
        entries = data.get("pipelines") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            self.note = (
                f"remembered mappings ignored: {self.path} has an unexpected shape; "
                "it will be replaced after the next duplicate"
            )
            return {}
        return entries

    def recall(self, base_id: int) -> DuplicateDraft | None:
        """A draft prefilled with what was used last time for this base, or None."""
        entry = self._load().get(str(base_id))
        if entry is None:
            return None
        try:
            return _draft_from_entry(base_id, entry)
        except (TypeError, ValueError, AttributeError):
            self.note = f"remembered mappings for pipeline {base_id} ignored: unexpected shape"
            return None

    def remember(self, body: Mapping[str, Any]) -> None:
        """Store the mappings of a body that was sent. Raises KondadoError on failure."""
        entries = self._load()
        base = str(body["pipeline_id"])
        entries.pop(base, None)  # re-inserted last: the most recent is kept longest
        params = body.get("overwrite_parameters") or {}
        entries[base] = {
            "full_tables": dict(body.get("full_tables") or {}),
            "deltas_tables": dict(body.get("deltas_tables") or {}),
            "overwrite_parameters": {
                k: ("" if _SECRET_NAME.search(k) else v) for k, v in params.items()
            },
        }
        while len(entries) > MEMORY_LIMIT:
            entries.pop(next(iter(entries)))
        text = json.dumps(
            {"version": MEMORY_VERSION, "pipelines": entries}, indent=2, ensure_ascii=False
        )
        if redact(text) != text:  # a registered secret typed into a field: never persist
            raise KondadoError(
                "mappings not remembered: they contain the API token; remove it from the form"
            )
        try:
            write_private(self.path, text + "\n")
        except OSError as exc:
            raise KondadoError(
                f"could not remember the mappings in {self.path}: {exc.strerror or exc}"
            ) from None


def _draft_from_entry(base_id: int, entry: Any) -> DuplicateDraft:
    if not isinstance(entry, dict):
        raise TypeError("entry")
    draft = DuplicateDraft(base_id=str(base_id), full_tables=[])
    for key, section in (("full_tables", FULL), ("deltas_tables", DELTA)):
        tables = entry.get(key) or {}
        draft.rows(section).extend(TableRow(str(p), str(n)) for p, n in tables.items())
    if not any(r.is_main for r in draft.full_tables):
        draft.full_tables.insert(0, TableRow(MAIN_PATH, ""))
    params = entry.get("overwrite_parameters") or {}
    draft.parameters = [
        ParamRow(str(k), "" if v == "" else param_text(v)) for k, v in params.items()
    ]
    return draft


__all__ = [
    "DuplicateDraft",
    "MappingMemory",
    "ParamRow",
    "TableRow",
    "body_json",
    "body_text",
    "build_body",
    "draft_from_body",
    "field_label",
    "load_body_file",
    "param_text",
    "parse_body_text",
    "parse_param_value",
    "row_key",
    "table_name_problem",
    "tables_to_be_created",
    "validate",
    "warnings",
]
