"""Desktop notification escapes: cleaned text, the right OSC, wrapped for tmux."""

from __future__ import annotations

from kondado_tui.ui.terminal.desktop_notify import desktop_notification


def test_osc9_by_default_with_hostile_text_neutralised() -> None:
    seq = desktop_notification(
        "kondado: orders", "db\x1b]52;c;ZXZpbA==\x07 down; now\x9c", {"TERM": "xterm-256color"}
    )
    assert seq.startswith("\x1b]9;kondado: orders: db") and seq.endswith("\x1b\\")
    body = seq[len("\x1b]9;") : -2]
    assert "\x1b" not in body and "\x07" not in body and "\x9c" not in body
    assert ";" not in body  # would split the OSC's fields


def test_osc777_for_rxvt_and_passthrough_inside_tmux() -> None:
    seq = desktop_notification("t", "b", {"TERM": "rxvt-unicode-256color"})
    assert seq == "\x1b]777;notify;t;b\x1b\\"
    wrapped = desktop_notification("t", "b", {"TERM": "screen", "TMUX": "/tmp/tmux-0/default"})
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;t: b\x1b\x1b\\\x1b\\"
