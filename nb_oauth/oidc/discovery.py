"""OIDC discovery (and RFC 8414 metadata): ``issuer`` alone fills every endpoint left empty.

Documents and key sets are cached per URL for the life of the process; a key set is fetched
again when a token names a ``kid`` it does not hold (the provider rotated its keys).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .._transport import PreparedCall, raise_for_oauth_error, send
from ..config import OAuth2Config, check_url
from ..errors import DiscoveryError

CACHE_SECONDS = 3600.0
OIDC_SUFFIX = "/.well-known/openid-configuration"
RFC8414_SUFFIX = "/.well-known/oauth-authorization-server"

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


def metadata_urls(issuer: str) -> list[str]:
    """Where the issuer's metadata may be: OIDC Discovery's address, then RFC 8414's (path-inserted, §3.1,
    then the appended form some servers also publish)."""
    issuer = issuer.rstrip("/")
    parts = urlsplit(issuer)
    urls = [issuer + OIDC_SUFFIX]
    if parts.path.strip("/"):
        urls.append(urlunsplit((parts.scheme, parts.netloc, RFC8414_SUFFIX + parts.path, "", "")))
    urls.append(issuer + RFC8414_SUFFIX)
    return urls


def metadata(issuer: str, *, allow_http: bool = False, refresh: bool = False) -> dict[str, Any]:
    """The issuer's metadata: ``/.well-known/openid-configuration`` merged with RFC 8414's document.

    Providers list different endpoints in each (django-oauth-toolkit's OIDC document lacks the
    revocation and introspection endpoints its RFC 8414 one has), so the RFC 8414 document is read
    too whenever the first one lacks an endpoint nb_oauth uses; the first document's values win.
    """
    issuer = issuer.rstrip("/")
    with _lock:
        cached = _documents.get(issuer)
    if cached and not refresh and time.time() - cached[0] < CACHE_SECONDS:
        return cached[1]
    errors: list[str] = []
    found: list[tuple[str, dict[str, Any]]] = []
    urls = metadata_urls(issuer)
    oidc_url = urls[0]
    for url in urls:
        if found and _complete(found[0][1]):
            break
        try:
            doc = _fetch_json(url, "discovery request")
        except DiscoveryError as exc:
            errors.append(f"{url}: {exc.args[0].split(' Fix:')[0]}")
            continue
        if found and not _same_issuer(issuer, doc):
            continue  # a supplementary document for another issuer is not merged
        if not found:
            _check_issuer(issuer, url, doc)
        found.append((url, doc))
        if url != oidc_url:
            break  # one RFC 8414 document is enough
    if not found:
        raise DiscoveryError(f"No discovery document found for issuer {issuer!r} ({'; '.join(errors)}).",
                             fix="Check the issuer URL (the provider's documentation names it), or fill the "
                                 "endpoint URLs yourself.")
    merged: dict[str, Any] = {}
    for _, doc in reversed(found):
        merged.update(doc)
    for key in FIELD_KEYS.values():
        value = merged.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise DiscoveryError(f"The discovery document's {key} is not a URL.")
            check_url(key, value, allow_http=allow_http)
    with _lock:
        _documents[issuer] = (time.time(), merged)
    return merged


def _complete(doc: dict[str, Any]) -> bool:
    return all(doc.get(key) for key in FIELD_KEYS.values())


def _same_issuer(issuer: str, doc: dict[str, Any]) -> bool:
    declared = doc.get("issuer")
    return isinstance(declared, str) and declared.rstrip("/") == issuer


def _check_issuer(issuer: str, url: str, doc: dict[str, Any]) -> None:
    """A document must name its issuer (OIDC Discovery 4.3, RFC 8414 3.3), and it must be ours."""
    declared = doc.get("issuer")
    if not isinstance(declared, str) or not declared.strip():
        raise DiscoveryError(
            f"The discovery document at {url!r} declares no issuer, so it cannot be told apart from another "
            "provider's (OIDC Discovery 4.3, RFC 8414 3.3); it was not used.",
            fix="Check the issuer URL; a provider's document always names its issuer.")
    if declared.rstrip("/") != issuer:
        raise DiscoveryError(
            f"The discovery document at {url!r} declares issuer {declared[:200]!r}, not {issuer!r}; they must be "
            "the same.", fix="Use exactly the issuer the provider declares.")


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
