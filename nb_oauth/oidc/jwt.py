"""Reading JWTs for display, through joserfc (never a hand-rolled base64 split).

Decoding here does **not** verify anything: it is for showing claims.  Verification of ID
tokens lives in :mod:`nb_oauth.oidc.idtoken`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DecodedJWT:
    header: dict[str, Any]
    claims: dict[str, Any]


def looks_like_jwt(value: str | None) -> bool:
    return bool(value) and isinstance(value, str) and value.count(".") == 2 and len(value) < 64_000


def decode_unverified(value: str | None) -> DecodedJWT | None:
    """Header and claims of a compact JWS, or None when ``value`` is not one."""
    if not looks_like_jwt(value):
        return None
    from joserfc import jws
    from joserfc.errors import JoseError

    try:
        compact = jws.extract_compact(value.encode("ascii"))  # type: ignore[union-attr]
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    if not isinstance(claims, dict):
        return None
    return DecodedJWT(header=dict(compact.headers()), claims=claims)
