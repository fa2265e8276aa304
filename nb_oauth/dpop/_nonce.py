"""Server-provided DPoP nonces (RFC 9449 §8, §9): the latest ``DPoP-Nonce`` per origin, sent in later proofs."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

_lock = threading.Lock()
_nonces: dict[str, str] = {}
_NONCE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 9449 §8.1: NQCHAR
_USE_NONCE = re.compile(r'(?i)\bdpop\b.*\berror\s*=\s*"?use_dpop_nonce"?')


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


def server_nonce(url: str) -> str | None:
    """The nonce the server at ``url`` last gave, if any."""
    if not _nonces:  # most servers never send one: no URL to take apart then
        return None
    with _lock:
        return _nonces.get(_origin(url))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """requests' and httpx's headers are case-insensitive; nb_oauth's own answers have lower-case keys."""
    value = headers.get(name)
    return value if value is not None else headers.get(name.lower())


def remember_nonce(url: str, headers: Mapping[str, str]) -> str | None:
    """Keep a ``DPoP-Nonce`` the answer carries (any status); returns it."""
    value = _header(headers, "DPoP-Nonce")
    if value is None or not _NONCE.match(value.strip()):
        return None
    with _lock:
        _nonces[_origin(url)] = value.strip()
    return value.strip()


def nonce_challenge(status: int, headers: Mapping[str, str], body_error: str | None = None) -> bool:
    """Whether the answer asks for a (new) nonce: 400 ``use_dpop_nonce`` from an authorization server
    (§8), 401 with ``WWW-Authenticate: DPoP error="use_dpop_nonce"`` from a resource server (§9)."""
    if status == 400 and body_error == "use_dpop_nonce":
        return True
    if status == 401:
        return bool(_USE_NONCE.search(_header(headers, "WWW-Authenticate") or ""))
    return False


def clear() -> None:
    with _lock:
        _nonces.clear()
