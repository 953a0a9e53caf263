"""kondado-tui's two replacements of Textual internals: which are on, decided in one place.

- `quiet_driver`: Textual's Linux driver, with an input thread that sleeps until there
  is input instead of waking ten times a second (docs/upstream/input-thread-wakeups.md);
- `partial_updates`: `ChopsUpdate.render_segments` cropping a changed span on the left
  as well as on the right (docs/upstream/render-segments-left-crop.md).

Both follow Textual's own code closely, so each is used only on the Textual releases it
was written for and tested on (`TESTED_ON`), and only if what it replaces is still
there in the shape it expects. On any other Textual the dashboard uses Textual's own
driver and renderer, and says so once: one log line here, one note on screen (the
launcher adds `TerminalOverrides.notes` to the session's notes, which the app shows). So a
new Textual release can be installed without a code change; the overrides come back once
tested on it.

The launcher (`kondado_tui/cli/launch.py`) calls `install()` once before the app is
made; tests that need an override install it themselves. Nothing here runs on import.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import logging
import re
import sys
from dataclasses import dataclass

from textual import constants as textual_constants
from textual.driver import Driver

log = logging.getLogger(__name__)

TESTED_ON = ((8, 2),)  # Textual (major, minor) releases both overrides were tested on
ONLY_TESTED_ON = "tested on " + ", ".join(f"{major}.{minor}" for major, minor in TESTED_ON)
TEXTUALS_LINUX_DRIVER = "textual.drivers.linux_driver"


def textual_version() -> str:
    """The running Textual's version ("" when it cannot be read)."""
    try:
        return importlib.metadata.version("textual")
    except importlib.metadata.PackageNotFoundError:
        import textual

        return str(getattr(textual, "__version__", ""))


def tested(version: str) -> bool:
    """Whether `version` ("8.2.8", "8.2.9rc1") is a release the overrides were tested on."""
    found = re.match(r"(\d+)\.(\d+)", version)
    return found is not None and (int(found[1]), int(found[2])) in TESTED_ON


@dataclass(frozen=True)
class TerminalOverrides:
    """What `install` decided. The default is Textual's own everything (no override)."""

    quiet_driver: bool = False
    partial_updates: bool = False
    notes: tuple[str, ...] = ()  # what fell back and why, for the screen (logged here)

    def driver_class(self, textuals_choice: type[Driver]) -> type[Driver]:
        """The driver for the app: the quiet one where Textual would use its own Linux
        driver (not on Windows, nor when TEXTUAL_DRIVER names one), else Textual's."""
        if (
            not self.quiet_driver
            or textual_constants.DRIVER
            or textuals_choice.__module__ != TEXTUALS_LINUX_DRIVER
        ):
            return textuals_choice
        from kondado_tui.ui.terminal.quiet_driver import QuietLinuxDriver

        return QuietLinuxDriver


def _quiet_driver_problem() -> str | None:
    """Why the quiet driver cannot replace Textual's Linux driver (None: it can)."""
    try:
        from kondado_tui.ui.terminal import quiet_driver
    except ImportError as exc:  # a Textual module it builds on moved or went
        return f"cannot import what it builds on: {exc}"
    return quiet_driver.shape_problem()


def _partial_updates_problem() -> str | None:
    """Why the left-cropping renderer cannot replace Textual's (None: it can)."""
    try:
        from kondado_tui.ui.terminal import partial_updates
    except ImportError as exc:
        return f"cannot import what it replaces: {exc}"
    return partial_updates.shape_problem()


def install(version: str | None = None) -> TerminalOverrides:
    """Decide and install both overrides for this process (the launcher, once).

    `version` defaults to the running Textual's. Returns what is on; what falls back
    is logged here, once, and returned in `notes` for the screen."""
    version = textual_version() if version is None else version
    with_driver = sys.platform != "win32"  # elsewhere Textual has no Linux driver to replace
    if tested(version):
        driver_problem = _quiet_driver_problem() if with_driver else None
        renderer_problem = _partial_updates_problem()
    else:
        driver_problem = renderer_problem = ONLY_TESTED_ON
    if renderer_problem is None:
        from kondado_tui.ui.terminal import partial_updates

        partial_updates.install()
    elif (installed := sys.modules.get(f"{__package__}.partial_updates")) is not None:
        installed.uninstall()  # installed earlier in this process (tests): Textual's again
    overrides = TerminalOverrides(
        quiet_driver=with_driver and driver_problem is None,
        partial_updates=renderer_problem is None,
    )
    fell_back = [
        (textuals, ours, problem)
        for textuals, ours, problem in (
            ("input driver", "quiet driver", driver_problem),
            ("renderer", "partial updates", renderer_problem),
        )
        if problem is not None
    ]
    if not fell_back:
        return overrides
    note = _fallback_note(version, fell_back)
    log.warning(note)
    return dataclasses.replace(overrides, notes=(note,))


def _fallback_note(version: str, fell_back: list[tuple[str, str, str]]) -> str:
    """One line: "Textual 8.3.0: using Textual's own input driver and renderer
    (kondado-tui's quiet driver and partial updates are tested on 8.2)"."""
    own = " and ".join(textuals for textuals, _ours, _problem in fell_back)
    if all(problem == ONLY_TESTED_ON for _textuals, _ours, problem in fell_back):
        ours = " and ".join(ours for _textuals, ours, _problem in fell_back)
        why = f"kondado-tui's {ours} {'is' if len(fell_back) == 1 else 'are'} {ONLY_TESTED_ON}"
    else:
        why = "; ".join(f"kondado-tui's {ours}: {problem}" for _t, ours, problem in fell_back)
    return f"Textual {version or '(version unknown)'}: using Textual's own {own} ({why})"


__all__ = ["TESTED_ON", "TerminalOverrides", "install", "tested", "textual_version"]
