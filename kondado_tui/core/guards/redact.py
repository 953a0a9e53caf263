"""Keep the API token inside the process.

The token travels as a query parameter, so every URL holds it, and httpx puts full URLs
in its exception messages and debug logs. Every text that may leave the process (screen,
log, file, exception) goes through `redact`.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
# `token=...` in any URL-ish text, whatever the value, even one we were never told about.
_TOKEN_PARAM = re.compile(r"(?i)(\btoken=)[^&\s'\"<>#]+")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Remember a secret so it is masked wherever it appears, not only after `token=`."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    text = _TOKEN_PARAM.sub(lambda m: m.group(1) + MASK, text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    """Format the record's message now, masked, so no handler sees the secret."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string must not break logging
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None


_installed = False


def install_log_redaction() -> None:
    """Mask secrets in every log record of the process, whoever logs it and wherever the
    handler was added (httpx and httpcore's child loggers included).

    A record factory sees every record at creation, so no handler added later can miss it.
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.args or "token" in str(record.msg) or _secrets:
            _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
