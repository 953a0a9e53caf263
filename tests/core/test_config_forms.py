"""Every valid way to write the pipelines list can be edited by add and remove.

A corpus of TOML forms people write (and tools write: tomli-w, the demo) x (add, remove
each entry), through the real file functions. Each edit is checked three ways:
- byte for byte against the expected text, for the forms as written below;
- parsed back with tomllib: the old document with exactly that entry added or removed;
- the bytes outside the entry unchanged, for every variant (CRLF, a BOM, both, no final
  newline) and for inline arrays laid out at random (hypothesis).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kondado_tui.core.config import PipelineEntry, append_pipeline, load_config, remove_pipeline
from kondado_tui.core.config.layout import inline_table, table_block
from kondado_tui.core.errors import ConfigError

NEW = PipelineEntry(2099, "New")
NEW_TABLE = {"id": 2099, "name": "New"}

FORMS: dict[str, str] = {
    "tables": (
        "# My monitor.\n"
        "[api]\n"
        'key = "k"   # the key id\n'
        "\n"
        "# --- pipelines ---\n"
        "[[pipelines]]   # the first one\n"
        "id = 2040\n"
        'name = "Orders"\n'
        '# group = "ecommerce"   (commented out on purpose)\n'
        "\n"
        "# Billing belongs to Ana.\n"
        "[[pipelines]]\n"
        "id = 2041\n"
        'group = "finance"\n'
    ),
    "tables_then_other_table": "[[pipelines]]\nid = 2040\n\n# quiet at night\n[ui]\nbell = false\n",
    # The example, and the demo's own config: an inline array of inline tables.
    "inline_one_line_trailing_comma": 'pipelines = [ { id = 2040 }, ]\n\n[api]\nkey = "k"\n',
    "inline_one_line": 'pipelines = [{id = 2040, name = "A"}, {id = 2041}]  # two\n',
    "inline_per_line": (
        "# kondado-tui demo: the built-in simulator\n"
        "pipelines = [\n"
        '    { id = 2040, name = "Orders", group = "shop" },\n'
        '    { id = 2041, name = "Billing" },\n'
        "]\n"
        "\n"
        "[api]\n"
        'key = "k"\n'
    ),
    "inline_no_trailing_comma": "pipelines = [\n  { id = 2040 },\n  { id = 2041 }\n]\n",
    "inline_bracket_on_last_line": "pipelines = [ { id = 2040 },\n               { id = 2041 } ]\n",
    "inline_comments_inside": (
        "pipelines = [  # watched\n"
        "  # orders first\n"
        "  { id = 2040 },  # the big one\n"
        "  # billing\n"
        "  { id = 2041 },\n"
        "  # end of list\n"
        "]  # after\n"
        "# tail\n"
    ),
    "inline_two_on_a_line": "pipelines = [\n\t{ id = 2040 }, { id = 2041 },\n\t{ id = 2042 },\n]\n",
    "inline_empty": "pipelines = []\n[ui]\nbell = true\n",
    "inline_empty_spaced": "pipelines = [ ]\n",
    "inline_empty_over_lines": "pipelines = [\n  # none yet\n]\n",
    "dotted_keys": (
        'api.key = "k"\n'
        "ui.bell = false  # quiet\n"
        "pipelines = [ { id = 2040 } ]\n"
        "history.retention_days = 7\n"
    ),
    "dotted_keys_then_tables": 'api.key = "k"\nui.bell = false\n\n[[pipelines]]\nid = 2040\n',
    "quoted_key": '"pipelines" = [ { id = 2040 } ]\n',
    "tricky_strings": (
        "pipelines = [\n"
        '  { id = 2040, name = """Or\\\n'
        '     ders""" },\n'
        "  { id = 2041, name = 'a ] b # c }' },\n"
        '  { id = 2042, name = "q \\" ] {" },\n'
        "]\n"
    ),
    "tables_tricky_strings": (
        "[[pipelines]]\n"
        "id = 2040\n"
        'name = """\\\n'
        "  # not a comment \\\n"
        '  [not-a-header]"""\n'
        "\n"
        "[[pipelines]]\n"
        "id = 2041\n"
    ),
    # TOML ends lines at LF only: U+2028 inside a comment does not start a new line.
    "tables_line_separator_in_comment": (
        "# see\u2028[[pipelines]]\n[[pipelines]]\nid = 2040\n\n[[pipelines]]\nid = 2041\n"
    ),
    "no_pipelines": '[api]\nkey = "k"\n',
    "empty": "",
}

# (form, "add" or the id removed, this text of the form..., ...becomes this text).
# Everything else in the file stays byte for byte.
EDITS: list[tuple[str, str | int, str, str]] = [
    (
        "tables",
        "add",
        'group = "finance"\n',
        'group = "finance"\n\n[[pipelines]]\nid = 2099\nname = "New"\n',
    ),
    (
        "tables",
        2040,
        '[[pipelines]]   # the first one\nid = 2040\nname = "Orders"\n'
        '# group = "ecommerce"   (commented out on purpose)\n\n',
        "",
    ),
    ("tables", 2041, '[[pipelines]]\nid = 2041\ngroup = "finance"\n', ""),
    (
        "tables_then_other_table",
        "add",
        "id = 2040\n\n",
        'id = 2040\n\n[[pipelines]]\nid = 2099\nname = "New"\n\n',
    ),
    ("tables_then_other_table", 2040, "[[pipelines]]\nid = 2040\n\n", ""),
    (
        "inline_one_line_trailing_comma",
        "add",
        "{ id = 2040 }, ]",
        '{ id = 2040 }, { id = 2099, name = "New" }, ]',
    ),
    ("inline_one_line_trailing_comma", 2040, "[ { id = 2040 }, ]", "[ ]"),
    ("inline_one_line", "add", "{id = 2041}]", '{id = 2041}, {id = 2099, name = "New"}]'),
    ("inline_one_line", 2040, '{id = 2040, name = "A"}, ', ""),
    ("inline_one_line", 2041, ", {id = 2041}", ""),
    (
        "inline_per_line",
        "add",
        '    { id = 2041, name = "Billing" },\n',
        '    { id = 2041, name = "Billing" },\n    { id = 2099, name = "New" },\n',
    ),
    ("inline_per_line", 2040, '    { id = 2040, name = "Orders", group = "shop" },\n', ""),
    ("inline_per_line", 2041, '    { id = 2041, name = "Billing" },\n', ""),
    (
        "inline_no_trailing_comma",
        "add",
        "  { id = 2041 }\n",
        '  { id = 2041 },\n  { id = 2099, name = "New" }\n',
    ),
    ("inline_no_trailing_comma", 2040, "  { id = 2040 },\n", ""),
    ("inline_no_trailing_comma", 2041, "  { id = 2041 }\n", ""),
    (
        "inline_bracket_on_last_line",
        "add",
        "{ id = 2041 } ]",
        '{ id = 2041 },\n               { id = 2099, name = "New" } ]',
    ),
    ("inline_bracket_on_last_line", 2040, " { id = 2040 },", ""),
    ("inline_bracket_on_last_line", 2041, "               { id = 2041 } ]", "]"),
    (
        "inline_comments_inside",
        "add",
        "  { id = 2041 },\n",
        '  { id = 2041 },\n  { id = 2099, name = "New" },\n',
    ),
    ("inline_comments_inside", 2040, "  { id = 2040 },  # the big one\n", ""),
    ("inline_comments_inside", 2041, "  { id = 2041 },\n", ""),
    (
        "inline_two_on_a_line",
        "add",
        "\t{ id = 2042 },\n",
        '\t{ id = 2042 },\n\t{ id = 2099, name = "New" },\n',
    ),
    ("inline_two_on_a_line", 2040, "{ id = 2040 }, ", ""),
    ("inline_two_on_a_line", 2041, " { id = 2041 },", ""),
    ("inline_two_on_a_line", 2042, "\t{ id = 2042 },\n", ""),
    ("inline_empty", "add", "pipelines = []", 'pipelines = [{ id = 2099, name = "New" }]'),
    ("inline_empty_spaced", "add", "[ ]", '[ { id = 2099, name = "New" } ]'),
    (
        "inline_empty_over_lines",
        "add",
        "  # none yet\n",
        '  # none yet\n  { id = 2099, name = "New" },\n',
    ),
    ("dotted_keys", "add", "[ { id = 2040 } ]", '[ { id = 2040 }, { id = 2099, name = "New" } ]'),
    ("dotted_keys", 2040, "[ { id = 2040 } ]", "[ ]"),
    (
        "dotted_keys_then_tables",
        "add",
        "id = 2040\n",
        'id = 2040\n\n[[pipelines]]\nid = 2099\nname = "New"\n',
    ),
    ("dotted_keys_then_tables", 2040, "\n[[pipelines]]\nid = 2040\n", ""),
    ("quoted_key", "add", "{ id = 2040 } ]", '{ id = 2040 }, { id = 2099, name = "New" } ]'),
    ("quoted_key", 2040, "[ { id = 2040 } ]", "[ ]"),
    (
        "tricky_strings",
        "add",
        '  { id = 2042, name = "q \\" ] {" },\n',
        '  { id = 2042, name = "q \\" ] {" },\n  { id = 2099, name = "New" },\n',
    ),
    ("tricky_strings", 2040, '  { id = 2040, name = """Or\\\n     ders""" },\n', ""),
    ("tricky_strings", 2041, "  { id = 2041, name = 'a ] b # c }' },\n", ""),
    ("tricky_strings", 2042, '  { id = 2042, name = "q \\" ] {" },\n', ""),
    (
        "tables_tricky_strings",
        "add",
        "id = 2041\n",
        'id = 2041\n\n[[pipelines]]\nid = 2099\nname = "New"\n',
    ),
    (
        "tables_tricky_strings",
        2040,
        '[[pipelines]]\nid = 2040\nname = """\\\n  # not a comment \\\n  [not-a-header]"""\n\n',
        "",
    ),
    ("tables_tricky_strings", 2041, "\n[[pipelines]]\nid = 2041\n", ""),
    (
        "tables_line_separator_in_comment",
        "add",
        "id = 2041\n",
        'id = 2041\n\n[[pipelines]]\nid = 2099\nname = "New"\n',
    ),
    ("tables_line_separator_in_comment", 2040, "[[pipelines]]\nid = 2040\n\n", ""),
    ("tables_line_separator_in_comment", 2041, "\n[[pipelines]]\nid = 2041\n", ""),
    ("no_pipelines", "add", 'key = "k"\n', 'key = "k"\n\n[[pipelines]]\nid = 2099\nname = "New"\n'),
    ("empty", "add", "", '[[pipelines]]\nid = 2099\nname = "New"\n'),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(0o600)
    return path


def parse(text: str) -> dict[str, Any]:
    return tomllib.loads(text.removeprefix("\ufeff"))


def edit(tmp_path: Path, text: str, op: str | int) -> str:
    path = write(tmp_path, text)
    if op == "add":
        append_pipeline(path, NEW)
    else:
        assert isinstance(op, int)
        assert remove_pipeline(path, op) is True
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file left
    return path.read_bytes().decode("utf-8")


def expected_document(text: str, op: str | int) -> dict[str, Any]:
    old = parse(text)
    pipelines = old.get("pipelines", [])
    changed = [*pipelines, NEW_TABLE] if op == "add" else [p for p in pipelines if p["id"] != op]
    return {**{k: v for k, v in old.items() if k != "pipelines"}, "pipelines": changed}


def check_meaning(tmp_path: Path, text: str, op: str | int, new: str) -> None:
    doc = parse(new)
    doc.setdefault("pipelines", [])  # cutting the last [[pipelines]] leaves no key
    assert doc == expected_document(text, op)
    loaded = load_config(tmp_path / "config.toml", {}, require_credentials=False)
    assert [p.id for p in loaded.pipelines] == [p["id"] for p in doc["pipelines"]]


SEPARATORS = re.compile(r"[ \t\r\n,]*")


def middles(old: str, new: str) -> tuple[str, str]:
    """The parts of `old` and `new` between their longest common prefix and suffix."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old), len(new)) - prefix
        and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]
    ):
        suffix += 1
    return old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]


def only_separators_added(was: str, now: str) -> bool:
    """`now` is `was` with only commas and blanks put in (a comma before a comment)."""
    added = []
    i = 0
    for char in now:
        if i < len(was) and char == was[i]:
            i += 1
        else:
            added.append(char)
    return i == len(was) and SEPARATORS.fullmatch("".join(added)) is not None


def cuts(old: str, new: str) -> list[str]:
    """Every piece of `old` whose removal gives `new`."""
    size = len(old) - len(new)
    return [
        old[at : at + size]
        for at in range(len(new) + 1)
        if old[:at] == new[:at] and old[at + size :] == new[at:]
    ]


def check_only_the_entry_changed(old: str, new: str, op: str | int) -> None:
    if op == "add":
        # The new entry is there once, as a table or an inline table; taking it out
        # leaves the old text with at most separators (a comma, a line break) added.
        forms = [
            inline_table(NEW_TABLE),
            inline_table(NEW_TABLE, compact=True),
            table_block(NEW_TABLE, "\r\n" if "\r\n" in new else "\n"),
        ]
        found = [f for f in forms if new.count(f) == 1]
        assert len(found) == 1, new
        rest = new.replace(found[0], "", 1)
        was, now = middles(old, rest)
        assert only_separators_added(was, now), (was, now)
    else:
        # One piece cut out, nothing else touched; the piece holds the entry (the cut
        # can be seen at several places when the text around it repeats: try each).
        was, now = middles(old, new)
        assert now == "", (was, now)
        entry = re.compile(rf"\bid\s*=\s*{op}(?![0-9])")
        assert any(entry.search(cut) for cut in cuts(old, new)), (old, new)
    if old.endswith("\n"):
        assert new.endswith("\n") or new in ("", "\ufeff")


# -- the forms as written ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "op", "before", "after"), EDITS, ids=[f"{e[0]}-{e[1]}" for e in EDITS]
)
def test_each_form_gets_exactly_this_edit(
    tmp_path: Path, form: str, op: str | int, before: str, after: str
) -> None:
    text = FORMS[form]
    expected = after if before == "" and text == "" else text.replace(before, after)
    assert before == "" or text.count(before) == 1
    new = edit(tmp_path, text, op)
    assert new == expected
    check_meaning(tmp_path, text, op, new)


def test_every_form_and_entry_has_an_expected_edit() -> None:
    covered = {(form, op) for form, op, _, _ in EDITS}
    for form, text in FORMS.items():
        assert (form, "add") in covered
        for entry in parse(text).get("pipelines", []):
            assert (form, entry["id"]) in covered


# -- the same forms with Windows line endings, a byte-order mark, no final newline ---


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def bom(text: str) -> str:
    return "\ufeff" + text


VARIANTS = {"crlf": crlf, "bom": bom, "bom_crlf": lambda t: bom(crlf(t))}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(
    ("form", "op", "before", "after"), EDITS, ids=[f"{e[0]}-{e[1]}" for e in EDITS]
)
def test_line_endings_and_a_bom_are_kept(
    tmp_path: Path, variant: str, form: str, op: str | int, before: str, after: str
) -> None:
    """The edit of a CRLF / BOM file is the edit of the plain file, in CRLF / with BOM."""
    change = VARIANTS[variant]
    text = change(FORMS[form])
    plain = edit(tmp_path, FORMS[form], op)
    new = edit(tmp_path, text, op)
    if FORMS[form] == "":  # nothing to learn the line ending from
        assert new == (bom(plain) if variant.startswith("bom") else plain)
    else:
        assert new == change(plain)
    check_meaning(tmp_path, text, op, new)
    check_only_the_entry_changed(text, new, op)


@pytest.mark.parametrize(
    ("form", "op"), [(e[0], e[1]) for e in EDITS], ids=[f"{e[0]}-{e[1]}" for e in EDITS]
)
def test_a_file_without_final_newline(tmp_path: Path, form: str, op: str | int) -> None:
    text = FORMS[form].rstrip("\n")
    new = edit(tmp_path, text, op)
    check_meaning(tmp_path, text, op, new)
    check_only_the_entry_changed(text, new, op)


def test_remove_keeps_the_final_newline(tmp_path: Path) -> None:
    for form, op, _, _ in EDITS:
        if op != "add":
            new = edit(tmp_path, FORMS[form], op)
            assert new == "" or new.endswith("\n"), (form, op)


def test_add_then_remove_gives_back_the_file_written_with_a_trailing_comma(
    tmp_path: Path,
) -> None:
    for form in ("tables", "inline_per_line", "inline_comments_inside", "dotted_keys"):
        path = write(tmp_path, FORMS[form])
        append_pipeline(path, NEW)
        assert remove_pipeline(path, NEW.id)
        if form != "dotted_keys":  # `[ {a}, {new} ]` -> `[ {a} ]` too, but via `, {new}`
            assert path.read_text() == FORMS[form], form


# -- the demo's own config --------------------------------------------------------------


def test_the_demo_config_can_be_edited(tmp_path: Path) -> None:
    """The demo writes its config with tomli-w: an inline array of inline tables."""
    import tomli_w

    document = {
        "api": {"key": "k", "token": "t"},
        "pipelines": [{"id": 1, "name": "One", "group": "g"}, {"id": 2}],
    }
    path = write(tmp_path, "# kondado-tui demo: the built-in simulator\n" + tomli_w.dumps(document))
    append_pipeline(path, PipelineEntry(3, "Three"))
    assert remove_pipeline(path, 1)
    config = load_config(path, {}, require_credentials=False)
    assert config.pipelines == (PipelineEntry(2), PipelineEntry(3, "Three"))
    assert path.read_text().startswith("# kondado-tui demo: the built-in simulator\n")


# -- inline arrays laid out at random ------------------------------------------------------

GAPS = ["", " ", "  ", "\n  ", "\n\t", "  # note\n  ", "\n  # a comment line\n  ", " # x\n"]


@st.composite
def inline_arrays(draw: st.DrawFn) -> tuple[str, list[int]]:
    ids = draw(
        st.lists(st.integers(1, 10**6).filter(lambda i: i != NEW.id), max_size=5, unique=True)
    )
    gap = st.sampled_from(GAPS)
    parts = ["pipelines = [", draw(gap)]
    for n, pid in enumerate(ids):
        named = draw(st.booleans())
        compact = draw(st.booleans())
        inside = f'id = {pid}, name = "p ] # {{ {pid}"' if named else f"id = {pid}"
        parts.append("{" + inside + "}" if compact else "{ " + inside + " }")
        if n < len(ids) - 1 or draw(st.booleans()):
            parts += [draw(st.sampled_from(["", " "])), ",", draw(gap)]
        else:
            parts.append(draw(gap))
    parts.append("]")
    parts.append(draw(st.sampled_from(["\n", "  # end\n", "\n[ui]\nbell = true\n", ""])))
    return "".join(parts), ids


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=inline_arrays(), pick=st.integers(0, 4), line_ending=st.sampled_from(["\n", "\r\n"]))
def test_any_inline_array_layout(
    tmp_path: Path, case: tuple[str, list[int]], pick: int, line_ending: str
) -> None:
    text, ids = case
    text = text.replace("\n", line_ending)
    new = edit(tmp_path, text, "add")
    check_meaning(tmp_path, text, "add", new)
    check_only_the_entry_changed(text, new, "add")
    if ids:
        op = ids[pick % len(ids)]
        new = edit(tmp_path, text, op)
        check_meaning(tmp_path, text, op, new)
        check_only_the_entry_changed(text, new, op)


# -- what cannot be done is said in our words -----------------------------------------------


def test_an_impossible_edit_is_refused_in_our_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the text edit were ever wrong, the re-check refuses it and says what to do."""
    from kondado_tui.core.config import editing

    path = write(tmp_path, FORMS["inline_per_line"])
    monkeypatch.setattr(editing, "with_entry", lambda text, table: text + "[[pipelines]]\nid=1\n")
    with pytest.raises(ConfigError) as caught:
        append_pipeline(path, NEW)
    message = str(caught.value)
    assert "could not edit the pipelines list safely" in message
    assert "nothing was changed" in message
    assert 'add the pipeline by hand: { id = 2099, name = "New" }' in message
    assert "namespace" not in message and "(at line" not in message
    assert path.read_text() == FORMS["inline_per_line"]


def test_parallel_saves_to_an_inline_array_lose_nothing(tmp_path: Path) -> None:
    """The dashboard and the CLI may save at once: the directory lock serialises them."""
    from concurrent.futures import ThreadPoolExecutor

    path = write(tmp_path, FORMS["inline_comments_inside"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda pid: append_pipeline(path, PipelineEntry(pid)), range(1, 25)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda pid: remove_pipeline(path, pid), range(1, 25, 2)))
    loaded = load_config(path, {}, require_credentials=False).pipelines
    assert sorted(p.id for p in loaded) == [*range(2, 25, 2), 2040, 2041]
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]
    text = path.read_text()
    assert "  # orders first\n" in text and "  # end of list\n]  # after\n# tail\n" in text
