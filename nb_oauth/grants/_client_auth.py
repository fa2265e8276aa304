"""Client authentication on every request to the authorization server (token, refresh, PAR, revocation,
introspection, device): HTTP Basic, form fields, or a fresh signed client assertion (RFC 7523 §2.2,
OIDC Core §9: ``private_key_jwt`` with the client's key, ``client_secret_jwt`` with its secret).

The claims are built here; the signature is joserfc's.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import quote

from .._transport import PreparedCall
from ..config import OAuth2Config
from ..errors import ConfigError, OAuthError
from ._keys import signing_key

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60  # seconds: long enough for a slow network, short enough to be useless when stolen


def apply_client_authentication(call: PreparedCall, client_id: str | None, client_secret: str | None,
                                method: str) -> None:
    """``header``: HTTP Basic (RFC 6749 §2.3.1 encoding); ``body``: id and secret as form fields.

    A public client (no secret) always sends its ``client_id`` in the body.
    """
    if not client_id:
        return
    if client_secret and method == "header":
        call.basic_auth = (quote(client_id, safe=""), quote(client_secret, safe=""))
        return
    if not any(k == "client_id" for k, _ in call.body):
        call.body.append(("client_id", client_id))
    if client_secret:
        call.body.append(("client_secret", client_secret))


def assertion_audience(cfg: OAuth2Config) -> str:
    """The issuer when it is known (as the provider declares it), otherwise the token endpoint."""
    if cfg.issuer:
        from ..oidc.discovery import metadata

        try:
            declared = metadata(cfg.issuer, allow_http=cfg.allow_insecure_http).get("issuer")
        except OAuthError:
            declared = None
        return str(declared) if isinstance(declared, str) and declared else cfg.issuer
    return cfg.access_token_url or ""


def _sign(header: dict[str, Any], claims: dict[str, Any], key: Any, alg: str) -> str:
    from joserfc import jwt

    if alg != "EdDSA":
        return jwt.encode(header, claims, key, algorithms=[alg])
    import warnings

    with warnings.catch_warnings():  # joserfc flags EdDSA as superseded by Ed25519 (RFC 9864); servers still ask for it
        warnings.simplefilter("ignore")
        return jwt.encode(header, claims, key, algorithms=[alg])


def sign_with_client_key(cfg: OAuth2Config, claims: dict[str, Any], *, typ: str = "JWT") -> str:
    """A JWT signed with ``client_assertion_key`` (client assertions, request objects)."""
    if not cfg.client_assertion_key:
        raise ConfigError("Signing needs the client's private key, and client_assertion_key is not set.",
                          fix="Set client_assertion_key to the private key (PEM, JWK, a file path or {{VAR}}).")
    sk = signing_key(cfg.client_assertion_key, cfg.client_assertion_alg, cfg.client_assertion_kid,
                     fapi2=cfg.security_profile == "fapi2")
    from joserfc.errors import JoseError

    header: dict[str, Any] = {"alg": sk.alg, "typ": typ}
    if sk.kid:
        header["kid"] = sk.kid
    try:
        return _sign(header, claims, sk.key, sk.alg)
    except (JoseError, ValueError) as exc:
        raise ConfigError(f"The client_assertion_key cannot sign with {sk.alg} ({type(exc).__name__}).",
                          fix="Check client_assertion_alg against the key type.") from None


def client_assertion(cfg: OAuth2Config) -> str:
    """A fresh assertion: ``iss`` = ``sub`` = client_id, ``aud``, a unique ``jti``, ``iat`` and ``exp``."""
    now = int(time.time())
    claims = {"iss": cfg.client_id, "sub": cfg.client_id, "aud": assertion_audience(cfg),
              "jti": secrets.token_urlsafe(24), "iat": now, "exp": now + ASSERTION_LIFETIME}
    if cfg.client_authentication == "private_key_jwt":
        return sign_with_client_key(cfg, claims)
    if not cfg.client_secret:
        raise ConfigError("client_secret_jwt signs with the client secret, and client_secret is not set.",
                          fix="Set client_secret (or use private_key_jwt with client_assertion_key).")
    from joserfc.errors import JoseError
    from joserfc.jwk import OctKey

    alg = cfg.client_assertion_alg or "HS256"
    need = {"HS256": 32, "HS384": 48, "HS512": 64}.get(alg, 32)
    if len(cfg.client_secret.encode()) < need:  # RFC 7518 §3.2: an HMAC key as long as the hash, at least
        raise ConfigError(f"client_secret_jwt with {alg} needs a client secret of at least {need} bytes (RFC 7518 "
                          f"§3.2), and this one has {len(cfg.client_secret.encode())}.",
                          fix="Use the whole secret the provider issued, or client_secret_basic / client_secret_post.")
    try:
        return _sign({"alg": alg, "typ": "JWT"}, claims, OctKey.import_key(cfg.client_secret), alg)
    except (JoseError, ValueError) as exc:
        raise ConfigError(f"The client secret cannot sign a {alg} assertion ({type(exc).__name__}).",
                          fix="client_secret_jwt needs a secret of at least 32 bytes for HS256.") from None


def authenticate(call: PreparedCall, cfg: OAuth2Config) -> list[str]:
    """Authenticate ``call`` as the config says; returns the values it added that must be masked."""
    if cfg.client_authentication not in ("private_key_jwt", "client_secret_jwt"):
        apply_client_authentication(call, cfg.client_id, cfg.client_secret, cfg.client_authentication)
        return []
    assertion = client_assertion(cfg)
    if not any(k == "client_id" for k, _ in call.body):
        call.body.append(("client_id", cfg.client_id or ""))
    call.body += [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)]
    return [assertion]
