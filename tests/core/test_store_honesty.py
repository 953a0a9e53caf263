"""What the history store admits: writes that fail after start-up (a full disk) are its
state (`HistoryState`) until one works again, the poller carries that to front ends in
`Health`, and the files it creates are private wherever `[history] path` points."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from history_faults import FULL_MESSAGE, FullDisk

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.history.store import HistoryStore
from kondado_tui.core.models import Observation, PipelineStatus

T0 = 1_790_000_000.0


def obs(pid: int, status: str, at: float) -> Observation:
    return Observation(PipelineStatus(pid, status), at)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_failing_writes_are_the_state_until_one_works(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = HistoryStore(tmp_path / "h.sqlite3", clock=clock)
    assert store.state.saving and store.state.short == "" and store.state.problem == ""
    store.record(obs(1, "active", T0))
    disk = FullDisk(store)
    clock.advance(60)
    assert store.record(obs(1, "running", clock.now())) is True  # still tells transitions
    state = store.state
    assert not state.saving and state.short == "history not saved"
    assert FULL_MESSAGE in state.write_failure and state.failing_since == T0 + 60
    assert "saved again as soon as a write works" in state.problem
    clock.advance(60)
    store.record(obs(1, "active", clock.now()))
    assert store.state.failing_since == T0 + 60  # since the first failure
    assert [t.to_status for t in store.transitions(1)] == ["active"]  # reads still work
    disk.full = False
    clock.advance(60)
    store.record(obs(1, "error_building_tables", clock.now()))
    assert store.state.saving and store.state.failing_since is None
    assert store.state.problem == "" and store.note == ""
    store.close()


def test_memory_only_is_said_too(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = HistoryStore(blocker / "h.sqlite3", clock=ManualClock(T0))
    assert store.state.short == "history in memory only"
    assert "in memory only" in store.state.problem
    assert HistoryStore(None).state.saving  # memory by choice: nothing to say


def test_history_files_are_private_outside_the_state_dir(tmp_path: Path, umask_022: None) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    path = shared / "history.sqlite3"
    store = HistoryStore(path, clock=ManualClock(T0))
    store.record(obs(1, "active", T0))  # the -wal and -shm exist while it is open
    for name in ("history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm"):
        assert stat.S_IMODE((shared / name).stat().st_mode) == 0o600, name
    store.close()


def test_an_existing_file_keeps_its_mode_and_stale_side_files_follow_it(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "h.sqlite3"
    HistoryStore(path, clock=ManualClock(T0)).close()
    path.chmod(0o640)  # the user's choice (a group that reads it)
    for extra in ("-wal", "-shm"):  # left 0644 by an older version
        side = tmp_path / f"h.sqlite3{extra}"
        side.write_bytes(b"")
        side.chmod(0o644)
    store = HistoryStore(path, clock=ManualClock(T0))
    store.record(obs(1, "active", T0))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    for extra in ("-wal", "-shm"):
        assert stat.S_IMODE((tmp_path / f"h.sqlite3{extra}").stat().st_mode) == 0o640
    store.close()


FILL_AND_FREE = textwrap.dedent(
    """
    import os, sys
    from kondado_tui.core.clock import ManualClock
    from kondado_tui.core.history.store import HistoryStore
    from kondado_tui.core.models import Observation, PipelineStatus
    where = sys.argv[1]
    clock = ManualClock(1_790_000_000.0)
    store = HistoryStore(os.path.join(where, "h.sqlite3"), clock=clock)
    store.record(Observation(PipelineStatus(1, "active"), clock.now()))
    fd = os.open(os.path.join(where, "filler"), os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        pass
    os.close(fd)
    for i in range(50):
        clock.advance(10)
        store.record(Observation(PipelineStatus(1, "running" if i % 2 else "active",
                                                raw_msg="m" * 3000 + str(i)), clock.now()))
        if not store.state.saving:
            break
    print("FULL", store.state.short, "|", store.state.write_failure)
    os.remove(os.path.join(where, "filler"))
    clock.advance(10)
    store.record(Observation(PipelineStatus(1, "error_building_tables"), clock.now()))
    print("FREED", store.state.saving, repr(store.state.problem))
    """
)


def test_a_real_full_disk_then_space_again(tmp_path: Path) -> None:
    """On a 256 KiB tmpfs in a private mount namespace (where the machine allows one)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1)")
    script = tmp_path / "fill.py"
    script.write_text(FILL_AND_FREE)
    mount = tmp_path / "tiny"
    mount.mkdir()
    command = f"mount -t tmpfs -o size=256k tmpfs {mount} && {sys.executable} {script} {mount}"
    done = subprocess.run(
        [unshare, "-rm", "sh", "-c", command], capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    assert "FULL history not saved | History could not be saved (database or disk is full)" in (
        done.stdout
    )
    assert "FREED True ''" in done.stdout


async def test_the_poller_tells_front_ends_in_health(tmp_path: Path, sim_factory: object) -> None:
    from kondado_tui.core.api import KondadoClient
    from kondado_tui.core.budget.rate_budget import RateBudget
    from kondado_tui.core.events import HealthChanged, PollerEvent
    from kondado_tui.core.poller import Poller
    from kondado_tui.core.sim import SimServer, SimWorld

    assert callable(sim_factory)
    sim: SimServer = sim_factory(world=SimWorld(demo=True), rate_limit=False)
    clock = ManualClock()
    budget = RateBudget(per_minute=18, clock=clock, ledger_path=None)
    store = HistoryStore(tmp_path / "h.sqlite3", clock=clock)
    events: list[PollerEvent] = []
    client = KondadoClient(sim.base_url, sim.key, sim.token, gate=budget, clock=clock)
    poller = Poller(client, budget, clock, [2040], on_event=events.append, store=store)
    try:
        await poller.step()
        assert poller.health.history_short == ""
        disk = FullDisk(store)
        clock.advance(120)
        await poller.step()
        health = poller.health
        assert health.history_short == "history not saved"
        assert FULL_MESSAGE in health.history_problem
        assert health.history_failing_since == clock.now()
        assert any(
            isinstance(e, HealthChanged) and e.health.history_short for e in events
        )  # published, not only readable
        disk.full = False
        clock.advance(120)
        await poller.step()
        assert poller.health.history_short == "" and poller.health.history_problem == ""
    finally:
        await client.aclose()
        budget.close()
        store.close()
