"""`kondado-tui completion bash|zsh|fish`: print the shell's completion script.

Made from the parser each time, so it always matches the installed version. How to load
it in each shell, and with `pipx` or `uv tool`: docs/cli.md#shell-completion.
"""

from __future__ import annotations

import argparse
from typing import Any

from kondado_tui.cli.completion import scripts
from kondado_tui.cli.completion.spec import read_parser


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print the completion script for SHELL on standard output: "
        "commands, options, their values, and the pipeline ids and names of your config. "
        "Load it from your shell's start-up file; see docs/cli.md#shell-completion.",
    )
    parser.add_argument("shell", metavar="SHELL", choices=scripts.SHELLS, help="bash, zsh or fish")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from kondado_tui.cli.main import build_parser  # the whole command line, as it is now

    print(scripts.render(args.shell, read_parser(build_parser())), end="")
    return 0
