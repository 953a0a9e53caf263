"""Who may attach: a collector and its viewers prove they hold the same account.

An account is a base URL, a key and a token. Every secret here derives from an HMAC
keyed by the token (as `budget.scope` does), so nothing that crosses the socket, and
not the socket's name, reveals the key or the token, and a process that does not hold
the token can compute none of it:

* the **name** of the account's socket: `kondado-tui/collector/v1/<32 hex>`. Every name
  is listed in /proc/net/unix, so anyone can see that *some* account has a collector,
  but not whose key it is, nor link it to another login's account;
* the **proofs** of a mutual challenge-response: each side sends a fresh 256-bit nonce
  and answers with HMAC(secret, label, direction, version, both nonces); each side
  checks the other's with `hmac.compare_digest`. A proof cannot be replayed (the other
  side's nonce is fresh), reflected (the direction is in it) or moved to another
  protocol version;
* the **seal** on every line after the handshake: an HMAC of a per-connection key
  (derived from both nonces), the direction, a line counter and the line. A process
  that relays a handshake it cannot answer itself (a squatter between a viewer and a
  collector) cannot forge, alter, drop, replay or reorder a line without the other end
  noticing and closing the connection.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from kondado_tui.core.budget.scope import endpoint

PROTOCOL = 2
"""2: the collector beats (`messages.Beat`) when it has nothing else to say; a viewer of
version 1 would take a beat for garbage, so it is refused at the handshake instead."""
LABEL = b"kondado-tui/collector/v1"
DEFAULT_PREFIX = "kondado-tui/collector/v1"
NONCE_BYTES = 32
PROOF_HEX = 64  # hex digits of a proof (HMAC-SHA256, whole)
SEAL_HEX = 32  # hex digits of a line's seal (128 bits)
NAME_HEX = 32


class Direction(Enum):
    TO_VIEWER = b"collector->viewer"
    TO_COLLECTOR = b"viewer->collector"


@dataclass(frozen=True)
class Account:
    """What an account's secrets derive from (`repr` shows neither key nor token)."""

    secret: bytes = field(repr=False)
    id: str  # NAME_HEX hex digits: the socket name's last part

    def name(self, prefix: str = DEFAULT_PREFIX) -> str:
        return f"{prefix}/{self.id}"


def account(base_url: str, key: str, token: str) -> Account:
    """The account's secret: HMAC-SHA256 keyed by the token over the endpoint and key."""
    message = LABEL + b" secret\0" + endpoint(base_url).encode() + b"\0" + key.encode()
    secret = hmac.new(token.encode(), message, hashlib.sha256).digest()
    name = hmac.new(secret, LABEL + b" name", hashlib.sha256).hexdigest()[:NAME_HEX]
    return Account(secret, name)


def nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def is_hex(text: object, length: int) -> bool:
    return (
        isinstance(text, str) and len(text) == length and all(c in "0123456789abcdef" for c in text)
    )


def proof(secret: bytes, direction: Direction, viewer_nonce: str, collector_nonce: str) -> str:
    """What the side sending in `direction` answers to both nonces."""
    message = b"\0".join(
        (
            LABEL + b" proof",
            direction.value,
            str(PROTOCOL).encode(),
            viewer_nonce.encode(),
            collector_nonce.encode(),
        )
    )
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def proves(
    secret: bytes, direction: Direction, viewer_nonce: str, collector_nonce: str, given: str
) -> bool:
    expected = proof(secret, direction, viewer_nonce, collector_nonce)
    return hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))


def alert_mac(secret: bytes, argv: Sequence[str], on_recovery: bool) -> str:
    """The account's fingerprint of an alert command: equal for the same argv and
    `on_recovery` under the same account, and revealing neither (an argv may hold a
    webhook's secret URL)."""
    words = json.dumps([list(argv), on_recovery], ensure_ascii=True).encode()
    return hmac.new(secret, LABEL + b" alert command\0" + words, hashlib.sha256).hexdigest()


class Seal:
    """One direction of a proven connection: seals (or opens) its lines in order."""

    def __init__(
        self, secret: bytes, direction: Direction, viewer_nonce: str, collector_nonce: str
    ) -> None:
        message = b"\0".join(
            (LABEL + b" seal", direction.value, viewer_nonce.encode(), collector_nonce.encode())
        )
        self._key = hmac.new(secret, message, hashlib.sha256).digest()
        self._count = 0

    def _mac(self, payload: bytes) -> str:
        counted = self._count.to_bytes(8, "big") + payload
        return hmac.new(self._key, counted, hashlib.sha256).hexdigest()[:SEAL_HEX]

    def seal(self, payload: bytes) -> bytes:
        """`payload` (a JSON line, newline included) with its seal in front."""
        line = self._mac(payload).encode() + b" " + payload
        self._count += 1
        return line

    def open(self, line: bytes) -> bytes | None:
        """The payload of a sealed line, or None when its seal is not the next one."""
        if len(line) < SEAL_HEX + 2 or line[SEAL_HEX : SEAL_HEX + 1] != b" ":
            return None
        given, payload = line[:SEAL_HEX], line[SEAL_HEX + 1 :]
        if not hmac.compare_digest(self._mac(payload).encode(), given):
            return None
        self._count += 1
        return payload


def seals(secret: bytes, viewer_nonce: str, collector_nonce: str) -> tuple[Seal, Seal]:
    """(to the viewer, to the collector) for one proven connection."""
    return (
        Seal(secret, Direction.TO_VIEWER, viewer_nonce, collector_nonce),
        Seal(secret, Direction.TO_COLLECTOR, viewer_nonce, collector_nonce),
    )


__all__ = [
    "DEFAULT_PREFIX",
    "NONCE_BYTES",
    "PROOF_HEX",
    "PROTOCOL",
    "Account",
    "Direction",
    "Seal",
    "account",
    "alert_mac",
    "is_hex",
    "nonce",
    "proof",
    "proves",
    "seals",
]
