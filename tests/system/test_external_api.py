"""The CLI and the core client against an independent implementation of the API.

`tests/altapi.py` is written from the API document alone and answers differently from
our simulator wherever the document allows (wrapped status, HTTP 401/403/404 JSON errors,
text/html Content-Type on JSON, gzip and chunked answers, a bare `{"success": true}` to
run, hostile raw_msg texts). These tests catch a product that only works with our own
simulator's habits. The documented rate limits are on: the product must never breach.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from altapi import RATE_LIMIT_BODY, AltApi

from kondado_tui.cli.main import main
from kondado_tui.core.actions import after_failure, duplicate_target, run_target
from kondado_tui.core.api import KondadoClient
from kondado_tui.core.errors import BadAnswer, Outcome, RateLimited, Rejected, Unreachable

TOKEN = "ALT-S3CRET-tok-9d1e"
# The console script of the venv running the tests (pip install -e puts it beside python).
INSTALLED = Path(sys.executable).parent / "kondado-tui"


@pytest.fixture
def alt() -> Iterator[AltApi]:
    api = AltApi(token=TOKEN).start()
    yield api
    api.stop()
    breaches = [r for r in api.received if r.answer == RATE_LIMIT_BODY]
    assert not breaches, "the product breached the documented rate limits"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    for name in ("KONDADO_KEY", "KONDADO_TOKEN", "KONDADO_BASE_URL", "KONDADO_TUI_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def _config(tmp_path: Path, api: AltApi, ids: list[int], *, token: str = TOKEN) -> Path:
    lines = [
        "# QA config",
        "[api]",
        f'base_url = "{api.base_url}"',
        f'key = "{api.key}"',
        f'token = "{token}"',
        "requests_per_minute = 20",
        "",
        "[history]",
        f'path = "{tmp_path / "history.sqlite3"}"',
        "",
    ]
    for pid in ids:
        lines += ["[[pipelines]]", f"id = {pid}", f'name = "Alt {pid}"', ""]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
    return path


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert "Traceback" not in out + err
    return code, out, err


# -- status ------------------------------------------------------------------------


def test_status_table_wrapped_hostile_messages(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [101, 103, 104, 108])
    code, out, _ = _cli(capsys, "--config", str(config), "status")
    assert code == 1  # error and blocked pipelines
    assert "\x1b" not in out and "\x07" not in out
    assert "Alt 101" in out and "Erro ao conectar na origem" in out
    assert "at step 39" not in out  # a table cell holds the first line only
    assert "oops [/] here" in out  # literal text, not markup
    assert [r.path for r in alt.received] == [
        "/pipelines/101/status",
        "/pipelines/103/status",
        "/pipelines/104/status",
        "/pipelines/108/status",
    ]
    assert all(r.query == {"key": "alt-key", "token": TOKEN} for r in alt.received)


@pytest.mark.parametrize(
    ("content_type", "gzip_answers", "chunked", "wrapped"),
    [
        ("", False, False, False),
        ("application/json", True, False, True),
        ("text/plain", False, True, False),
    ],
)
def test_status_json_whatever_the_transport(
    tmp_path: Path,
    alt: AltApi,
    capsys: pytest.CaptureFixture[str],
    content_type: str,
    gzip_answers: bool,
    chunked: bool,
    wrapped: bool,
) -> None:
    alt.content_type, alt.gzip_answers, alt.chunked = content_type, gzip_answers, chunked
    alt.wrapped = wrapped
    config = _config(tmp_path, alt, [101, 102])
    code, out, _ = _cli(capsys, "--config", str(config), "status", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["id"], r["status"], r["is_running"]) for r in rows] == [
        (101, "active", False),
        (102, "running", True),
    ]
    assert rows[0]["raw_msg"] is None


def test_undocumented_status_is_shown_and_blocked_flag_counts(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [105])
    code, out, _ = _cli(capsys, "--config", str(config), "status", "--json")
    row = json.loads(out)[0]
    assert row["status"] == "paused_by_billing" and row["is_blocked"] is True
    # the API says the pipeline is blocked: a cron check must not call that healthy
    assert code == 1


def test_status_unknown_pipeline_http_404(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [999, 101])
    code, out, _ = _cli(capsys, "--config", str(config), "status")
    assert code == 3
    assert "Pipeline 999 not found" in out
    assert "active" in out  # the next pipeline was still asked


@pytest.mark.parametrize("mode", ["401", "403", "200"])
def test_status_bad_token_is_clear_and_names_the_fix(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    alt.auth_mode = mode
    config = _config(tmp_path, alt, [101, 102], token="WRONG-" + TOKEN)
    code, out, err = _cli(capsys, "--config", str(config), "status")
    assert code == 3
    assert "Invalid key or token" in out + err
    assert "key and token" in err and str(config) in err  # where to fix it
    assert len(alt.received) == 1  # stops at the first auth failure
    assert "WRONG-" not in out + err


def test_status_rate_limited_exits_3_and_locks_the_budget(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [101, 102])
    alt.lock_out(30)
    code, _, err = _cli(capsys, "--config", str(config), "status")
    assert code == 3
    assert "rate limited" in err.lower()
    assert len(alt.received) == 1
    alt.received.clear()  # the breach was provoked here, not by the product


# -- run -----------------------------------------------------------------------------


def test_run_bare_success_answer(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [101])
    code, out, _ = _cli(capsys, "--config", str(config), "run", "101", "--yes")
    assert code == 0
    assert "Alt 101" in out and "queued" in out
    (call,) = alt.received
    assert (call.method, call.path, call.body) == ("POST", "/pipelines/101/run", b"")


def test_run_refused_shows_the_api_text(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    alt.run_fails = "PLAN_HAS_FREQUENCY_LIMIT"
    config = _config(tmp_path, alt, [101])
    code, _, err = _cli(capsys, "--config", str(config), "run", "101", "--yes")
    assert code == 3
    assert "PLAN_HAS_FREQUENCY_LIMIT" in err


def test_run_bad_token_names_the_fix(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    alt.auth_mode = "403"
    config = _config(tmp_path, alt, [101], token="nope-nope")
    code, _, err = _cli(capsys, "--config", str(config), "run", "101", "--yes")
    assert code == 3
    assert "Invalid key or token" in err
    assert "key and token" in err and str(config) in err


# -- duplicate -------------------------------------------------------------------------

DUPLICATE_FLAGS = (
    "duplicate",
    "--from",
    "101",
    "--src",
    "5001",
    "--dest",
    "7001",
    "--table",
    "=orders_copy",
    "--table",
    "items=items_copy",
    "--param",
    "start_date=2024-01-01",
    "--name",
    "Orders (copy)",
)


def test_duplicate_dry_run_sends_nothing(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [101])
    code, out, _ = _cli(capsys, "--config", str(config), *DUPLICATE_FLAGS, "--dry-run")
    assert code == 0
    assert not alt.calls("POST")
    body = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert body["pipeline_id"] == 101 and body["full_tables"] == {
        "": "orders_copy",
        "items": "items_copy",
    }


def test_duplicate_sends_the_documented_body(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [101])
    code, out, _ = _cli(capsys, "--config", str(config), *DUPLICATE_FLAGS, "--yes")
    assert code == 0
    (post,) = alt.calls("POST", "/pipelines")
    assert post.path == "/pipelines"
    assert post.headers.get("Content-Type", "").startswith("application/json")
    assert post.json() == {
        "pipeline_id": 101,
        "src_collection_id": 5001,
        "dest_collection_id": 7001,
        "full_tables": {"": "orders_copy", "items": "items_copy"},
        "execute_immediately": "N",
        "name": "Orders (copy)",
        "overwrite_parameters": {"start_date": "2024-01-01"},
    }
    assert "900001" in out
    assert "id = 900001" in config.read_text(encoding="utf-8")  # saved to the config


def test_duplicate_refused_shows_the_api_text(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [101])
    code, _, err = _cli(
        capsys,
        "--config",
        str(config),
        "duplicate",
        "--from",
        "101",
        "--src",
        "5001",
        "--dest",
        "7001",
        "--table",
        "=orders_copy",
        "--yes",
        "--no-save",
    )
    assert code == 3
    assert "full_tables must name every table path" in err


# -- add and history -----------------------------------------------------------------


def test_add_by_id_and_by_url(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [])
    code, _, _ = _cli(capsys, "--config", str(config), "add", "101", "--name", "Orders")
    assert code == 0
    code, _, _ = _cli(
        capsys, "--config", str(config), "add", "https://app.kondado.com.br/pipelines/102"
    )
    assert code == 0
    text = config.read_text(encoding="utf-8")
    assert "# QA config" in text and "id = 101" in text and "id = 102" in text
    assert [r.path for r in alt.received] == ["/pipelines/101/status", "/pipelines/102/status"]


def test_add_unknown_pipeline_is_refused(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [])
    code, out, err = _cli(capsys, "--config", str(config), "add", "999")
    assert code != 0
    assert "999" in out + err and "not found" in (out + err).lower()
    assert "id = 999" not in config.read_text(encoding="utf-8")


def test_history_after_status(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [101, 104])
    _cli(capsys, "--config", str(config), "status")
    code, out, _ = _cli(capsys, "--config", str(config), "history", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {(r["id"], r["to_status"]) for r in rows} == {
        (101, "active"),
        (104, "too_many_consecutive_failed_builds__blocked"),
    }
    code, out, _ = _cli(capsys, "--config", str(config), "history")
    assert code == 0 and "\x1b" not in out and "Alt 104" in out


# -- the core client -------------------------------------------------------------------


def test_client_parses_every_alt_answer(alt: AltApi) -> None:
    async def go() -> None:
        alt.rate_limit = False
        async with KondadoClient(alt.base_url, alt.key, TOKEN) as client:
            status = await client.get_status(101)
            assert status.status == "active" and status.extra["owner"] == {"id": 7}
            assert (await client.get_status(109)).raw_msg is None  # "" is no message
            with pytest.raises(Rejected) as rejected:
                await client.get_status(999)
            assert rejected.value.http_status == 404 and not rejected.value.auth
            alt.force_auth_failure = "403"
            with pytest.raises(Rejected) as auth:
                await client.get_status(101)
            assert auth.value.auth and TOKEN not in str(auth.value)
            alt.force_auth_failure = ""
            alt.lock_out(5)
            with pytest.raises(RateLimited) as limited:
                await client.get_status(101)
            assert limited.value.retry_after == 60.0
            alt.unlock()
            alt.content_type = "text/html; charset=utf-8"
            assert (await client.get_status(102)).is_running

    asyncio.run(go())
    alt.received.clear()


def test_client_html_page_is_a_bad_answer(alt: AltApi) -> None:
    """A real HTML page (a proxy's login page) is told apart from JSON sent as text/html."""

    async def go() -> None:
        import httpx

        def page(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200,
                text="<!DOCTYPE html><html><body>login</body></html>",
                headers={"Content-Type": "text/html"},
            )

        client = KondadoClient(
            "https://k2.example", "k", TOKEN, transport=httpx.MockTransport(page)
        )
        with pytest.raises(BadAnswer) as bad:
            await client.get_status(101)
        assert "HTML" in str(bad.value) and TOKEN not in str(bad.value)
        await client.aclose()

    asyncio.run(go())


# -- the installed program -------------------------------------------------------------


def _installed(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KONDADO")}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "cfg"),
        NO_COLOR="1",
    )
    done = subprocess.run(
        [str(INSTALLED), *argv], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert TOKEN not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return done


@pytest.mark.skipif(not INSTALLED.exists(), reason="the installed program is not there")
def test_installed_program_status_and_auth_failure(tmp_path: Path, alt: AltApi) -> None:
    config = _config(tmp_path, alt, [101, 102])
    done = _installed(tmp_path, "--config", str(config), "status", "--json")
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in json.loads(done.stdout)] == ["active", "running"]
    alt.force_auth_failure = "401"
    done = _installed(tmp_path, "--config", str(config), "status")
    assert done.returncode == 3
    assert "Invalid key or token" in done.stdout + done.stderr


def test_status_one_forbidden_pipeline_does_not_stop_the_others(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    """Credentials that just worked are fine: a refusal naming permissions is about that
    pipeline (another account's, say), so the others are still asked."""
    config = _config(tmp_path, alt, [101, 120, 102])
    code, out, err = _cli(capsys, "--config", str(config), "status")
    assert code == 3
    assert [r.path for r in alt.received] == [
        "/pipelines/101/status",
        "/pipelines/120/status",
        "/pipelines/102/status",
    ]
    assert "permission" in out and "running" in out
    assert "stopped asking" not in err


def test_status_first_answer_forbidden_stops_as_credentials(
    tmp_path: Path, alt: AltApi, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, alt, [120, 101])
    code, _, err = _cli(capsys, "--config", str(config), "status")
    assert code == 3
    assert len(alt.received) == 1 and "key and token" in err


# -- a change whose answer was lost ------------------------------------------------------


def test_lost_answers_to_run_and_duplicate_say_it_may_have_happened(alt: AltApi) -> None:
    body = {
        "pipeline_id": 101,
        "src_collection_id": 5001,
        "dest_collection_id": 7001,
        "full_tables": {"": "a", "items": "b"},
        "execute_immediately": "N",
    }

    async def go() -> None:
        alt.rate_limit = False
        async with KondadoClient(alt.base_url, alt.key, TOKEN, timeout=0.5) as client:
            alt.delay = 1.0
            with pytest.raises(Unreachable) as lost:
                await client.run(101)
            assert lost.value.outcome is Outcome.UNKNOWN
            assert "may have been queued" in after_failure(lost.value, run_target(101))
            alt.delay, alt.garble = 0.0, True
            for _ in range(2):
                with pytest.raises(BadAnswer) as bad:
                    await client.duplicate(body)
                assert bad.value.outcome is Outcome.UNKNOWN
                words = after_failure(bad.value, duplicate_target(body))
                assert "may have been created" in words and "Nothing was" not in words
                assert TOKEN not in str(bad.value)
        assert 900002 in alt.pipelines  # both were created: the warning was right
        closed = KondadoClient("http://127.0.0.1:9", "k", TOKEN, timeout=0.5)
        with pytest.raises(Unreachable) as refused:
            await closed.run(101)
        assert refused.value.outcome is Outcome.NOT_DONE  # never sent: no doubt
        assert after_failure(refused.value, run_target(101)) == "Nothing was queued."
        await closed.aclose()

    asyncio.run(go())


def test_run_without_a_terminal_refuses_on_stderr(
    tmp_path: Path,
    alt: AltApi,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    config = _config(tmp_path, alt, [101])
    code, out, err = _cli(capsys, "--config", str(config), "run", "101")
    assert code == 2 and out == ""
    assert "add --yes" in err
    assert not alt.received
