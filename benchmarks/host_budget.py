"""N logins on one host against the simulator at the documented limits: requests,
breaches, and each login's share of the answers.

    python benchmarks/host_budget.py [--logins 3] [--seconds 150] [--uids]
                                     [--no-broker] [--outside-rpm N --outside-on key|ip]
                                     [--rps 1]

Each login has its own HOME and the default config (the same key, 10 pipelines) and runs
the real session and poller headless (`_headless_login.py`). `--uids` runs each as a user
of its own (needs root). `--no-broker` sets KONDADO_TUI_HOST_BUDGET=off: every login on
its own per-login ledger, as before the host budget (the issue's 9 of 14 refused).
`--outside-rpm` adds someone else spending the budget (another tool on the key, or a
NAT neighbour on the IP).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

from _logins import AS_ROOT, finish, make_logins, ready, start

from kondado_tui.core.sim import SimServer, SimWorld


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--uids", action="store_true", help="a user of its own each (root)")
    parser.add_argument("--no-broker", action="store_true", help="as before: no host budget")
    parser.add_argument("--outside-rpm", type=float, default=0.0)
    parser.add_argument("--outside-on", choices=("key", "ip"), default="key")
    parser.add_argument("--rps", type=int, default=1, help="the simulator's per-second limit")
    args = parser.parse_args()
    if args.uids and not AS_ROOT:
        print("--uids needs root", file=sys.stderr)
        return 2

    world = SimWorld(pipelines=10, seed=5, speed=10.0)
    server = SimServer(world, rps=args.rps, rpm=20, lockout=60.0).start()
    if args.outside_rpm:
        server.add_outside(args.outside_rpm, on=args.outside_on)
    env = {"KONDADO_TUI_HOST_BUDGET": "off" if args.no_broker else f"bench/{time.time()}"}
    team = make_logins(
        server.base_url,
        server.key,
        server.token,
        world.pipeline_ids,
        args.logins,
        real_uids=args.uids,
    )
    started = time.time()
    try:
        for login in team:
            start(login, args.seconds, env)
            ready(login)
        results = [finish(login, args.seconds + 120) for login in team]
    finally:
        for login in team:
            login.remove()
        server.stop()

    log = server.log
    ours = [r for r in log if not r.outside]
    refused = [r for r in ours if r.rate_limited]
    outside = [r for r in log if r.outside]
    print(
        f"{args.logins} logins{' (a uid each)' if args.uids else ''}, {args.seconds:g} s, "
        f"{'no host budget' if args.no_broker else 'host budget'}"
        + (f", outside {args.outside_rpm:g}/min on the {args.outside_on}" if outside else "")
    )
    print(f"requests from this host: {len(ours)}, refused RATE_LIMIT_EXCEEDED: {len(refused)}")
    if outside:
        print(f"outside requests: {len(outside)} ({sum(r.rate_limited for r in outside)} refused)")
    answers = [len(r["answers"]) for r in results]
    total = sum(answers) or 1
    print("login  uid    answers  share   mode   most processes/logins   note")
    for n, (login, result) in enumerate(zip(team, results, strict=True)):
        shares = result["shares"]  # the most it saw at once (at the end, others leave first)
        most = (max(s["processes"] for s in shares), max(s["logins"] for s in shares))
        seen = f"{most[0]}/{most[1]}" if shares else "-"
        print(
            f"{n:>5}  {result['uid']:<5}  {len(result['answers']):>7}  "
            f"{len(result['answers']) / total:>5.0%}   {result['mode']:<5}  {seen:>21}   "
            f"{result['note'][:60]}"
        )
        del login
    limited = Counter(int(r.time - started) // 30 * 30 for r in refused)
    if limited:
        print("refused per 30 s:", dict(sorted(limited.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
