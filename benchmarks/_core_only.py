"""The second baseline: the core's poller alone, with no UI.

    python benchmarks/_core_only.py CONFIG

The same session as the dashboard (config, rate budget, history, poller) asking the
same pipelines at the same pace, with no Textual: what the polling itself costs (HTTP,
SQLite, scheduling). idle_cost.py runs it beside the app, so the app can be compared
with a bare table plus this, which is what the dashboard does that a bare table does not.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from kondado_tui.core.config import load_config
from kondado_tui.core.session import Session


async def main(config_path: Path) -> None:
    session = Session.open(load_config(config_path))
    try:
        await session.poller.start()
        print("bench-core polling", flush=True)  # idle_cost.py waits for "bench-"
        await session.poller.run()
    finally:
        await session.aclose()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
