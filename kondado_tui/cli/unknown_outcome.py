"""`run` and `duplicate` after a send of unknown outcome: the second confirmation, and
what a failure leaves known (the words are `core.actions`', shared with the dashboard)."""

from __future__ import annotations

import sys

from kondado_tui.cli.output import confirm
from kondado_tui.cli.support import credentials_hint
from kondado_tui.core.actions import DoubtLog, Target, after_failure
from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.config import Config
from kondado_tui.core.errors import ApiError, Outcome
from kondado_tui.core.paths import default_doubts_path


def open_doubts() -> DoubtLog:
    return DoubtLog(default_doubts_path(), clock=SYSTEM_CLOCK)


def second_confirmation(
    doubts: DoubtLog, target: Target, *, again: bool, question: str
) -> int | None:
    """None: go on (no doubt, or confirmed). Otherwise the exit status to stop with."""
    from kondado_tui.cli.exitcodes import EXIT_OK, EXIT_USAGE

    warning = doubts.warning(target)
    if doubts.note:
        print(f"kondado-tui: note: {doubts.note}", file=sys.stderr)
    if warning is None:
        return None
    print(f"kondado-tui: WARNING: {warning}", file=sys.stderr)
    answer = confirm(question, assume_yes=again)
    if answer is None:
        print(
            "kondado-tui: not sent: no terminal to confirm on; check first, then add "
            "--again to send it anyway",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not answer:
        print("Cancelled: nothing was sent.", file=sys.stderr)
        return EXIT_OK
    return None


def report_failure(exc: ApiError, target: Target, doubts: DoubtLog, config: Config) -> int:
    """Print the failure and only what follows from it; remember an unknown outcome."""
    from kondado_tui.cli.exitcodes import EXIT_API

    hint = credentials_hint(exc, config) if exc.outcome is Outcome.NOT_DONE else ""
    print(f"kondado-tui: {exc}\n{after_failure(exc, target)}{hint}", file=sys.stderr)
    if exc.outcome is Outcome.UNKNOWN:
        doubts.note_unknown(target, exc)
        if doubts.note:
            print(f"kondado-tui: note: {doubts.note}", file=sys.stderr)
    return EXIT_API


__all__ = ["open_doubts", "report_failure", "second_confirmation"]
