"""OIDC discovery (and RFC 8414 metadata): ``issuer`` alone fills every endpoint left empty.

Documents and key sets are cached per URL for the life of the process; a key set is fetched
again when a token names a ``kid`` it does not hold (the provider rotated its keys).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from .._transport import PreparedCall, raise_for_oauth_error, send
from ..config import OAuth2Config, check_url
from ..errors import DiscoveryError

CACHE_SECONDS = 3600.0

#: config field → metadata key
FIELD_KEYS = {
    "auth_url": "authorization_endpoint",
    "access_token_url": "token_endpoint",
    "device_authorization_url": "device_authorization_endpoint",
    "revocation_url": "revocation_endpoint",
    "introspection_url": "introspection_endpoint",
    "userinfo_url": "userinfo_endpoint",
    "jwks_url": "jwks_uri",
}

_lock = threading.Lock()
_documents: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks: dict[str, tuple[float, dict[str, Any]]] = {}


def _fetch_json(url: str, what: str) -> dict[str, Any]:
    resp = send(PreparedCall("GET", url), what=what)
    return raise_for_oauth_error(resp, what=what, error_cls=DiscoveryError)


def metadata(issuer: str, *, allow_http: bool = False, refresh: bool = False) -> dict[str, Any]:
    """The issuer's metadata: ``/.well-known/openid-configuration``, else RFC 8414's document."""
    issuer = issuer.rstrip("/")
    with _lock:
        cached = _documents.get(issuer)
    if cached and not refresh and time.time() - cached[0] < CACHE_SECONDS:
        return cached[1]
    errors: list[str] = []
    doc: dict[str, Any] | None = None
    for suffix in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        try:
            doc = _fetch_json(issuer + suffix, "discovery request")
            break
        except DiscoveryError as exc:
            errors.append(f"{suffix}: {exc.args[0].split(' Fix:')[0]}")
    if doc is None:
        raise DiscoveryError(f"No discovery document found for issuer {issuer!r} ({'; '.join(errors)}).")
    declared = doc.get("issuer")
    if not isinstance(declared, str) or not declared.strip():
        raise DiscoveryError(
            f"The discovery document at {issuer!r} declares no issuer, so it cannot be told apart from another "
            "provider's (OIDC Discovery 4.3, RFC 8414 3.3); it was not used.",
            fix="Check the issuer URL; a provider's document always names its issuer.")
    if declared.rstrip("/") != issuer:
        raise DiscoveryError(
            f"The discovery document at {issuer!r} declares issuer {declared[:200]!r}; they must be the same.",
            fix="Use exactly the issuer the provider declares.")
    for key in FIELD_KEYS.values():
        value = doc.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise DiscoveryError(f"The discovery document's {key} is not a URL.")
            check_url(key, value, allow_http=allow_http)
    with _lock:
        _documents[issuer] = (time.time(), doc)
    return doc


def apply_discovery(cfg: OAuth2Config) -> OAuth2Config:
    """A copy of ``cfg`` with every empty endpoint filled from the issuer's metadata."""
    if not cfg.issuer:
        return cfg
    missing = [name for name in FIELD_KEYS if not getattr(cfg, name)]
    if not missing:
        return cfg
    doc = metadata(cfg.issuer, allow_http=cfg.allow_insecure_http)
    changes = {name: doc[FIELD_KEYS[name]] for name in missing if doc.get(FIELD_KEYS[name])}
    return replace(cfg, **changes) if changes else cfg


def jwks(url: str, *, refresh: bool = False) -> dict[str, Any]:
    with _lock:
        cached = _jwks.get(url)
    if cached and not refresh and time.time() - cached[0] < CACHE_SECONDS:
        return cached[1]
    doc = _fetch_json(url, "key set (JWKS) request")
    if not isinstance(doc.get("keys"), list):
        raise DiscoveryError("The JWKS document has no 'keys' list.", fix="Check jwks_url.")
    with _lock:
        _jwks[url] = (time.time(), doc)
    return doc


def clear_cache() -> None:
    with _lock:
        _documents.clear()
        _jwks.clear()
