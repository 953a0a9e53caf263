"""The dashboard's last resort for a bug: its traceback goes to the log, never to the
screen, and the app ends with EXIT_BUG; the message that says where the log is is
printed by the launcher once the terminal is restored (unwrapped: its path is pasted).

Textual's own last resort (`App._handle_exception` -> `_fatal_error`) prints a traceback
*with the local variables* once the screen closes: the token sits in some of them.
`KondadoApp._handle_exception` calls `handle` instead (Textual 8.2: the one method every
unhandled exception of a handler, timer, worker or compose goes through).

It leans on Textual's internals, so `shape_problem` says when they changed (the launcher
logs it and tells the user once; tests/ui/test_ui_crash.py holds the pinned Textual to
it), and `handle` never raises: if the bookkeeping it keeps is gone, it still logs the
error and ends the app the public way.
"""

from __future__ import annotations

import inspect
from typing import Any

from textual.app import App
from textual.worker import WorkerFailed

from kondado_tui.core.logfile import unexpected_message

EXIT_BUG = 70  # as cli/exitcodes.py: an unexpected error


def shape_problem() -> str | None:
    """What of Textual's last resort `handle` relies on has changed (None: as in 8.2)."""
    hook = getattr(App, "_handle_exception", None)
    if hook is None or list(inspect.signature(hook).parameters) != ["self", "error"]:
        return "App._handle_exception is gone or takes other arguments"
    if not callable(getattr(App, "panic", None)):
        return "App.panic is gone"
    own = inspect.getsource(App._handle_exception)
    if "self._exception = error" not in own or "self._exception_event.set()" not in own:
        return "App no longer keeps _exception / _exception_event"
    return None


def handle(app: App[Any], error: Exception) -> str:
    """Log the error and end the app with EXIT_BUG; returns the message to print."""
    cause = error.error if isinstance(error, WorkerFailed) else error
    message = unexpected_message(cause, "dashboard", "what you were doing")
    try:
        app._return_code = EXIT_BUG
        # Textual's bookkeeping, kept: `run_test` re-raises it so a test sees the bug.
        if app._exception is None:
            app._exception = error
            app._exception_event.set()
        app.panic()  # Textual's immediate shutdown, with nothing of its own to print
    except Exception:  # another Textual: end it the public way (the message stands)
        app.exit(None, return_code=EXIT_BUG)
    return message
