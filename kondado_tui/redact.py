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
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


def install_log_redaction() -> None:
    """Mask secrets in every handler's output, httpx's and httpcore's debug logs included."""
    flt = RedactingFilter()
    for name in ("", "httpx", "httpcore", "kondado_tui"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(flt)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
