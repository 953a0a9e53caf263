"""Remote text cannot drive the terminal, and the token cannot leave the process."""

from __future__ import annotations

import logging

import pytest

from kondado_tui.core.errors import Rejected, Unreachable
from kondado_tui.core.guards.redact import MASK, RedactingFilter, redact, register_secret
from kondado_tui.core.guards.sanitize import clean, first_line

SEEDED = "SEEDED-T0KEN-9f8e7d6c"


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[2Jcleared",  # clear screen
        "\x1b]0;pwned title\x07title",  # retitle the window
        "\x1b]52;c;ZXZpbA==\x07clip",  # write the clipboard
        "\x1b]52;c;ZXZpbA==\x1b\\clip",  # ... terminated by ST
        "\x9b2Jc1 csi",  # 8-bit CSI
        "\x1bP1$qm\x1b\\dcs",  # DCS
        "\x1b7saved",  # two-byte ESC
    ],
)
def test_clean_removes_escape_sequences(hostile: str) -> None:
    out = clean(hostile)
    assert "\x1b" not in out
    assert not any(0x80 <= ord(c) <= 0x9F for c in out)
    assert "pwned" not in out and "ZXZpbA" not in out


def test_clean_keeps_text_and_markup_brackets() -> None:
    assert clean("[b]x[/b] oops [/] here") == "[b]x[/b] oops [/] here"
    assert clean("a\r\nb\tc") == "a\nb    c"
    assert clean("bell\x07 nul\x00") == "bell\ufffd nul\ufffd"


def test_first_line_skips_blank_lines_and_truncates() -> None:
    assert first_line("\n\n  second line  \nthird") == "second line"
    assert first_line(None) == ""
    assert first_line("x" * 500, limit=10) == "x" * 9 + "…"


def test_redact_masks_token_params_and_registered_secrets() -> None:
    register_secret(SEEDED)
    url = f"https://k2.kondado.com.br/pipelines/1/status?key=abc&token={SEEDED}"
    assert SEEDED not in redact(url)
    assert f"token={MASK}" in redact(url)
    assert SEEDED not in redact(f"the secret is {SEEDED}!")
    assert "token=***" in redact("token=something-never-registered&x=1")


def test_error_messages_are_redacted() -> None:
    register_secret(SEEDED)
    assert SEEDED not in str(Unreachable(f"GET /x?token={SEEDED}: refused"))
    exc = Rejected(f"bad {SEEDED}", error=f"E {SEEDED}")
    assert SEEDED not in str(exc) and SEEDED not in exc.error and SEEDED not in repr(exc)


def test_log_filter_redacts_formatted_records(caplog: pytest.LogCaptureFixture) -> None:
    register_secret(SEEDED)
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG, logger="test.redact"):
        logger.debug("HTTP Request: GET %s", f"http://h/p?key=k&token={SEEDED}")
    assert caplog.records
    assert all(SEEDED not in r.getMessage() for r in caplog.records)


def test_installed_redaction_covers_child_loggers_and_late_handlers() -> None:
    import io

    from kondado_tui.core.guards.redact import install_log_redaction

    register_secret(SEEDED)
    install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # added after installation
    logger = logging.getLogger("httpcore.http11")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("send_request_headers %s", f"/p?key=k&token={SEEDED}")
        logger.debug(f"plain message holding {SEEDED}")
    finally:
        logger.removeHandler(handler)
    assert SEEDED not in stream.getvalue()
    assert "token=***" in stream.getvalue()
