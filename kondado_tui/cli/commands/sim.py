"""`kondado-tui sim`: serve the simulated Kondado API until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

from kondado_tui.core.clock import SYSTEM_CLOCK
from kondado_tui.core.errors import ConfigError
from kondado_tui.core.sim import DEMO_SPEED, RequestRecord, SimServer, SimWorld
from kondado_tui.core.sim.server import MAX_KEYS
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
    parser.add_argument(
        "--keys",
        type=int,
        default=1,
        metavar="N",
        help="key/token pairs the server accepts, all on the same pipelines and the same "
        "rate limiter (default: 1)",
    )
    parser.add_argument(
        "--outside-rpm",
        type=float,
        default=0.0,
        metavar="N",
        help="play someone else spending N requests a minute of the budget (default: none)",
    )
    parser.add_argument(
        "--outside-on",
        choices=("key", "ip"),
        default="key",
        help="key: another tool on the first key, from another machine; ip: another "
        "machine behind this one's address, with a key of its own (default: key)",
    )
    parser.add_argument(
        "--log",
        action="store_true",
        help="print a line for every request (and every outside one) as it arrives",
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
    if not 1 <= args.keys <= MAX_KEYS:
        raise ConfigError(f"--keys {args.keys}: use a number between 1 and {MAX_KEYS}")
    if not 0 <= args.outside_rpm <= 600:
        raise ConfigError(
            f"--outside-rpm {args.outside_rpm:g}: use a number between 0 (nobody) and 600"
        )


def build_server(args: argparse.Namespace) -> SimServer:
    _check(args)
    world = SimWorld(
        pipelines=args.pipelines,
        seed=args.seed,
        clock=SYSTEM_CLOCK,
        speed=args.speed,
        demo=args.demo,
    )
    server = SimServer(
        world,
        rps=args.rps,
        rpm=args.rpm,
        port=args.port,
        rate_limit=not args.no_rate_limit,
        keys=args.keys,
    )
    if args.outside_rpm > 0:
        server.add_outside(args.outside_rpm, on=args.outside_on, seed=args.seed)
    return server


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
    if args.outside_rpm > 0:
        who = (
            "another tool on key 1, from another machine"
            if args.outside_on == "key"
            else "another machine behind this address, with its own key"
        )
        print(f"  outside: {args.outside_rpm:g} requests a minute by {who}", file=out)
    for n, account in enumerate(server.accounts, 1):
        label = "key:  " if len(server.accounts) == 1 else f"key {n}:"
        print(f"  {label} {account.key}", file=out)
        print(
            f"  {'token:' if len(server.accounts) == 1 else '  token:'} {account.token}   "
            "(a throwaway token for this simulator only)",
            file=out,
        )
    print("Point kondado-tui at it:", file=out)
    for account in server.accounts:
        print(
            f"  export KONDADO_BASE_URL={shlex.quote(server.base_url)} "
            f"KONDADO_KEY={shlex.quote(account.key)} KONDADO_TOKEN={shlex.quote(account.token)}",
            file=out,
        )
    print("Pipelines:", file=out)
    for pid in world.pipeline_ids:
        spec = world.spec(pid)
        print(f"  {pid:>6}  {spec.group:<11} {spec.name}", file=out)
    print("Serving until Ctrl-C.", file=out, flush=True)


class RequestPrinter:
    """`--log`: one line per request, as it arrives (called on the server's threads)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, record: RequestRecord) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.time))
        millis = int((record.time % 1) * 1000)
        who = "outside" if record.outside else "       "
        key = f"key {record.account}" if record.account else "other key"
        if record.rate_limited:
            outcome = "RATE_LIMIT_EXCEEDED"
        elif record.fault is not None:
            outcome = f"fault {record.fault.value}"
        else:
            outcome = record.outcome.value
        line = f"{stamp}.{millis:03d}  {who}  {key:<9}  {record.method:<4} {record.path}  {outcome}"
        with self._lock:
            print(line, file=self._out, flush=True)


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
    if args.log:
        server.on_record = RequestPrinter(out)
    with _ctrl_c_stops_it():  # until stopped: a second Ctrl-C interrupts a stop that hangs
        try:
            describe(server, args, out)
            while not stop.wait(0.5):
                server.catch_up()  # the outside consumer's requests show as they happen
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
