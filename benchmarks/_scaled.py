"""Time that runs faster than the wall clock, and the real dashboard running on it.

    python benchmarks/_scaled.py CONFIG SPEED

`ScaledClock` makes `now()` and `sleep()` agree at `speed` times real time, so the
poller's request budget, backoffs, ages and history retention all run `speed` times
faster while everything else (Textual, HTTP, the terminal) stays real. Run as a script,
it opens the real dashboard (same composition as `kondado-tui --config`, lifecycle
included) on such a clock: the memory soak uses it to put days of requests through the
app in minutes. The chaos tests use the clock alone.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path


class ScaledClock:
    """Wall time running `speed` times faster (a `kondado_tui.core.clock.Clock`)."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._real0 = time.monotonic()
        self._wall0 = time.time()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._real0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


def run_app(config_path: Path, speed: float) -> int:
    from kondado_tui.core.config import load_config
    from kondado_tui.core.guards.redact import install_log_redaction
    from kondado_tui.core.session import Session
    from kondado_tui.ui.app import KondadoApp
    from kondado_tui.ui.terminal import overrides
    from kondado_tui.ui.terminal.lifecycle import run_guarded

    install_log_redaction()
    clock = ScaledClock(speed)
    session = Session.open(load_config(config_path), clock)
    app = KondadoApp(session, clock=clock, overrides=overrides.install())  # as launched

    async def run() -> int | None:
        try:
            return await run_guarded(app, app.run_async)
        finally:
            await session.aclose()

    code = asyncio.run(run())
    return 0 if code is None else code


if __name__ == "__main__":
    sys.exit(run_app(Path(sys.argv[1]), float(sys.argv[2])))
