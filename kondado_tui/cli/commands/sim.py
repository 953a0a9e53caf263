"""`kondado-tui sim`: serve the simulated Kondado API until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.sim import DEMO_SPEED, SimServer, SimWorld
from kondado_tui.core.sim.world import MAX_SPEED


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="serve a simulated Kondado API on this machine (for trying things out)",
        description=(
            "Serve a simulated Kondado API over HTTP on 127.0.0.1: pipelines that run on "
            "schedules, fail, get blocked, with the documented rate limits. Prints the base "
            "URL, key and token to point kondado-tui at it. Stop with Ctrl-C."
        ),
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument(
        "--pipelines",
        type=int,
        default=15,
        metavar="N",
        help="how many pipelines the account has (default: 15)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        metavar="X",
        help="time scale: 60 = an hour of pipeline life per minute "
        f"(default: 1, or {DEMO_SPEED:g} with --demo)",
    )
    parser.add_argument(
        "--rps",
        type=int,
        default=1,
        metavar="N",
        help="requests allowed per second (default: 1, as documented)",
    )
    parser.add_argument(
        "--rpm",
        type=int,
        default=20,
        metavar="N",
        help="requests allowed per minute (default: 20, as documented)",
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="do not enforce any rate limit"
    )
    parser.add_argument(
        "--demo", action="store_true", help="the demo account (every status, fast changes) instead"
    )
    parser.set_defaults(handler=serve)


def _check(args: argparse.Namespace) -> None:
    if args.speed is None:
        args.speed = DEMO_SPEED if args.demo else 1.0
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: use a port between 1 and 65535 (0 = any)")
    if not 1 <= args.pipelines <= 10_000:
        raise ConfigError(f"--pipelines {args.pipelines}: use a number between 1 and 10000")
    if not 0 < args.speed <= MAX_SPEED:
        raise ConfigError(
            f"--speed {args.speed}: use a number above 0 and at most {MAX_SPEED:g} "
            "(1 = real time, 60 = an hour a minute)"
        )
    for flag, value in (("--rps", args.rps), ("--rpm", args.rpm)):
        if value < 1:
            raise ConfigError(f"{flag} {value}: use at least 1, or --no-rate-limit")


def build_server(args: argparse.Namespace) -> SimServer:
    _check(args)
    world = SimWorld(
        pipelines=args.pipelines,
        seed=args.seed,
        clock=SYSTEM_CLOCK,
        speed=args.speed,
        demo=args.demo,
    )
    return SimServer(
        world, rps=args.rps, rpm=args.rpm, port=args.port, rate_limit=not args.no_rate_limit
    )


def describe(server: SimServer, args: argparse.Namespace, out: TextIO) -> None:
    limits = server.limiter.limits
    rate = (
        "rate limits off"
        if not limits.enabled
        else f"rate limits {limits.rps}/s and {limits.rpm}/min per key and IP, "
        f"{limits.lockout:g} s lock-out"
    )
    world = server.world
    kind = "demo account" if world.demo else f"seed {world.seed}"
    print(
        f"Simulated Kondado API on {server.base_url} ({kind}, speed {world.speed:g}x, {rate})",
        file=out,
    )
    print(f"  key:   {server.key}", file=out)
    print(f"  token: {server.token}   (a throwaway token for this simulator only)", file=out)
    print("Point kondado-tui at it:", file=out)
    print(
        f"  export KONDADO_BASE_URL={shlex.quote(server.base_url)} "
        f"KONDADO_KEY={shlex.quote(server.key)} KONDADO_TOKEN={shlex.quote(server.token)}",
        file=out,
    )
    print("Pipelines:", file=out)
    for pid in world.pipeline_ids:
        spec = world.spec(pid)
        print(f"  {pid:>6}  {spec.group:<11} {spec.name}", file=out)
    print("Serving until Ctrl-C.", file=out, flush=True)


def serve(
    args: argparse.Namespace, *, stop: threading.Event | None = None, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    server = build_server(args)
    try:
        server.start()
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror or exc}); "
            "choose another --port or leave it out for a free one"
        ) from None
    stop = stop or threading.Event()
    with _ctrl_c_stops_it():  # until stopped: a second Ctrl-C interrupts a stop that hangs
        try:
            describe(server, args, out)
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            print("\nStopped.", file=out)
        finally:
            server.stop()
    return 0


@contextlib.contextmanager
def _ctrl_c_stops_it() -> Iterator[None]:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt in here, however it was set when we started.

    A shell starts the background jobs of a script (`kondado-tui sim &`) with SIGINT
    ignored, and Python then never installs its handler: Ctrl-C and `kill -INT` did
    nothing and the simulator served on for ever, an orphan of the interrupted script
    holding its port (a test suite run as a background job failed on it every time).
    Ctrl-C is the one way to stop it that we print, so it must always work.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # serve() in a thread (tests): only the main thread may set handlers
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:  # None: set outside Python, nothing to put back
            signal.signal(signal.SIGINT, previous)
