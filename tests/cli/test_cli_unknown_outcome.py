"""`run` and `duplicate` after an answer that cannot tell what happened, over real HTTP.

A fault played after the request was received (an HTML page, a cut JSON body that began
`{"success": true`, an HTTP 5xx, a reset, no answer at all) leaves the outcome unknown:
the message says only that, never "Nothing was created", and the same send afterwards
asks a second time, naming the risk. A refusal says "Nothing was created" and asks
nothing more next time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from altapi import AltApi
from cli_helpers import DUPLICATE as DUPLICATE_YES
from cli_helpers import write_config

from kondado_tui.cli.main import main
from kondado_tui.core.sim import FaultMode, SimServer, SimWorld
from kondado_tui.core.sim.server import Outcome

SimFactory = Callable[..., SimServer]

DUPLICATE = ["duplicate", *DUPLICATE_YES]  # sent without asking (--yes)
SUCCESS_CUT = '{"success": true, "data": {"success": true, "data": {"new_pipeline_id": 12'

FAULTS: list[tuple[FaultMode, dict[str, Any]]] = [
    (FaultMode.HTML_200, {}),
    (FaultMode.MALFORMED_JSON, {"body": SUCCESS_CUT}),
    (FaultMode.HTTP_500_HTML, {}),
    (FaultMode.RESET, {}),
    (FaultMode.NO_ANSWER, {}),
]


@pytest.fixture
def demo(
    sim_factory: SimFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[SimServer, Path]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    sim = sim_factory(world=SimWorld(demo=True), rate_limit=False)
    return sim, write_config(tmp_path, sim, extra="timeout = 0.5")


def _cli(config: Path, *argv: str) -> int:
    return main(["--config", str(config), *argv])


def _posts(sim: SimServer, path: str) -> int:
    return sum(1 for r in sim.log if r.method == "POST" and r.path == path)


@pytest.mark.parametrize(("fault", "options"), FAULTS, ids=[f.value for f, _ in FAULTS])
def test_duplicate_with_an_unknown_outcome_says_only_that_then_asks_twice(
    demo: tuple[SimServer, Path],
    capsys: pytest.CaptureFixture[str],
    fault: FaultMode,
    options: dict[str, Any],
) -> None:
    sim, config = demo
    sim.set_fault(fault, count=1, **options)
    assert _cli(config, *DUPLICATE) == 3
    err = capsys.readouterr().err
    assert "the pipeline may have been created" in err
    assert "Nothing was created" not in err and "fix the form" not in err
    assert _posts(sim, "/pipelines") == 1

    # the same body again, from a script: refused until --again says so
    assert _cli(config, *DUPLICATE) == 2
    err = capsys.readouterr().err
    assert "outcome is unknown" in err and "SECOND pipeline" in err
    assert "outlet_orders" in err and "outlet_line_items" in err
    assert "--again" in err
    assert _posts(sim, "/pipelines") == 1  # nothing sent

    assert _cli(config, *DUPLICATE, "--again") == 0
    assert _posts(sim, "/pipelines") == 2
    assert len(sim.world.duplicate_bodies) == 1  # the fault never acted; this one did
    capsys.readouterr()

    # it worked: the doubt is gone, the next send asks nothing more
    assert _cli(config, *DUPLICATE) == 0
    assert "outcome is unknown" not in capsys.readouterr().err


def test_a_refusal_says_nothing_was_created_and_leaves_no_doubt(
    demo: tuple[SimServer, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, config = demo
    cut = DUPLICATE.index("fulfillments=outlet_fulfillments")
    missing = DUPLICATE[: cut - 1] + DUPLICATE[cut + 1 :]  # a table path left out
    assert _cli(config, *missing) == 3
    err = capsys.readouterr().err
    assert "Nothing was created." in err and "may have been" not in err
    assert _cli(config, *missing) == 3  # refused again, but not asked twice
    assert "outcome is unknown" not in capsys.readouterr().err
    assert [r.outcome for r in sim.log] == [Outcome.REJECTED, Outcome.REJECTED]


def test_a_different_body_is_not_held_back(
    demo: tuple[SimServer, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, config = demo
    sim.set_fault(FaultMode.RESET, count=1)
    assert _cli(config, *DUPLICATE) == 3
    other = [a.replace("7002", "7003") for a in DUPLICATE]  # another destination
    capsys.readouterr()
    _cli(config, *other)
    assert "outcome is unknown" not in capsys.readouterr().err
    assert _posts(sim, "/pipelines") == 2


@pytest.mark.parametrize(("fault", "options"), FAULTS, ids=[f.value for f, _ in FAULTS])
def test_run_with_an_unknown_outcome_says_it_may_be_queued_then_asks_twice(
    demo: tuple[SimServer, Path],
    capsys: pytest.CaptureFixture[str],
    fault: FaultMode,
    options: dict[str, Any],
) -> None:
    sim, config = demo
    sim.set_fault(fault, count=1, **options)
    assert _cli(config, "run", "2040", "--yes") == 3
    err = capsys.readouterr().err
    assert "the run may have been queued" in err and "before running it again" in err
    assert "Nothing was queued" not in err
    assert _cli(config, "run", "2040", "--yes") == 2
    err = capsys.readouterr().err
    assert "run it twice" in err and "--again" in err
    assert _posts(sim, "/pipelines/2040/run") == 1
    assert _cli(config, "run", "2040", "--yes", "--again") == 0
    assert _posts(sim, "/pipelines/2040/run") == 2


def test_a_run_that_really_happened_behind_a_garbled_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The independent API acts, then answers something unreadable: exactly the case the
    second confirmation is for."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    alt = AltApi(rate_limit=False, chunked=False, garble=True).start()
    try:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[api]\nbase_url = "{alt.base_url}"\nkey = "{alt.key}"\ntoken = "{alt.token}"\n'
            f'ledger = "{tmp_path / "ledger.sqlite3"}"\n',
            encoding="utf-8",
        )
        config.chmod(0o600)
        assert _cli(config, "run", "101", "--yes") == 3
        assert alt.pipelines[101]["status"] == "scheduled"  # it was queued
        assert "the run may have been queued" in capsys.readouterr().err
        assert _cli(config, "run", "101", "--yes") == 2
        assert len(alt.calls("POST", "/pipelines/101/run")) == 1
    finally:
        alt.stop()
