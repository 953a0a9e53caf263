"""`kondado-tui sim`: serves, says how to use it, stops cleanly on Ctrl-C."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from kondado_tui.cli.commands.sim import serve
from kondado_tui.cli.main import build_parser, main

EXPORT = re.compile(r"export KONDADO_BASE_URL=(\S+) KONDADO_KEY=(\S+) KONDADO_TOKEN=(\S+)")


def serving(out: io.StringIO, timeout: float = 5.0) -> str:
    """What `serve` printed once it says it serves (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    while "Serving until Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    return out.getvalue()


def test_serve_prints_how_to_connect_and_answers() -> None:
    args = build_parser().parse_args(["sim", "--demo", "--no-rate-limit"])
    out = io.StringIO()
    stop = threading.Event()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(serve(args, stop=stop, out=out)))
    worker.start()
    try:
        text = serving(out)
        match = EXPORT.search(text)
        assert match, text
        base_url, key, token = match.groups()
        assert "2040" in text and "Shopify orders → BigQuery" in text
        assert "rate limits off" in text
        assert "speed 30x" in text
        answer = httpx.get(
            f"{base_url}/pipelines/2040/status", params={"key": key, "token": token}
        ).json()
        assert "2040" in answer
    finally:
        stop.set()
        worker.join(5)
    assert result == [0]


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_ctrl_c_exits_cleanly(sigint: str) -> None:
    """`default`: started from an interactive shell. `ignored`: a script's background job
    (`kondado-tui sim &`), which the shell starts with SIGINT ignored. Each sets SIGINT in
    the child itself, rather than inherit it from however pytest was started (CI run as a
    background job ignores it: that is how this test failed in CI, every time)."""
    disposition = signal.SIG_DFL if sigint == "default" else signal.SIG_IGN
    process = subprocess.Popen(
        [sys.executable, "-m", "kondado_tui", "sim", "--pipelines", "3", "--seed", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, disposition),
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Serving"):
                break
        text = "".join(lines)
        assert "rate limits 1/s and 20/min" in text
        match = EXPORT.search(text)
        assert match, text
        base_url, key, token = match.groups()
        response = httpx.post(f"{base_url}/pipelines/1/run", params={"key": key, "token": token})
        assert response.json()["error"] == "Pipeline not found"
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "Traceback" not in err and err == ""
    assert "Stopped." in rest


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["sim", "--port", "70000"], "--port 70000"),
        (["sim", "--pipelines", "0"], "--pipelines 0"),
        (["sim", "--speed", "0"], "--speed 0"),
        (["sim", "--speed", "nan"], "--speed nan"),
        (["sim", "--speed", "inf"], "--speed inf"),
        (["sim", "--rps", "0"], "--rps 0"),
        (["sim", "--rpm", "-3"], "--rpm -3"),
    ],
)
def test_bad_options_name_the_problem(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err
    assert "Traceback" not in err


def test_a_busy_port_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sim", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "another --port" in err


def test_several_keys_an_outside_consumer_and_the_request_log() -> None:
    args = build_parser().parse_args(
        ["sim", "--keys", "2", "--outside-rpm", "240", "--outside-on", "ip", "--log"]
    )
    out = io.StringIO()
    stop = threading.Event()
    worker = threading.Thread(target=lambda: serve(args, stop=stop, out=out))
    worker.start()
    try:
        text = serving(out)
        deadline = time.monotonic() + 5
        exports = EXPORT.findall(text)
        assert len(exports) == 2 and exports[0][1] != exports[1][1]
        assert "240 requests a minute by another machine behind this address" in text
        base_url, key, token = exports[1]
        answer = httpx.get(f"{base_url}/pipelines/1/status", params={"key": key, "token": token})
        assert answer.status_code == 200
        while "outside" not in out.getvalue().split("Serving until Ctrl-C")[1]:
            assert time.monotonic() < deadline + 5
            time.sleep(0.05)
        log = out.getvalue().split("Serving until Ctrl-C")[1]
        assert re.search(r"\d\d:\d\d:\d\d\.\d{3}\s+key 2\s+GET  /pipelines/1/status", log), log
        assert re.search(r"outside  other key\s+GET  \(outside\)", log), log
        assert token not in log
    finally:
        stop.set()
        worker.join(5)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--keys", "0"], "--keys 0"),
        (["--keys", "51"], "--keys 51"),
        (["--outside-rpm", "-1"], "--outside-rpm -1"),
        (["--outside-rpm", "1000"], "--outside-rpm 1000"),
    ],
)
def test_bad_sim_options_are_named(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", *argv]) != 0
    assert words in capsys.readouterr().err
