"""`kondado-tui` without a command: load the config, open a session, run the dashboard.

`--demo` starts the built-in simulator in-process instead, so the dashboard can be tried
with nothing configured. Anything that goes wrong before the screen opens is one line
on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from kondado_tui.cli.support import reloader, start_logging
from kondado_tui.core.actions import DoubtLog
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.config import load_config
from kondado_tui.core.duplicate import MappingMemory
from kondado_tui.core.errors import KondadoError
from kondado_tui.core.guards.redact import redact
from kondado_tui.core.paths import DOUBTS_FILENAME, default_doubts_path

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"kondado-tui: {redact(message)}", file=sys.stderr)
    return EXIT_USAGE


def launch(args: argparse.Namespace) -> int:
    from kondado_tui.core.collector.shared import SharedSession
    from kondado_tui.core.session import Session, open_demo
    from kondado_tui.ui.app import KondadoApp
    from kondado_tui.ui.terminal import crash, overrides
    from kondado_tui.ui.terminal.lifecycle import run_guarded

    read_only = bool(getattr(args, "read_only", False))
    demo = bool(getattr(args, "demo", False))
    session: Session | SharedSession
    try:
        if demo:
            # The demo's own config has no [log]: its log goes where the options say, or
            # to the default file (a crash in the demo is a bug to report too).
            log_problem = start_logging(args, None, "demo")
            session = open_demo(SYSTEM_CLOCK)
        else:
            config_arg = getattr(args, "config", None)
            config = load_config(
                Path(config_arg).expanduser() if config_arg else None,
                base_url=getattr(args, "base_url", None),
                read_only=read_only,
            )
            log_problem = start_logging(args, config, "dashboard")
            # the account's collector, or a viewer of it (docs/collector.md)
            session = SharedSession.open(config, SYSTEM_CLOCK, reload=reloader(args, config))
    except KondadoError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot start: {exc.strerror or exc} ({exc.filename or 'no file'})")

    if log_problem:
        session.extra_notes.append(log_problem)
    # The demo keeps its remembered duplicate mappings and sends of unknown outcome in
    # its own temporary directory.
    demo = getattr(args, "demo", False)
    memory = MappingMemory(session.config.path.parent / "duplicates.json" if demo else None)
    doubts = DoubtLog(
        session.config.path.parent / DOUBTS_FILENAME if demo else default_doubts_path(),
        clock=SYSTEM_CLOCK,
    )
    # Textual's input driver and partial-update renderer, replaced where tested on;
    # on another Textual, one note says so (its log line is written by install)
    terminal = overrides.install()
    session.extra_notes.extend(terminal.notes)
    unguarded = crash.shape_problem()
    if unguarded is not None:  # a bug's report might then print local values on screen
        log.warning("crash reports: %s", unguarded)
        session.extra_notes.append(
            f"This Textual is not the one kondado-tui's crash report was tested on "
            f"({unguarded}): after a bug, Textual's own report may be printed."
        )
    app = KondadoApp(
        session,
        clock=SYSTEM_CLOCK,
        read_only=True if read_only else None,
        memory=memory,
        doubts=doubts,
        overrides=terminal,
    )

    async def run() -> int | None:
        try:
            return await run_guarded(app, app.run_async)  # SIGTERM, SIGHUP, lost terminal
        finally:
            await session.aclose()

    code = asyncio.run(run())
    if app.crash_message:
        print(app.crash_message, file=sys.stderr)
    if code is None:  # ended without a result: `q` (0), or a crash (its return code)
        return app.return_code or EXIT_OK
    return code
