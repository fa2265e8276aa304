"""DPoP on resource requests (RFC 9449 §7): the proof header for one request, and the nonce retry rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._nonce import nonce_challenge, remember_nonce, server_nonce

if TYPE_CHECKING:
    from .._token import TokenSet


def proof_for(token_set: TokenSet, method: str, url: str, access_token: str) -> str | None:
    """A fresh proof (with ``ath`` and the server's nonce, if it gave one) when the token is DPoP-bound."""
    key = token_set.dpop_key
    if key is None:
        return None
    return key.resource_proof(method, url, access_token, server_nonce(url))


def wants_nonce_retry(token_set: TokenSet, url: str, status: int, headers: Mapping[str, str]) -> bool:
    """Keep the server's ``DPoP-Nonce``; True when the answer is a ``use_dpop_nonce`` challenge worth one retry."""
    if token_set.dpop_key is None:
        return False
    got = remember_nonce(url, headers)
    return got is not None and nonce_challenge(status, headers)
