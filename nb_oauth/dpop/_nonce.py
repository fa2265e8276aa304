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
    with _lock:
        return _nonces.get(_origin(url))


def remember_nonce(url: str, headers: Mapping[str, str]) -> str | None:
    """Keep a ``DPoP-Nonce`` the answer carries (any status); returns it."""
    value = next((v for k, v in headers.items() if k.lower() == "dpop-nonce"), None)
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
        challenge = next((v for k, v in headers.items() if k.lower() == "www-authenticate"), "")
        return bool(_USE_NONCE.search(challenge))
    return False


def clear() -> None:
    with _lock:
        _nonces.clear()
