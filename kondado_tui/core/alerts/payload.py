"""What the alert command receives: environment variables and one JSON object on stdin.

Every value is cleaned (no escape sequence, no control character, one line, valid
UTF-8) and redacted (never the token), whatever the API or the config put in it: the
command may paste it into a chat, a mail or a terminal.

Variables (docs/alerts.md lists them for users):

  KONDADO_ALERT_KIND      trouble | recovered | summary (several alerts held back, sent
                          together: the pipeline variables are then empty)
  KONDADO_ALERT_TEXT      one line ready to post, e.g. "[jump01] Orders (2040): error
                          building tables: cannot connect to the destination - <url>"
  KONDADO_ALERT_COUNT     how many pipelines this run is about (1, or more: a summary)
  KONDADO_ALERT_HELD      how many alerts the cap held back into this run (0: none)
  KONDADO_ALERT_TEST      1 for `kondado-tui alert-test`, else 0
  KONDADO_ALERT_TIME      when it was observed, ISO 8601 UTC (2026-12-05T14:03:07Z)
  KONDADO_ALERT_EPOCH     the same in seconds since 1970
  KONDADO_ALERT_HOST      the host that saw it
  KONDADO_PIPELINE_ID     2040
  KONDADO_PIPELINE_NAME   its name in the config ("pipeline 2040" when it has none)
  KONDADO_PIPELINE_GROUP  its group in the config ("" when none)
  KONDADO_PIPELINE_STATUS the API's status value (error_building_tables), or the
                          refusal (not found, no access, refused)
  KONDADO_PIPELINE_STATUS_LABEL  the same in words (error building tables)
  KONDADO_PIPELINE_MESSAGE       the first line of the API's raw_msg ("" when none)
  KONDADO_PIPELINE_URL    https://app.kondado.com.br/pipelines/2040
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kondado_tui.core.events import Alert, AlertKind
from kondado_tui.core.guards.sanitize import clean, first_line
from kondado_tui.core.models import app_url

PAYLOAD_VERSION = 1
MESSAGE_LIMIT = 300  # characters of raw_msg's first line
SUMMARY_NAMES = 5  # alerts named in a summary's text; the JSON lists them all
# The only variables of ours the command sees (plus `[alerts] pass_env`): never the
# API's key or token, whatever else the user's environment holds.
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def safe(text: str | None, limit: int = 1000) -> str:
    """One line of text that is safe anywhere: no escape sequence or control character,
    no secret, encodable (`clean` turns a lone surrogate from a JSON answer into U+FFFD)."""
    if not text:
        return ""
    line = " ".join(clean(text, keep_newlines=False).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def iso_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def host_name() -> str:
    return safe(socket.gethostname(), 100) or "localhost"


@dataclass(frozen=True)
class Delivery:
    """One run of the alert command: one alert, or several held back by the cap and
    sent together (a summary)."""

    alerts: tuple[Alert, ...]  # the latest alert of each pipeline it carries
    test: bool = False
    held: int = 0  # alerts held back by the cap and carried by this run (0: none)
    cap_words: str = ""  # the cap that held them, e.g. "at most 6 runs a minute"

    @property
    def kind(self) -> str:
        if len(self.alerts) == 1:
            return self.alerts[0].kind.value
        return "summary"

    @property
    def at(self) -> float:
        return max(alert.at for alert in self.alerts)


def alert_fields(alert: Alert) -> dict[str, str | int]:
    """One alert's fields, cleaned: the JSON's keys (the variables are these, upper-cased
    and prefixed KONDADO_PIPELINE_, and the time)."""
    return {
        "kind": alert.kind.value,
        "pipeline_id": alert.pipeline_id,
        "name": safe(alert.name, 200),
        "group": safe(alert.group, 200),
        "status": safe(alert.status.value, 100),
        "status_label": safe(alert.status.label, 100),
        "message": safe(first_line(alert.raw_msg, MESSAGE_LIMIT), MESSAGE_LIMIT),
        "app_url": app_url(alert.pipeline_id),
        "time": iso_time(alert.at),
    }


def who(name: str, pipeline_id: int | str) -> str:
    """'Orders (2040)', or 'pipeline 2040' when the config gives it no name."""
    unnamed = f"pipeline {pipeline_id}"
    return unnamed if name in ("", unnamed) else f"{name} ({pipeline_id})"


def _one_line(fields: Mapping[str, str | int]) -> str:
    who_ = who(str(fields["name"]), fields["pipeline_id"])
    if fields["kind"] == AlertKind.RECOVERED.value:
        return f"{who_} recovered: {fields['status_label']}"
    message = f": {fields['message']}" if fields["message"] else ""
    return f"{who_}: {fields['status_label']}{message}"


def alert_text(delivery: Delivery, host: str) -> str:
    """The one line a chat message or a mail subject can use as it is."""
    test = "TEST from kondado-tui: " if delivery.test else ""
    fields = [alert_fields(alert) for alert in delivery.alerts]
    cap = f" ({delivery.cap_words})" if delivery.cap_words else ""
    if len(fields) == 1:
        held = f" (held back{cap})" if delivery.held else ""
        line = f"[{host}] {test}{_one_line(fields[0])} - {fields[0]['app_url']}{held}"
        return safe(line, 2000)
    named = "; ".join(_one_line(f) for f in fields[:SUMMARY_NAMES])
    more = f"; and {len(fields) - SUMMARY_NAMES} more" if len(fields) > SUMMARY_NAMES else ""
    count = delivery.held or len(fields)
    return safe(
        f"[{host}] {test}{count} alerts held back{cap}, the latest of {len(fields)} "
        f"pipelines: {named}{more}",
        2000,
    )


def payload(delivery: Delivery, host: str) -> dict[str, object]:
    """The JSON object on the command's stdin. A single alert's fields are at the top
    level (`.name`, `.status`); `alerts` always lists every alert carried."""
    fields = [alert_fields(alert) for alert in delivery.alerts]
    top: dict[str, object] = {
        "version": PAYLOAD_VERSION,
        "kind": delivery.kind,
        "text": alert_text(delivery, host),
        "count": len(fields),
        "held": delivery.held,
        "test": delivery.test,
        "host": host,
        "time": iso_time(delivery.at),
        "epoch": int(delivery.at),
    }
    single = fields[0] if len(fields) == 1 else None
    for key in ("pipeline_id", "name", "group", "status", "status_label", "message", "app_url"):
        top[key] = single[key] if single is not None else None
    top["alerts"] = fields
    return top


def payload_json(delivery: Delivery, host: str) -> bytes:
    return (json.dumps(payload(delivery, host), ensure_ascii=False) + "\n").encode("utf-8")


def command_env(
    delivery: Delivery,
    host: str,
    parent: Mapping[str, str],
    pass_env: Sequence[str] = (),
) -> dict[str, str]:
    """The command's whole environment: a few harmless variables of ours, the ones
    `[alerts] pass_env` names, and the alert's. Never KONDADO_KEY or KONDADO_TOKEN."""
    env = {name: safe(parent[name], 32_000) for name in (*BASE_ENV, *pass_env) if name in parent}
    env.setdefault("PATH", DEFAULT_PATH)
    for name in ("KONDADO_KEY", "KONDADO_TOKEN"):
        env.pop(name, None)
    data = payload(delivery, host)
    single = len(delivery.alerts) == 1
    env.update(
        {
            "KONDADO_ALERT_KIND": str(data["kind"]),
            "KONDADO_ALERT_TEXT": str(data["text"]),
            "KONDADO_ALERT_COUNT": str(data["count"]),
            "KONDADO_ALERT_HELD": str(data["held"]),
            "KONDADO_ALERT_TEST": "1" if delivery.test else "0",
            "KONDADO_ALERT_TIME": str(data["time"]),
            "KONDADO_ALERT_EPOCH": str(data["epoch"]),
            "KONDADO_ALERT_HOST": host,
        }
    )
    for key in ("pipeline_id", "name", "group", "status", "status_label", "message", "app_url"):
        name = "KONDADO_PIPELINE_" + ("ID" if key == "pipeline_id" else key.upper())
        if key == "app_url":
            name = "KONDADO_PIPELINE_URL"
        env[name] = str(data[key]) if single else ""
    return env
