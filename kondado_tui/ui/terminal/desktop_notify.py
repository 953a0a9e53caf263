"""Getting the user's attention from inside a tmux pane: bell and desktop notifications.

The text of a desktop notification comes from the API (a pipeline's raw_msg), so it is
cleaned and stripped of the characters that end or split an OSC string.
"""

from __future__ import annotations

from collections.abc import Mapping

from kondado_tui.core.guards.sanitize import clean

ESC = "\x1b"
ST = ESC + "\\"
OSC_TEXT_LIMIT = 200


def _osc_safe(text: str) -> str:
    flat = clean(text, keep_newlines=False).replace(";", ",").replace("\ufffd", "")
    return flat[:OSC_TEXT_LIMIT]


def desktop_notification(title: str, body: str, env: Mapping[str, str]) -> str:
    """OSC 777 for rxvt-style terminals, OSC 9 elsewhere; wrapped for tmux passthrough."""
    title, body = _osc_safe(title), _osc_safe(body)
    if "rxvt" in env.get("TERM", ""):
        sequence = f"{ESC}]777;notify;{title};{body}{ST}"
    else:
        sequence = f"{ESC}]9;{title}: {body}{ST}"
    if env.get("TMUX"):
        # tmux forwards it only with `set -g allow-passthrough on`.
        sequence = f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"
    return sequence
