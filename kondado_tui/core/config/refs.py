"""The one parser of what a user types or pastes to name a pipeline: an id or an app URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from kondado_tui.core.config.model import MAX_PIPELINE_ID, PipelineRefError
from kondado_tui.core.guards.sanitize import clean

# Scheme and host are case-insensitive by definition (urlsplit and .hostname lower them);
# the path is matched without case too: `HTTPS://APP.KONDADO.COM.BR/PIPELINES/2040`, pasted
# from a shouting spreadsheet, can only mean pipeline 2040.
APP_PIPELINE_URL = re.compile(r"^/pipelines/([0-9]+)(?:/.*)?$", re.IGNORECASE)


def parse_pipeline_ref(text: str) -> int:
    """A pipeline id from `2040` or a pasted app URL `https://app.kondado.com.br/pipelines/2040`
    (a trailing slash, query or fragment is fine)."""
    ref = text.strip()
    shown = clean(ref, keep_newlines=False)[:120]
    example = "e.g. 2040 or https://app.kondado.com.br/pipelines/2040"
    if re.fullmatch(r"#?[0-9]+", ref):
        pid = int(ref.lstrip("#"))
        if pid > MAX_PIPELINE_ID:
            raise PipelineRefError(f"'{shown}' is too large for a pipeline id ({example})")
        if pid <= 0:
            raise PipelineRefError(f"'{shown}': a pipeline id is a positive integer ({example})")
        return pid
    candidate = ref if "://" in ref else f"https://{ref}"
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").lower()
    except ValueError:
        host, parts = "", urlsplit("")
    match = APP_PIPELINE_URL.match(parts.path)
    if (
        parts.scheme in ("http", "https")
        and (host == "kondado.com.br" or host.endswith(".kondado.com.br"))
        and match
    ):
        pid = int(match.group(1))
        if 0 < pid <= MAX_PIPELINE_ID:
            return pid
    raise PipelineRefError(f"'{shown}' is not a pipeline id or a Kondado pipeline URL ({example})")
