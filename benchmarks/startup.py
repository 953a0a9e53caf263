"""Start-up: how long until the table is painted, and until a key is answered.

    python benchmarks/startup.py           # 1000 pipelines, 3 runs of each
    python benchmarks/startup.py --quick   # 1 run of each

The real `kondado-tui` starts on a 120x36 pseudo-terminal against a simulated account of
1000 pipelines served by this process. Two histories: empty (first start), and pre-filled
with every pipeline's last state (any later start: the rows open on what was known).
Measured from the process start:

- painted: the first pipeline name reaches the terminal (the table is on screen);
- answers a key: `?` is sent right after that, and the help screen's text comes back.
  A dashboard that paints fast but then digests its start-up for a minute fails here.

Baseline, same run: a bare Textual app painting a DataTable of 1000 rows with header and
footer (benchmarks/_bare_table.py), and the same `?` probe (it binds no help: it only
measures the paint there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _pty

from kondado_tui.core.sim import SimServer, SimWorld

PIPELINES = 1000
HELP_TEXT = b"command palette"  # a line of the help screen
BARE = (sys.executable, str(Path(__file__).resolve().parent / "_bare_table.py"))


@dataclass(frozen=True)
class Start:
    painted: float
    answered: float | None  # None: no answer to `?` within the timeout
    cpu_first_30s: float


def start_once(argv: list[str], name: bytes, probe: bool, timeout: float = 120.0) -> Start:
    child = _pty.spawn(argv)
    try:
        painted_at = child.wait_for(name, timeout)
        if painted_at is None:
            raise SystemExit(f"nothing painted in {timeout:.0f} s:\n{child.output()[-800:]!r}")
        answered = None
        if probe:
            sent = time.monotonic()
            child.write(b"?")
            seen = child.wait_for(HELP_TEXT, timeout, since=sent)
            answered = None if seen is None else seen - child.started
        time.sleep(max(0.0, child.started + 30 - time.monotonic()))
        return Start(painted_at - child.started, answered, child.cpu_seconds())
    finally:
        child.stop()


def app_start(world: SimWorld, server: SimServer, prefill: bool) -> Start:
    ids = world.pipeline_ids
    with tempfile.TemporaryDirectory(prefix="kondado-start-") as tmp:
        config = _pty.sim_config(Path(tmp), server.base_url, server.key, server.token, ids)
        if prefill:
            _pty.prefill_history(Path(tmp) / "history.sqlite3", world, ids)
        # any row: which pipelines are on the first screen depends on the sort
        return start_once([*_pty.KONDADO, "--config", str(config)], b"bench-", probe=True)


def seconds(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "no answer"
    text = f"{statistics.median(known):.2f} s"
    if len(known) > 1:
        text += f" ({min(known):.2f}-{max(known):.2f})"
    return text + ("" if len(known) == len(values) else f", {len(values) - len(known)} missed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each")
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    world = SimWorld(pipelines=PIPELINES, seed=9)
    results: dict[str, list[Start]] = {
        "empty history": [],
        "pre-filled history": [],
        "bare DataTable": [],
    }
    with SimServer(world, rate_limit=False) as server:
        for _ in range(runs):
            results["empty history"].append(app_start(world, server, prefill=False))
            results["pre-filled history"].append(app_start(world, server, prefill=True))
            results["bare DataTable"].append(
                start_once([*BARE, str(PIPELINES)], b"bench-", probe=False)
            )
    bare = statistics.median(s.painted for s in results["bare DataTable"])
    rows = []
    for what, starts in results.items():
        painted = [s.painted for s in starts]
        rows.append(
            [
                what,
                seconds(list(painted)),
                f"{statistics.median(painted) / bare:.1f}x",
                "-" if what.startswith("bare") else seconds([s.answered for s in starts]),
                f"{statistics.median(s.cpu_first_30s for s in starts):.1f} s",
            ]
        )
    table = _pty.markdown_table(
        [
            "1000 pipelines",
            "table painted",
            "vs bare",
            "answers `?` (help shown)",
            "CPU in the first 30 s",
        ],
        rows,
    )
    text = (
        "# Start-up\n\n"
        f"`python benchmarks/startup.py{' --quick' if args.quick else ''}`: median of "
        f"{runs} run(s) (range), from process start, 120x36 pty.\n\n"
        f"{table}\n\n{_pty.machine_note()}\n"
    )
    print(text)
    _pty.write_result("startup", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
