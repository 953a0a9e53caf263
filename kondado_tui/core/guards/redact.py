"""Keep the API token inside the process: the one redaction function, `redact`.

The token travels as a query parameter, so every URL holds it; httpx puts full URLs in
its exception messages and debug logs, and an API error text may quote the URL it was
asked (`...?key=K&token=T returned 500`). Every text that may leave the process
(screen, stdout, stderr, log, file, exception) goes through `redact`: `sanitize.clean`
calls it, the command line's output streams call it, the log record factory calls it.

What is masked:
- every registered secret (the token, once it is read) in each form an echo may take:
  as it is; URL-encoded (`%2F` or `%2f`, any byte of it, `+` for a space); JSON-escaped
  (`\\u002f`, `\\/`); and inside base64 (the standard and URL-safe alphabets, at each of
  the three alignments a secret can have inside a longer encoded text);
- any `token=` value, registered or not, raw or URL-encoded (`token%3D...`), and a
  JSON `"token": "..."` member;
- the key where it stands beside the token or in a URL's query (`?key=K&token=T`).
"""

from __future__ import annotations

import base64
import logging
import re
import threading

MASK = "***"

# A value in a URL: up to the next separator (raw or URL-encoded `&`), space or quote.
_VALUE = r"(?:(?!%26)[^&\s'\"<>#\\])+"
# Where a parameter's name starts: not inside a longer word, or after an encoded & or ?.
_START = r"(?:(?<![a-z0-9_])|(?<=%26)|(?<=%3f))"
_PARAMS = re.compile(
    # token=T, token%3DT (any case), anywhere
    rf"(?i)(?P<token>{_START}token(?:=|%3d))(?P<tokenvalue>{_VALUE})"
    # "token": "T" (a JSON member)
    r"|(?P<json>\"token\"\s*:\s*\")(?P<jsonvalue>(?:[^\"\\]|\\.)+)(?=\")"
    # ?key=K / &key=K (raw or URL-encoded separators), and key=K right before &token=
    rf"|(?P<key>(?:[?&;]|%3f|%26|&amp;)(?:api_?)?key(?:=|%3d)){_VALUE}"
    rf"|(?P<keyfirst>{_START}key=)(?:(?!%26)[^&\s'\"<>#\\])+(?=&(?:amp;)?token=)"
)

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None  # every registered secret, every encoding
_base64_cores: tuple[str, ...] = ()

MIN_SECRET = 4  # shorter strings would mask ordinary words
MIN_BASE64_CORE = 12  # shorter pieces of base64 would match by chance


def register_secret(secret: str | None) -> None:
    """Remember a secret so it is masked wherever it appears, in any of its encodings,
    not only after `token=`."""
    global _pattern, _base64_cores
    if not secret or len(secret) < MIN_SECRET:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        ordered = sorted(_secrets, key=len, reverse=True)  # a longer secret first
        _pattern = re.compile("|".join(_encoded_forms(s) for s in ordered))
        cores = {core for s in ordered for core in _base64_forms(s)}
        _base64_cores = tuple(sorted(cores, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every secret masked (see the module's docstring for the forms)."""
    text = _PARAMS.sub(_mask_param, text)
    pattern, cores = _pattern, _base64_cores
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for core in cores:
        if core in text:
            text = text.replace(core, MASK)
    return text


def _mask_param(match: re.Match[str]) -> str:
    for name in ("token", "json", "key", "keyfirst"):
        prefix = match.group(name)
        if prefix is not None:
            return prefix + MASK
    return MASK  # pragma: no cover - one of the groups always matched


def _encoded_forms(secret: str) -> str:
    """A regular expression matching `secret` with each character in any of its forms:
    itself, %XX per UTF-8 byte (hex in either case), `+` for a space, or a JSON escape."""
    return "".join(_char_forms(char) for char in secret)


def _hex(value: int, digits: int) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in f"{value:0{digits}x}")


def _char_forms(char: str) -> str:
    forms = [re.escape(char)]
    forms.append("".join("%" + _hex(byte, 2) for byte in char.encode("utf-8")))
    code = ord(char)
    if code > 0xFFFF:  # JSON writes it as a surrogate pair
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms.append(rf"\\u{_hex(high, 4)}\\u{_hex(low, 4)}")
    else:
        forms.append(rf"\\u{_hex(code, 4)}")
    if char == " ":
        forms.append(r"\+")
    if char in '/"\\':
        forms.append(re.escape("\\" + char))
    return "(?:" + "|".join(forms) + ")"


def _base64_forms(secret: str) -> set[str]:
    """The stretches of base64 that only `secret` decides, wherever it sits in a longer
    encoded text: for each alignment (0, 1 or 2 bytes before it), the characters of
    the encoding that depend on the secret's bytes alone, in both alphabets."""
    data = secret.encode("utf-8")
    cores: set[str] = set()
    for before in range(3):
        encoded = base64.b64encode(b"\0" * before + data).decode("ascii")
        start = -(-8 * before // 6)  # first character made of the secret's bits only
        end = 8 * (before + len(data)) // 6  # ... and the last one, exclusive
        core = encoded[start:end]
        if len(core) >= MIN_BASE64_CORE:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


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
