"""`kondado-tui serve`: the account's collector with no terminal (docs/collector.md).

A daemon: one line on stdout when it starts, then nothing; the log file is where it
talks. SIGTERM and SIGINT end it cleanly (exit 0), SIGHUP looks at the config file at
once (it is looked at every few seconds anyway).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

from kondado_tui.cli.exitcodes import EXIT_API, EXIT_OK, EXIT_USAGE
from kondado_tui.cli.support import credentials_fix, load_for_command, reloader
from kondado_tui.core import logfile
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.collector.headless import (
    AlreadyServing,
    CannotCollect,
    Headless,
    ServeLock,
    describe,
    lock_path,
)
from kondado_tui.core.collector.shared import SharedSession
from kondado_tui.core.config import Config


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="collect with no terminal: history and alerts while nobody watches",
        description=(
            "Poll the config's pipelines with no terminal, write history, run the alert "
            "command on new trouble, and serve this account's dashboards (they attach and "
            "ask the API nothing). If a dashboard already collects for the account, stand "
            "by as its viewer and take over when it ends. Prints one line when it starts, "
            "then writes only to the log file; ends cleanly on SIGTERM or Ctrl-C (exit 0). "
            "See docs/collector.md for a systemd user unit."
        ),
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_for_command(args)
    if not config.pipelines:
        print(
            f"kondado-tui: serve has no pipelines to poll: add some to {config.path} "
            "(kondado-tui add ID)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        lock = ServeLock.acquire(lock_path(config))
    except AlreadyServing as exc:
        print(f"kondado-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(
            f"kondado-tui: cannot write serve's lock file ({exc.strerror or exc}: "
            f"{exc.filename or 'the state dir'})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        return asyncio.run(_serve(config, args))
    finally:
        lock.release()


async def _serve(config: Config, args: argparse.Namespace) -> int:
    session = SharedSession.open(config, SYSTEM_CLOCK, reload=reloader(args, config))
    headless = Headless(session, SYSTEM_CLOCK)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, headless.stop, signal.Signals(signum).name)
    loop.add_signal_handler(signal.SIGHUP, headless.check_config_now)
    try:
        link = await headless.start()
    except CannotCollect as exc:
        print(
            f"kondado-tui: serve will not start: {exc}. Until that process ends, this "
            "account's dashboards poll alone; see docs/collector.md#a-name-held-by-a-stranger",
            file=sys.stderr,
        )
        return EXIT_USAGE
    where = logfile.current_path()
    print(
        f"kondado-tui serve (pid {os.getpid()}): {describe(link, headless.pipelines)}; "
        + (f"log: {where}" if where else "no log file ([log] level = off)"),
        flush=True,
    )
    await headless.run()
    if headless.fatal is not None:
        print(
            f"kondado-tui: serve stopped: {headless.fatal}\nkondado-tui: {credentials_fix(config)}",
            file=sys.stderr,
        )
        return EXIT_API
    return EXIT_OK
