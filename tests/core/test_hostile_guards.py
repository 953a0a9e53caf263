"""The guards themselves, fed the whole hostile corpus: `clean` leaves nothing that can
drive a terminal, `redact` leaves no form of the token, `strict_json` refuses what JSON
cannot carry, `limits.cut` says what it cut."""

from __future__ import annotations

import json
import tomllib

import pytest
from hostile_corpus import (
    ECHOES,
    FINE_JSON,
    KEY,
    ODD_JSON,
    SECRET_FORMS,
    TEXTS,
    TOKEN,
    deep,
    leaks,
    seed_token,
    unsafe,
)

from kondado_tui.core.guards import strict_json
from kondado_tui.core.guards.limits import cut, cut_count, split_cut
from kondado_tui.core.guards.redact import MASK, redact
from kondado_tui.core.guards.sanitize import clean, first_line, one_line

# A terminal reads what follows these as part of the sequence (" a" after a lone ESC,
# the rest of the line after an unterminated OSC): so does `clean`.
SWALLOWS_WHAT_FOLLOWS = {"lone_esc", "osc_unterminated"}


@pytest.fixture(autouse=True)
def _token() -> None:
    seed_token()


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_clean_leaves_only_printable_text(name: str) -> None:
    text = TEXTS[name]
    shown = clean(text)
    assert unsafe(shown) == [], (name, shown)
    assert unsafe(clean(text, keep_newlines=False), newlines=False) == []
    assert leaks(shown) == []
    assert clean(shown) == shown  # cleaning clean text changes nothing
    assert shown.startswith("before")
    if name not in SWALLOWS_WHAT_FOLLOWS:
        assert shown.endswith("after")  # the words after a sequence stay
    for one in (first_line(text), one_line(text, 80)):
        assert unsafe(one, newlines=False) == [] and leaks(one) == []


def test_what_clean_keeps_and_removes() -> None:
    assert clean("a\u202eb\u2066c") == "abc"  # no override left open
    assert clean("x\U000e0041\U000e0042y") == "xy"  # tags: invisible ASCII
    assert clean("👩\u200d👧 ok") == "👩\u200d👧 ok"  # a joiner inside an emoji sequence
    assert clean(" \u200d x") == "  x"
    assert clean("⚠\ufe0f\ufe0f\ufe0f") == "⚠\ufe0f"
    assert clean("a\ud800b") == "a\ufffdb"
    assert clean("t\x1b]0;title\nnext") == "t\nnext"  # an unterminated OSC ends at the line
    assert clean("[b]x[/] oops [/]") == "[b]x[/] oops [/]"  # markup is text here
    assert clean("日本 ⛔") == "日本 ⛔"


@pytest.mark.parametrize("name", sorted(SECRET_FORMS))
def test_redact_masks_every_form_of_the_token(name: str) -> None:
    form = SECRET_FORMS[name]
    out = redact(f"before {form} after")
    assert leaks(out) == [], (name, out)
    assert MASK in out


@pytest.mark.parametrize("name", sorted(ECHOES))
def test_an_echoed_url_shows_neither_token_nor_key(name: str) -> None:
    out = redact(ECHOES[name])
    assert leaks(out) == [] and TOKEN not in out, out
    if "key=" in ECHOES[name] or "key%3D" in ECHOES[name]:
        assert KEY not in out, out


def test_unregistered_tokens_are_masked_after_their_parameter_name() -> None:
    assert redact("x?token=abc&y=1") == "x?token=***&y=1"
    assert redact("x%3Ftoken%3Dabc%26y%3D1") == "x%3Ftoken%3D***%26y%3D1"
    assert redact('{"token": "abc"}') == '{"token": "***"}'
    assert redact("?key=kk&token=tt") == "?key=***&token=***"
    assert redact("the primary key=5 failed") == "the primary key=5 failed"  # not a URL


@pytest.mark.parametrize("name", sorted(ODD_JSON))
def test_strict_json_refuses_what_json_cannot_carry(name: str) -> None:
    with pytest.raises(strict_json.JsonError) as refused:
        strict_json.loads(ODD_JSON[name])
    assert TOKEN not in str(refused.value)
    assert not str(refused.value).startswith("not valid JSON")  # said in our words


@pytest.mark.parametrize("name", sorted(FINE_JSON))
def test_strict_json_reads_odd_but_valid_numbers(name: str) -> None:
    assert strict_json.loads(FINE_JSON[name]) == json.loads(FINE_JSON[name])


def test_strict_json_names_where_a_toml_value_is_not_json() -> None:
    doc = tomllib.loads("[overwrite_parameters]\nstart = 2024-01-01\nend = 12:00:00\nx = inf")
    assert strict_json.problem(doc) == (
        "overwrite_parameters.start",
        "a date (2024-01-01) is not a JSON value",
    )
    assert strict_json.problem({"x": float("nan")}) == ("x", "NaN is not a number JSON can carry")
    assert strict_json.problem(deep(40)) is not None
    assert strict_json.problem(deep(20)) is None


def test_cut_says_what_it_cut_and_cutting_twice_is_cutting_once() -> None:
    text = "x" * 20_000
    once = cut(text, 16_000)
    assert once == "x" * 16_000 + "… (cut: 4000 more characters)"
    assert cut_count(once) == 4000 and split_cut(once) == ("x" * 16_000, once[16_000:])
    assert cut(once, 16_000) == once
    assert cut_count(cut(once, 10_000)) == 10_000
    assert cut("short", 10) == "short" and cut_count("short") == 0
