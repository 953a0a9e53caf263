"""The dashboard's last resort for a bug: its traceback goes to the log, never to the
screen, and the app ends with EXIT_BUG; the message that says where the log is is
printed by the launcher once the terminal is restored (unwrapped: its path is pasted).

Textual's own last resort (`App._handle_exception`) prints a traceback *with the local
variables* once the screen closes: the token sits in some of them. `KondadoApp`
replaces it with `handle` (Textual 8.2: the one method every unhandled exception of a
handler, timer, worker or compose goes through)."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.worker import WorkerFailed

from kondado_tui.core.logfile import unexpected_message

EXIT_BUG = 70  # as cli/exitcodes.py: an unexpected error
# What `handle` relies on in Textual; tests/ui/test_ui_crash.py checks it is still there.
TEXTUAL_HOOKS = ("_handle_exception", "panic", "_exception", "_exception_event")


def handle(app: App[Any], error: Exception) -> str:
    """Log the error and end the app with EXIT_BUG; returns the message to print."""
    cause = error.error if isinstance(error, WorkerFailed) else error
    message = unexpected_message(cause, "dashboard", "what you were doing")
    app._return_code = EXIT_BUG
    # Textual's bookkeeping, kept: `run_test` re-raises it so a test sees the bug.
    if app._exception is None:
        app._exception = error
        app._exception_event.set()
    app.panic()  # Textual's immediate shutdown, with nothing of its own to print
    return message
