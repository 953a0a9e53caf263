"""The `kondado-tui` command line. The TUI and every subcommand sit on the same core.

Exit codes: see kondado_tui/cli/exitcodes.py (cron and monitoring scripts rely on them).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import logging
import sys
from collections.abc import Sequence

from kondado_tui import __version__
from kondado_tui.cli.completion.candidates import COMMAND as COMPLETE
from kondado_tui.cli.completion.candidates import run_complete
from kondado_tui.cli.exitcodes import (
    EXIT_API,
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    EXIT_USAGE,
)
from kondado_tui.cli.guarded_output import OutputFailed, abandon, flush_all, guarded_output
from kondado_tui.cli.support import (
    credentials_hint,
    glue_dashed_values,
    quiet_library_logs,
    unexpected_error,
)
from kondado_tui.core.errors import ApiError, ConfigError, KondadoError, ValidationError
from kondado_tui.core.guards.redact import install_log_redaction

log = logging.getLogger("kondado_tui.cli")

# Each module registers its subcommands with `register(subparsers)`.
COMMAND_MODULES = (
    "kondado_tui.cli.commands.status",
    "kondado_tui.cli.commands.run",
    "kondado_tui.cli.commands.duplicate",
    "kondado_tui.cli.commands.history",
    "kondado_tui.cli.commands.config_cmds",
    "kondado_tui.cli.commands.alert_test",
    "kondado_tui.cli.commands.info",
    "kondado_tui.cli.commands.serve",
    "kondado_tui.cli.commands.sim",
    "kondado_tui.cli.commands.completion",
)

# Commands that read no config: the global options mean nothing after them.
WITHOUT_CONFIG = frozenset({"sim", "completion"})


class ArgumentParser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line hint instead of a bare usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="kondado-tui",
        description="A terminal monitor for Kondado data pipelines.",
        epilog="Without a command, opens the live dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"kondado-tui {__version__}")
    _add_global_options(parser, after_command=False)
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the dashboard on the built-in simulator (nothing to configure)",
    )
    parser.set_defaults(handler=_open_tui)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(subparsers)
    for command, subparser in subparsers.choices.items():
        if command not in WITHOUT_CONFIG:
            _add_global_options(subparser, after_command=True)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """The options every command reads its config by. Typed after the command they
    work too (`kondado-tui status --config x`): there they default to SUPPRESS, so one
    given before the command is not reset by its absence after it."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if after_command else value

    group = parser.add_argument_group("global options") if after_command else parser
    group.add_argument(
        "--config",
        metavar="PATH",
        default=default(None),
        help="config file (default: see docs/configuration.md)",
    )
    group.add_argument(
        "--read-only",
        action="store_true",
        default=default(False),
        help="never run or duplicate pipelines",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help="API base URL (overrides the config)",
    )
    group.add_argument(
        "--log-file",
        metavar="PATH",
        default=default(None),
        help="the log file (default: [log] path, else kondado-tui.log in the state dir)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="log everything, HTTP requests included (token and key masked)",
    )


def _open_tui(args: argparse.Namespace) -> int:
    # The dashboard reads keys from stdin and draws on stderr: from cron or a pipe it
    # would wait forever, writing escape sequences into a log.
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        print(
            "kondado-tui: the dashboard needs a terminal (standard input and standard error "
            "are not one here); from scripts and cron use 'kondado-tui status' "
            "(see 'kondado-tui --help' for every command)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from kondado_tui.cli.launch import launch

    return launch(args)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == [COMPLETE]:  # the completion scripts' helper (kondado_tui.cli.run)
        return run_complete(words[1:])
    install_log_redaction()
    what = "kondado-tui"
    with guarded_output() as guard:  # argparse's own messages are guarded too
        try:
            parser = build_parser()
            try:
                args = parser.parse_args(glue_dashed_values(words, parser))
            except SystemExit:  # --help, --version, a usage error: said, now flushed
                flush_all()
                raise
            if args.handler is _open_tui:
                guard.release()  # Textual draws on the real stderr itself
            else:
                quiet_library_logs()
                _never_fail_on_encoding()
            what = getattr(args, "command", None) or "dashboard"
            code = _run(args, what)
            flush_all()
        except OutputFailed as exc:
            code = _output_failed(exc)
    # a cron job's history, for the log file (when the command started one)
    log.info("%s ended with exit status %d", what, code)
    return code


def _output_failed(exc: OutputFailed) -> int:
    """A write to stdout or stderr failed: say so where it can still be said."""
    on_stderr = exc.stream == "standard error"
    abandon(sys.stderr if on_stderr else sys.stdout)  # the last flush must not fail again
    if exc.broken_pipe:
        return EXIT_OK  # `kondado-tui status | head -1`: the reader had enough
    log.warning("%s", exc)
    if not on_stderr:
        with contextlib.suppress(OSError, OutputFailed):
            print(f"kondado-tui: {exc}; the output is incomplete", file=sys.stderr)
            sys.stderr.flush()
    return EXIT_IO


def _run(args: argparse.Namespace, what: str) -> int:
    try:
        code: int = args.handler(args)
        return code
    except (ConfigError, ValidationError) as exc:
        return _failed(f"kondado-tui: {exc}", EXIT_USAGE)
    except ApiError as exc:
        return _failed(f"kondado-tui: {exc}{credentials_hint(exc)}", EXIT_API)
    except KondadoError as exc:
        return _failed(f"kondado-tui: {exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        print("kondado-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OutputFailed:
        raise  # told by main(), which knows which stream still works
    except Exception as exc:  # never a traceback for a user: it goes to the log
        print(unexpected_error(exc, what), file=sys.stderr)
        return EXIT_BUG


def _failed(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    log.warning("%s", message.removeprefix("kondado-tui: "))
    return code


def _never_fail_on_encoding() -> None:
    """A terminal or file whose encoding lacks a glyph (✖, ▶, —) gets '?' for it, not a
    UnicodeEncodeError (a latin-1 locale, PYTHONIOENCODING=ascii). JSON is ASCII anyway."""
    for guarded in (sys.stdout, sys.stderr):
        stream = getattr(guarded, "wrapped", guarded)
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
