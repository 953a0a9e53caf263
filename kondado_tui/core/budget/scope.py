"""Which budget a request counts against, named without giving anything away.

The API counts per source IP and per key. On one host every request to one API endpoint
leaves from the same IP, so the host's budget is per endpoint (`scheme://host:port` of
`base_url`: the demo's simulator on a loopback port must not share Kondado's). The key's
budget is shared by everyone on the host using that key.

Both are sent to the host broker, which any local user can run, so neither is sent in
the clear: the endpoint as a hash (no URL crosses the socket), the key as an HMAC keyed
by the token. Only a holder of the token can compute a key's id: another login can
neither learn the key nor link its own key to yours unless it holds your token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

SCOPE_LABEL = b"kondado-tui/budget/v1"
ID_LENGTH = 32
"""Hex characters of an id (128 bits: no collisions between the keys of one host)."""
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class BudgetScope:
    host: str  # the endpoint's id: every process on this host asking it shares this budget
    key: str  # the key's id: every process on this host using this key shares this budget

    def __repr__(self) -> str:
        return f"BudgetScope(host={self.host[:8]}…, key={self.key[:8]}…)"


def endpoint(base_url: str) -> str:
    """`scheme://host:port`, lower case, the port always written."""
    parts = urlsplit(base_url.strip())
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme, 0)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def host_id(base_url: str) -> str:
    digest = hashlib.sha256(SCOPE_LABEL + b" host\0" + endpoint(base_url).encode())
    return digest.hexdigest()[:ID_LENGTH]


def key_id(base_url: str, key: str, token: str) -> str:
    """HMAC-SHA256 keyed by the token over the endpoint and the key, cut to 128 bits."""
    message = SCOPE_LABEL + b" key\0" + endpoint(base_url).encode() + b"\0" + key.encode()
    digest = hmac.new(token.encode(), message, hashlib.sha256)
    return digest.hexdigest()[:ID_LENGTH]


def scope_for(base_url: str, key: str, token: str) -> BudgetScope:
    return BudgetScope(host_id(base_url), key_id(base_url, key, token))


def is_scope_id(text: object) -> bool:
    return (
        isinstance(text, str)
        and len(text) == ID_LENGTH
        and all(c in "0123456789abcdef" for c in text)
    )


__all__ = ["ID_LENGTH", "BudgetScope", "endpoint", "host_id", "is_scope_id", "key_id", "scope_for"]
