"""The banner and status line in plain words, for every connection state."""

from __future__ import annotations

import itertools

import pytest

from kondado_tui.core.events import BudgetShare, CollectorLink, Connection, Health, Role
from kondado_tui.core.models import Severity
from kondado_tui.ui.view.health_text import (
    banner_text,
    budget_words,
    counts_text,
    health_line,
    history_words,
    next_poll_words,
    wait_words,
)
from kondado_tui.ui.view.palette import PLAIN

NOW = 1_790_000_000.0


def banner(**kw: object) -> str:
    text = banner_text(Health(**kw), NOW, "/home/u/.config/kondado-tui/config.toml")  # type: ignore[arg-type]
    return "" if text is None else text.plain


def test_no_banner_when_fine_or_starting() -> None:
    assert banner(connection=Connection.OK) == ""
    assert banner(connection=Connection.STARTING) == ""


def test_each_problem_in_plain_words() -> None:
    down = banner(
        connection=Connection.UNREACHABLE,
        message="timed out after 10 s",
        retry_at=NOW + 12.2,
        last_success_at=NOW - 180,
    )
    assert down.startswith("Kondado API unreachable: timed out after 10 s.")
    assert "Trying again in 20s." in down and "3m ago" in down
    limited = banner(connection=Connection.RATE_LIMITED, retry_at=NOW + 47)
    assert "Nothing will be sent for 50s" in limited
    too_many = banner(
        connection=Connection.RATE_LIMITED,
        message="rate limited by the API (HTTP 429 Too Many Requests, asked to wait 47 s)",
        retry_at=NOW + 47,
    )
    assert too_many.startswith("Rate limited by Kondado (HTTP 429): Next try in 50s")
    assert "locks the key out for 60 s" not in too_many  # not the documented lock-out
    rejected = banner(connection=Connection.REJECTED, message="invalid key")
    assert "Check api.key and api.token in /home/u/.config/kondado-tui/config.toml" in rejected
    said = banner(
        connection=Connection.REJECTED,
        message="INVALID_TOKEN — check `key` and `token` in the configuration",
    )
    assert said.count("check") + said.count("Check") == 1
    garbage = banner(connection=Connection.BAD_ANSWER, message="\x1b[2JHTML page")
    assert "unreadable" in garbage and "\x1b" not in garbage
    assert "No status has been received yet." in garbage


def test_status_line_markers() -> None:
    health = Health(
        Connection.OK, paused=True, used_last_minute=14, budget_per_minute=18, shared_ledger=False
    )
    line = health_line(
        health, NOW, PLAIN, read_only=True, filter_text="ads", shown=2, total=9
    ).plain
    assert "14/18 req/min" in line and "PAUSED" in line and "READ-ONLY" in line
    assert "filter “ads” 2/9" in line and "ledger: this process only" in line
    health = Health(Connection.RATE_LIMITED, retry_at=NOW + 30, next_poll_at=NOW + 30)
    assert (
        "silent 30s"
        in health_line(health, NOW, PLAIN, read_only=False, filter_text="", shown=1, total=1).plain
    )
    health = Health(Connection.OK, next_poll_at=NOW + 25)
    assert (
        "next in 30s"
        in health_line(health, NOW, PLAIN, read_only=False, filter_text="", shown=1, total=1).plain
    )


def test_the_next_call_under_ten_seconds_does_not_count_down() -> None:
    """A countdown at the usual ~3 s pace repainted the status line every second."""
    lines = {
        health_line(
            Health(Connection.OK, next_poll_at=NOW + wait),
            NOW,
            PLAIN,
            read_only=False,
            filter_text="",
            shown=1,
            total=1,
        ).plain
        for wait in (0, 0.5, 2.5, 3.3, 9.9)
    }
    assert len(lines) == 1 and "next in <10s" in lines.pop()
    assert next_poll_words(10) == "10s" and next_poll_words(10.5) == "20s"


def test_counts_worst_first_in_the_wordiest_form_that_fits() -> None:
    counts = {Severity.OK: 5, Severity.BLOCKED: 1, Severity.WARNING: 2, Severity.BUSY: 0}
    full = "⛔ 1 blocked  ⚠ 2 warning  ● 5 ok"
    assert counts_text(counts, PLAIN, width=80).plain == full
    assert counts_text(counts, PLAIN, width=len(full) + 1).plain == full  # ⛔ takes 2 cells
    assert counts_text(counts, PLAIN, width=len(full)).plain == "⛔ 1 blocked  ⚠ 2 warning  ● 5"
    assert counts_text(counts, PLAIN, width=20).plain == "⛔1 ⚠2 ●5"
    assert counts_text(counts, PLAIN, width=3).plain == "⛔1 ⚠2 ●5"  # cut by the widget


def test_banner_does_not_deny_the_statuses_shown_from_history() -> None:
    down = banner(connection=Connection.UNREACHABLE, message="refused", from_history=3)
    assert "No status has been received" not in down
    assert "3 rows show their last known status from history" in down
    assert "1 row shows its" in banner(connection=Connection.UNREACHABLE, from_history=1)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (-3, "0s"),
        (0.2, "1s"),
        (2.5, "3s"),
        (9.5, "10s"),
        (10, "10s"),
        (10.2, "20s"),
        (13, "20s"),
        (20, "20s"),
        (47, "50s"),
        (60, "60s"),
        (61, "70s"),
    ],
)
def test_waits_count_seconds_up_to_ten_then_ten_second_steps_rounded_up(
    seconds: float,
    shown: str,
) -> None:
    assert wait_words(seconds) == shown


def test_a_long_wait_changes_the_status_line_once_per_ten_seconds() -> None:
    def line(now: float) -> str:
        health = Health(Connection.RATE_LIMITED, retry_at=NOW + 60, next_poll_at=NOW + 60)
        return health_line(
            health, now, PLAIN, read_only=False, filter_text="", shown=1, total=1
        ).plain

    texts = [line(NOW + t) for t in range(61)]
    changes = sum(a != b for a, b in itertools.pairwise(texts))
    assert changes == 5 + 10  # 60 -> 50 … 20 -> 10, then every second to 0
    assert "silent 60s" in texts[0] and "silent 60s" in texts[9]  # never sooner than true
    assert "silent 50s" in texts[10] and "silent 1s" in texts[59] and "silent 0s" in texts[60]


def test_history_not_saved_is_a_status_line_marker_and_a_sentence() -> None:
    health = Health(
        Connection.OK,
        history_short="history not saved",
        history_problem="History could not be saved (database or disk is full).",
        history_failing_since=NOW - 600,
    )
    line = health_line(health, NOW, PLAIN, read_only=False, filter_text="", shown=3, total=3).plain
    assert line.endswith("● connected  ⚠ history not saved")
    words = history_words(health, NOW)
    assert words.startswith("History could not be saved (database or disk is full).")
    assert "Not saved for 10m" in words
    fine = Health(Connection.OK)
    assert (
        "history"
        not in health_line(
            fine, NOW, PLAIN, read_only=False, filter_text="", shown=3, total=3
        ).plain
    )
    assert history_words(fine, NOW) == ""


def line(health: Health) -> str:
    return health_line(health, NOW, PLAIN, read_only=False, filter_text="", shown=1, total=1).plain


def test_the_budget_shared_on_the_host_says_by_how_many() -> None:
    alone = Health(Connection.OK, used_last_minute=5, share=BudgetShare(host_wide=True))
    assert line(alone).startswith("5/18 req/min  ")
    shared = BudgetShare(host_wide=True, processes=3, logins=2, share=1 / 3)
    health = Health(Connection.OK, used_last_minute=14, share=shared, max_age=240.0)
    assert line(health).startswith("14/18 req/min, shared by 3  ")
    words = budget_words(health)
    assert "3 processes of 2 logins right now" in words
    assert "about a third of the automatic requests" in words
    assert "14 requests left this host in the last minute" in words
    assert "at least every 4m" in words


def test_a_lowered_rate_shows_from_what() -> None:
    shared = BudgetShare(host_wide=True, processes=2, logins=1, share=0.5, serving=True)
    health = Health(Connection.OK, used_last_minute=6, lowered_to=9, share=shared)
    assert line(health).startswith("6/9 req/min (lowered from 18), shared by 2  ")
    words = budget_words(health)
    assert "Lowered to 9 a minute from 18" in words and "someone else" in words
    assert "This process serves the host's broker." in words


def test_without_a_usable_broker_it_says_so() -> None:
    note = "host budget unavailable (no answer from the broker): limiting this process to 6/min"
    health = Health(
        Connection.OK,
        used_last_minute=2,
        budget_per_minute=6,
        ledger_note=note,
        share=BudgetShare(host_wide=False, why_alone="no answer from the broker"),
    )
    text = line(health)
    assert text.startswith("2/6 req/min  ") and text.endswith("host budget unavailable")
    assert "ledger: this process only" not in text
    assert budget_words(health).startswith(note + ". Other kondado-tui processes")


def test_a_budget_that_knows_nothing_of_the_host_reads_as_before() -> None:
    health = Health(Connection.OK, used_last_minute=4, shared_ledger=True)
    assert line(health).startswith("4/18 req/min  ")
    assert "shared by the kondado-tui processes using the same ledger" in budget_words(health)


def test_a_lockout_nobody_here_caused_says_why_it_lasts_longer() -> None:
    ours = banner(connection=Connection.RATE_LIMITED, retry_at=NOW + 60)
    assert "someone else" not in ours
    theirs = banner(connection=Connection.RATE_LIMITED, retry_at=NOW + 87, lowered_to=8)
    assert "Nothing will be sent for 90s" in theirs
    assert "Nothing on this host went over the limit: someone else uses the budget" in theirs


def line_of(health: Health, first_pass: tuple[int, int] | None = None) -> str:
    return health_line(
        health, NOW, PLAIN, read_only=False, filter_text="", shown=1, total=1, first_pass=first_pass
    ).plain


def test_where_the_statuses_come_from_in_the_status_line() -> None:
    serving = Health(Connection.OK, collector=CollectorLink(Role.SERVING, viewers=2))
    assert "⇄ serving 2 viewers" in line_of(serving)
    alone_serving = Health(Connection.OK, collector=CollectorLink(Role.SERVING, viewers=0))
    assert "⇄" not in line_of(alone_serving)  # nobody to serve: nothing to say
    viewing = Health(Connection.OK, collector=CollectorLink(Role.VIEWING, viewers=3, pid=4242))
    line = line_of(viewing, first_pass=(1, 5))
    assert "⇄ viewer of pid 4242" in line and "asking" not in line  # it asks nothing
    lost = Health(Connection.OK, collector=CollectorLink(Role.LOST, pid=4242, since=NOW - 3))
    assert "⇄ collector lost" in line_of(lost)
    assert "polling alone" in line_of(Health(Connection.OK, collector=CollectorLink(Role.ALONE)))
    standing_in = CollectorLink(
        Role.ALONE, viewers=1, why="the collector (pid 4) stopped answering"
    )
    assert "polling alone ⇄ serving 1 viewer" in line_of(
        Health(Connection.OK, collector=standing_in)
    )
    assert "⇄" not in line_of(Health(Connection.OK))  # KONDADO_TUI_COLLECTOR=off


def test_the_banner_says_the_collector_was_lost_first() -> None:
    lost = CollectorLink(
        Role.LOST, pid=4242, why="the collector (pid 4242) went away", since=NOW - 4
    )
    said = banner(connection=Connection.UNREACHABLE, message="timed out", collector=lost)
    assert said.startswith("Lost this account's collector: the collector (pid 4242) went away 4s")
    assert "rows show what it last sent, with their own ages" in said
    assert banner(connection=Connection.OK, collector=CollectorLink(Role.VIEWING, pid=1)) == ""
    assert banner(connection=Connection.OK, collector=CollectorLink(Role.SERVING)) == ""


def test_polling_alone_is_said_unless_the_api_is_in_trouble() -> None:
    why = "the process holding this account's name (pid 7, eve) cannot prove it holds the token"
    alone = CollectorLink(Role.ALONE, why=why + "\x1b[2J[bold]")
    said = banner(connection=Connection.OK, collector=alone)
    assert said.startswith("Polling on its own: " + why) and "\x1b" not in said
    # the API's trouble matters more: it is not hidden behind the collector's news
    limited = banner(connection=Connection.RATE_LIMITED, retry_at=NOW + 47, collector=alone)
    assert limited.startswith("Rate limited by Kondado")


def test_help_says_who_polls() -> None:
    viewing = Health(
        Connection.OK, collector=CollectorLink(Role.VIEWING, viewers=2, pid=99, login="ana")
    )
    words = budget_words(viewing)
    assert "viewer" in words and "pid 99, login ana" in words and "asks Kondado nothing" in words
    serving = budget_words(Health(Connection.OK, collector=CollectorLink(Role.SERVING, viewers=1)))
    assert "1 other dashboard of this account (a viewer) shows its answers" in serving
