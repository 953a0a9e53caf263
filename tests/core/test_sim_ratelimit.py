"""The simulator's rate limiter: per key and per IP, by arrival time, with a lock-out."""

from __future__ import annotations

from kondado_tui.core.clock import ManualClock
from kondado_tui.core.sim.ratelimit import RateLimiter, RateLimits


def test_one_key_from_two_machines_shares_the_key_budget() -> None:
    clock = ManualClock()
    limiter = RateLimiter(RateLimits(rps=1, rpm=20), clock)
    assert limiter.admit("10.0.0.1", "KEY")
    assert not limiter.admit("10.0.0.2", "KEY")  # other IP, same key, same second
    assert limiter.locked_until("10.0.0.2", "KEY") == clock.now() + 60
    assert limiter.locked_until("10.0.0.1") is None  # the first machine's IP is not locked
    clock.advance(1.0)
    assert limiter.admit("10.0.0.1", "OTHER")
    assert not limiter.admit("10.0.0.3", "KEY")


def test_two_keys_from_one_machine_share_the_ip_budget() -> None:
    clock = ManualClock()
    limiter = RateLimiter(RateLimits(rps=1, rpm=20), clock)
    assert limiter.admit("10.0.0.1", "A")
    assert not limiter.admit("10.0.0.1", "B")
    assert not limiter.admit("10.0.0.9", "B")  # B was locked out with that IP


def test_refused_requests_do_not_count() -> None:
    clock = ManualClock()
    limiter = RateLimiter(RateLimits(rps=None, rpm=3, lockout=5.0), clock)
    for _ in range(3):
        assert limiter.admit("ip", "k")
    for _ in range(10):
        assert not limiter.admit("ip", "k")
    clock.advance(5.0)
    assert not limiter.admit("ip", "k")  # the three are still within the minute
    clock.advance(55.0)  # a minute after the three: the window is empty again
    assert all(limiter.admit("ip", "k") for _ in range(3))


def test_the_minute_window_slides() -> None:
    clock = ManualClock()
    limiter = RateLimiter(RateLimits(rps=None, rpm=2, lockout=1.0), clock)
    assert limiter.admit("ip", None)
    clock.advance(30)
    assert limiter.admit("ip", None)
    clock.advance(30)  # the first arrival is now exactly a minute old
    assert limiter.admit("ip", None)


def test_disabled() -> None:
    limiter = RateLimiter(RateLimits(rps=None, rpm=None), ManualClock())
    assert all(limiter.admit("ip", "k") for _ in range(1000))
