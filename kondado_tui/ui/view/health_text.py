"""Plain words for the API's health: the banner and the status line.

Pure functions (Rich `Text` only), so every state is tested without an app.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from kondado_tui.core.durations import format_age
from kondado_tui.core.events import Connection, Health, Role
from kondado_tui.core.guards.sanitize import clean
from kondado_tui.core.models import KNOWN_STATUSES, PENDING_KIND, Severity
from kondado_tui.ui.view.board import WARNING_GLYPH
from kondado_tui.ui.view.palette import Palette

SEVERITY_GLYPH: dict[Severity, str] = {
    Severity.BLOCKED: KNOWN_STATUSES["too_many_consecutive_failed_builds__blocked"].glyph,
    Severity.ERROR: KNOWN_STATUSES["error_building_tables"].glyph,
    Severity.WARNING: WARNING_GLYPH,
    Severity.UNKNOWN: "?",
    Severity.BUSY: KNOWN_STATUSES["running"].glyph,
    Severity.OK: KNOWN_STATUSES["active"].glyph,
    Severity.DISABLED: KNOWN_STATUSES["not_active"].glyph,
    Severity.PENDING: PENDING_KIND.glyph,
}


STEP_ABOVE = 10  # seconds: shorter waits count down one by one
STEP = 10


def wait_words(seconds: float) -> str:
    """A wait, rounded up so it never promises sooner than the truth: whole seconds up to
    10 s, longer waits in 10-second steps ("20s" for 11-20 s), so the line showing a
    long wait changes every 10 s instead of repainting every second."""
    whole = max(0, int(seconds + 0.999))
    if whole > STEP_ABOVE:
        whole = -(-whole // STEP) * STEP
    return f"{whole}s"


def next_poll_words(seconds: float) -> str:
    """The status line's "next in": "<10s" for any wait under 10 s. At the usual pace
    (a call every ~3 s) a second-by-second countdown repainted the line every second
    for nothing a user acts on; longer waits count as `wait_words`."""
    if seconds < STEP_ABOVE:
        return f"<{STEP_ABOVE}s"
    return wait_words(seconds)


def countdown(health: Health, now: float) -> str:
    if health.retry_at is None:
        return ""
    return wait_words(health.retry_at - now)


def _last_answer(health: Health, now: float) -> str:
    if health.last_success_at is None:
        if health.from_history:
            rows = "row shows its" if health.from_history == 1 else "rows show their"
            return (
                f"{health.from_history} {rows} last known status from history, "
                "none confirmed since start-up."
            )
        return "No status has been received yet."
    return (
        f"Statuses shown are from the last answer, {format_age(now - health.last_success_at)} ago."
    )


def banner_text(health: Health, now: float, config_path: str = "") -> Text | None:
    """What is wrong, in plain words; None when nothing is. A dashboard that lost its
    collector says that first (what it shows is what the collector last sent); one that
    polls alone because it cannot trust the account's collector says so unless the API
    itself is in trouble (that matters more; the status line still says "polling alone")."""
    link = health.collector
    if link is not None and link.role is Role.LOST:
        return collector_banner(health, now)
    return _api_banner(health, now, config_path) or collector_banner(health, now)


def _api_banner(health: Health, now: float, config_path: str) -> Text | None:
    detail = clean(health.message, keep_newlines=False).strip()
    wait = countdown(health, now)
    retry = f" Trying again in {wait}." if wait else ""
    conn = health.connection
    stranger = health.lowered_to is not None  # a lock-out nobody here explains
    if conn is Connection.UNREACHABLE:
        head = "Kondado API unreachable"
        body = f"{detail}.{retry}" if detail else f"No answer.{retry}"
    elif conn is Connection.RATE_LIMITED and "HTTP 429" in detail:
        head = "Rate limited by Kondado (HTTP 429)"
        asked = "at least as long as the API asked" if stranger else "as the API asked"
        body = (
            f"Next try in {wait or 'a while'}, {asked} (Retry-After, believed up to "
            "10 minutes); nothing is sent before. Another program using the same key or IP "
            "counts too."
        )
    elif conn is Connection.RATE_LIMITED:
        head = "Rate limited by Kondado"
        body = (
            f"Nothing will be sent for {wait or 'a while'}: the API locks the key out for 60 s "
            "after too many requests (another program using the same key or IP counts too)."
        )
    elif conn is Connection.REJECTED:
        head = "Kondado rejected the key or token"
        where = f" in {config_path}" if config_path else ""
        advice = f"Check api.key and api.token{where}."
        if "check" in detail.lower():
            advice = ""  # the poller's words already say what to check
        body = " ".join(
            part for part in (f"{detail}." if detail else "", advice, retry.strip()) if part
        )
    elif conn is Connection.BAD_ANSWER:
        head = "Kondado answered something unreadable"
        body = f"{detail}.{retry}" if detail else f"Not the JSON the API documents.{retry}"
    else:
        return None
    if conn is Connection.RATE_LIMITED and stranger:
        body += (
            " Nothing on this host went over the limit: someone else uses the budget too, so "
            "this host waits a little longer and asks less often for a while."
        )
    text = Text()
    text.append(f"{head}: ", style="bold")
    text.append(clean(body.replace("..", "."), keep_newlines=False))  # a path is in it
    text.append(" " + _last_answer(health, now))
    return text


def collector_banner(health: Health, now: float) -> Text | None:
    """The banner while this dashboard's collector is gone (until it attached to the
    next one or took over), or while it polls alone because the account's name is held
    by a process it cannot trust."""
    link = health.collector
    if link is None or link.role not in (Role.LOST, Role.ALONE):
        return None
    why = clean(link.why, keep_newlines=False).strip()
    text = Text()
    if link.role is Role.LOST:
        since = f" {format_age(max(0.0, now - link.since))} ago" if link.since is not None else ""
        text.append("Lost this account's collector: ", style="bold")
        text.append(
            f"{why or 'it went away'}{since}. Taking over or attaching to the next one; "
            "rows show what it last sent, with their own ages."
        )
        return text
    text.append("Polling on its own: ", style="bold")
    text.append(f"{why or 'no collector can be shared'}. Trying again now and then.")
    return text


def collector_tag(text: Text, health: Health, palette: Palette) -> None:
    """The status line's word on where statuses come from ("" for a dashboard alone
    with nobody to serve)."""
    link = health.collector
    if link is None:
        return
    if link.role is Role.SERVING and link.viewers:
        viewers = "1 viewer" if link.viewers == 1 else f"{link.viewers} viewers"
        text.append(f"  ⇄ serving {viewers}", style=palette.muted)
    elif link.role is Role.VIEWING:
        text.append(f"  ⇄ viewer of pid {link.pid}", style=palette.muted)
    elif link.role is Role.LOST:
        text.append("  ⇄ collector lost", style=palette.error)
    elif link.role is Role.ALONE:
        text.append("  polling alone", style=palette.warning)
        if link.viewers:  # standing in for a collector that does not answer
            viewers = "1 viewer" if link.viewers == 1 else f"{link.viewers} viewers"
            text.append(f" ⇄ serving {viewers}", style=palette.muted)


def _viewing(health: Health) -> bool:
    link = health.collector
    return link is not None and link.role in (Role.VIEWING, Role.LOST)


def collector_words(health: Health) -> str:
    """Where this dashboard's statuses come from, in sentences: for the help screen."""
    link = health.collector
    if link is None:
        return ""
    if link.role is Role.SERVING:
        others = (
            "no other dashboard of this account is attached"
            if not link.viewers
            else "1 other dashboard of this account (a viewer) shows its answers and asks "
            "Kondado nothing itself"
            if link.viewers == 1
            else f"{link.viewers} other dashboards of this account (viewers) show its answers "
            "and ask Kondado nothing themselves"
        )
        return f" This dashboard polls for its account on this host (its collector): {others}."
    if link.role is Role.VIEWING:
        who = f"pid {link.pid}" + (f", login {clean(link.login)}" if link.login else "")
        return (
            f" This dashboard is a viewer: this account's collector ({who}) polls for it and "
            "for every other dashboard of the account, so it asks Kondado nothing itself; "
            "the budget above is the collector's. If the collector ends, a viewer takes over."
        )
    why = clean(link.why, keep_newlines=False).strip()
    if link.role is Role.LOST:
        return f" This dashboard lost its collector ({why}) and is taking over or reattaching."
    if link.viewers:
        others = f"{link.viewers} other dashboard{'s' if link.viewers != 1 else ''}"
        return (
            f" This dashboard polls on its own: {why}. Meanwhile it polls for {others} of "
            "this account too, so they do not each poll alone."
        )
    return f" This dashboard polls on its own: {why}."


def connection_word(health: Health) -> str:
    if health.connection is Connection.STARTING and health.pipelines == 0:
        return "nothing to ask"  # not "connecting" forever: there is nothing to poll
    return {
        Connection.STARTING: "connecting",
        Connection.OK: "connected",
        Connection.UNREACHABLE: "unreachable",
        Connection.RATE_LIMITED: "rate limited",
        Connection.REJECTED: "rejected",
        Connection.BAD_ANSWER: "bad answers",
    }[health.connection]


def counts_text(counts: dict[Severity, int], palette: Palette, *, width: int) -> Text:
    """How many pipelines per severity, worst first, in the wordiest form that fits in
    `width` cells: every severity named, then trouble only, then glyphs and numbers."""
    shown = [severity for severity in sorted(counts, key=lambda s: s.rank) if counts[severity]]
    text = Text(no_wrap=True, overflow="ellipsis")
    for words, gap, space in (("all", "  ", " "), ("trouble", "  ", " "), ("none", " ", "")):
        text = Text(no_wrap=True, overflow="ellipsis")
        for severity in shown:
            worded = words == "all" or (
                words == "trouble" and (severity.alarms or severity is Severity.WARNING)
            )
            label = f" {severity.label}" if worded else ""
            text.append(
                f"{SEVERITY_GLYPH[severity]}{space}{counts[severity]}{label}",
                style=palette.severity[severity],
            )
            text.append(gap)
        text.rstrip()
        if text.cell_len <= width:
            break
    return text


def health_line(
    health: Health,
    now: float,
    palette: Palette,
    *,
    read_only: bool,
    filter_text: str,
    shown: int,
    total: int,
    first_pass: tuple[int, int] | None = None,
    alerts_failing: bool = False,
) -> Text:
    """Filter, budget, next poll, connection and the read-only/ledger/alerts markers.

    `first_pass` (asked, total): rows still wait for their first answer of this session;
    shown instead of the next poll so a quiet start does not look stuck.
    `alerts_failing`: the alert command's last run failed (until one succeeds)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if filter_text:
        text.append(
            f"filter “{clean(filter_text, keep_newlines=False)}” {shown}/{total}  ",
            style=palette.warning,
        )
    budget_gauge(text, health, palette)
    if health.paused:
        text.append(" PAUSED ", style=palette.warning + Style(reverse=True))
        text.append("  ")
    elif health.connection is Connection.RATE_LIMITED:
        text.append(f"silent {countdown(health, now)}  ", style=palette.warning)
    elif (
        first_pass is not None
        and health.connection in (Connection.OK, Connection.STARTING)
        and not _viewing(health)  # a viewer asks nothing: its first pass is the collector's
    ):
        asked, of = first_pass
        text.append(f"asking {asked}/{of}…  ", style=palette.severity[Severity.BUSY])
    elif health.next_poll_at is not None:
        text.append(f"next in {next_poll_words(health.next_poll_at - now)}  ")
    ok = health.connection is Connection.OK
    starting = health.connection is Connection.STARTING
    text.append(
        f"{'●' if ok else '○'} {connection_word(health)}",
        style=palette.severity[Severity.OK] if ok else palette.muted if starting else palette.error,
    )
    collector_tag(text, health, palette)
    if read_only:
        text.append("  READ-ONLY", style=palette.warning)
    share = health.share
    if share is not None and not share.host_wide:
        text.append("  host budget unavailable", style=palette.warning)
    elif not health.shared_ledger:
        text.append("  ledger: this process only", style=palette.warning)
    if health.history_short:
        text.append(f"  {WARNING_GLYPH} {health.history_short}", style=palette.warning)
    if alerts_failing:
        text.append("  ✖ alert command failing", style=palette.error)
    return text


def budget_gauge(text: Text, health: Health, palette: Palette) -> None:
    """ "12/18 req/min", used of allowed; "(lowered from 18)" after lock-outs nobody on
    this host explains; ", shared by 3" when other kondado-tui processes share it."""
    limit = health.lowered_to or health.budget_per_minute
    text.append(f"{health.used_last_minute}/{limit} req/min")
    if health.lowered_to is not None:
        text.append(f" (lowered from {health.budget_per_minute})", style=palette.warning)
    share = health.share
    if share is not None and share.with_others:
        text.append(f", shared by {share.processes}")
    text.append("  ")


def budget_words(health: Health) -> str:
    """The rate budget right now, in sentences: for the help screen (`?`)."""
    share = health.share
    used = f"{health.used_last_minute} requests left this host in the last minute"
    limit = health.lowered_to or health.budget_per_minute
    if share is None:
        where = (
            "shared by the kondado-tui processes using the same ledger"
            if health.shared_ledger
            else "counted for this process only"
        )
        words = f"The rate budget ({limit} requests a minute) is {where}; {used}."
    elif not share.host_wide:
        mine = f"{health.used_last_minute} requests in the last minute counted here"
        words = (
            f"{clean(health.ledger_note, keep_newlines=False).strip()}. Other kondado-tui "
            f"processes on this host cannot see this one's requests; {mine}."
        )
    elif not share.with_others:
        words = (
            f"The rate budget ({limit} requests a minute) is shared by every kondado-tui on "
            f"this host; none other runs right now; {used}."
        )
    else:
        logins = "1 login" if share.logins == 1 else f"{share.logins} logins"
        words = (
            f"The rate budget ({limit} requests a minute) is shared by every kondado-tui on "
            f"this host: {share.processes} processes of {logins} right now. This dashboard "
            f"gets about {_fraction(share.share)} of the automatic requests (a key press "
            f"goes first, from any login); {used}."
        )
    if share is not None and share.host_wide and share.serving:
        words += " This process serves the host's broker."
    if health.lowered_to is not None:
        words += (
            f" Lowered to {health.lowered_to} a minute from {health.budget_per_minute}: the "
            "API locked us out although this host's requests were within its limits, so "
            "someone else uses the budget too (another tool on the key, or another machine "
            "behind the same address). It climbs back slowly."
        )
    if health.max_age:
        words += f" Every pipeline is asked at least every {format_age(health.max_age)}."
    return words + collector_words(health)


def _fraction(share: float) -> str:
    for parts, word in ((1, "all"), (2, "half"), (3, "a third"), (4, "a quarter")):
        if abs(share - 1 / parts) < 0.01:
            return word
    return f"{share:.0%}"


def history_words(health: Health, now: float) -> str:
    """Why history is not being kept, and since when ("" while it is): for the detail and
    help screens (the status line shows `history_short`)."""
    if not health.history_problem:
        return ""
    text = clean(health.history_problem).strip()
    since = health.history_failing_since
    if since is not None:
        text += (
            f" Not saved for {format_age(max(0.0, now - since))}: runs and changes seen since "
            "then are missing from this history."
        )
    return text
