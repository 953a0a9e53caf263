"""Failures the user can be told about. Every message here is safe to show.

No httpx here: the UI catches these without knowing how requests are made.
"""

from __future__ import annotations

from enum import Enum

from kondado_tui.core.guards.redact import redact


class FailureKind(Enum):
    RATE_LIMITED = "rate limited"
    REJECTED = "rejected"  # success: false (credentials, plan, unknown pipeline, ...)
    UNREACHABLE = "unreachable"  # timeout, refused, reset, HTTP 5xx
    BAD_ANSWER = "bad answer"  # not JSON, HTML, unexpected shape


class Outcome(Enum):
    """What a failed request that changes something (a run, a duplicate) did."""

    NOT_DONE = "not done"  # refused before acting, or never sent: nothing happened
    UNKNOWN = "unknown"  # it reached the API, and the answer cannot tell what it did


class KondadoError(Exception):
    """Base of every error this package raises on purpose. `str()` is always redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(KondadoError):
    """A mistake in the configuration: the message names the file, the key and the fix."""


class ValidationError(KondadoError):
    """A request body that must not be sent; `problems` maps a field to what is wrong."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        text = "; ".join(f"{k}: {v}" for k, v in problems.items())
        super().__init__(f"invalid request: {text}")


class ApiError(KondadoError):
    kind: FailureKind = FailureKind.BAD_ANSWER
    # A refusal (rate limit, success: false, HTTP 4xx) is known not to have acted.
    outcome: Outcome = Outcome.NOT_DONE

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class RateLimited(ApiError):
    kind = FailureKind.RATE_LIMITED

    def __init__(self, message: str, retry_after: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Rejected(ApiError):
    """The API answered `success: false` (or an HTTP 4xx with an error body)."""

    kind = FailureKind.REJECTED

    def __init__(
        self, message: str, *, error: str = "", http_status: int = 200, auth: bool = False
    ) -> None:
        super().__init__(message)
        self.error = redact(error)
        self.http_status = http_status
        self.auth = auth  # looks like a wrong or deactivated key/token


class Unreachable(ApiError):
    kind = FailureKind.UNREACHABLE

    def __init__(self, message: str, *, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        # the request may have reached the API (it timed out or broke after sending):
        # a run or a duplicate may have happened all the same
        self.maybe_delivered = maybe_delivered
        self.outcome = Outcome.UNKNOWN if maybe_delivered else Outcome.NOT_DONE


class BadAnswer(ApiError):
    kind = FailureKind.BAD_ANSWER

    def __init__(
        self,
        message: str,
        *,
        excerpt: str = "",
        http_status: int = 200,
        outcome: Outcome = Outcome.UNKNOWN,
    ) -> None:
        super().__init__(message)
        self.excerpt = redact(excerpt)
        self.http_status = http_status
        # an answer came but cannot be read: whatever was asked may have been done
        self.outcome = outcome
