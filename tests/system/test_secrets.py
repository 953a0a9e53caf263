"""A recognisable token is seeded and must never leave the process.

Not on stdout or stderr, not in log output (httpx and httpcore at DEBUG included), not in
error messages, not in any file the app writes (history, ledger, remembered mappings,
the config it appends to). Every failure kind is forced with the seeded token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kondado_tui.cli.main import main
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld

SimFactory = Callable[..., SimServer]
SEEDED = "SEEDED-SECRET-T0KEN-8c1d2e"


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Everything httpx, httpcore and we log, at DEBUG, into a file."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


def _all_written_bytes(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_seeded_token_never_leaves_the_cli(
    tmp_path: Path,
    sim_factory: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    debug_log: Path,
) -> None:
    sim = sim_factory(world=SimWorld(demo=True), token=SEEDED, rate_limit=False)
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("KONDADO_BASE_URL", sim.base_url)
    monkeypatch.setenv("KONDADO_KEY", sim.key)
    monkeypatch.setenv("KONDADO_TOKEN", SEEDED)  # from the environment: never written
    config = home / "config" / "kondado-tui" / "config.toml"

    outputs: list[str] = []

    def cli(*argv: str) -> int:
        code = main(list(argv))
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
        return code

    assert cli("init") == 0
    assert cli("add", "2040", "--name", "Orders") == 0
    assert cli("add", "https://app.kondado.com.br/pipelines/2071") == 0
    assert cli("status") == 1  # 2071 is blocked
    assert cli("run", "2040", "--yes") == 0
    for fault in FaultMode:
        if fault in (FaultMode.SLOW, FaultMode.NO_ANSWER, FaultMode.FIELDS):
            continue  # timeouts: covered below; FIELDS without fields is a normal answer
        sim.set_fault(fault)
        assert cli("status", "2040") == 3
        sim.clear_fault()
    sim.set_fault(FaultMode.HTTP_500_HTML)
    assert cli("run", "2040", "--yes") == 3
    sim.clear_fault()
    monkeypatch.setenv("KONDADO_TOKEN", SEEDED + "-WRONG")
    assert cli("status") == 3
    monkeypatch.setenv("KONDADO_TOKEN", SEEDED)

    # A timeout: the client gives up and says so, without the URL it was asking.
    text = config.read_text(encoding="utf-8").replace("timeout = 10", "timeout = 0.5")
    config.write_text(text, encoding="utf-8")
    sim.set_fault(FaultMode.NO_ANSWER)
    assert cli("status", "2040") == 3
    sim.clear_fault()
    assert "no answer" in outputs[-1]

    everything = "\n".join(outputs)
    assert "Traceback" not in everything
    assert SEEDED not in everything
    log_text = debug_log.read_text(encoding="utf-8")
    assert "/pipelines/2040" in log_text  # httpx did log its requests ...
    assert SEEDED not in log_text  # ... without the token
    written = _all_written_bytes(home)
    assert any(p.name.startswith("history") for p in written), sorted(written)
    for path, content in written.items():
        assert SEEDED.encode() not in content, f"the token leaked into {path}"
