"""ID token validation (OpenID Connect Core §3.1.3.7) with joserfc.

Checked: the signature against the provider's JWKS (asymmetric algorithms only, so ``alg=none``
and HMAC-signed-with-the-public-key are refused), ``iss``, ``aud`` and ``azp`` (required when
there are several audiences), ``exp``/``iat``/``nbf`` with a small leeway, ``nonce`` when the
flow sent one, and ``at_hash`` when present (required for the implicit grant).  A failure is an
:class:`IDTokenError` naming the check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import IDTokenError
from .discovery import jwks

if TYPE_CHECKING:
    from .._token import TokenSet
    from .._trace import Trace
    from ..config import OAuth2Config

LEEWAY_SECONDS = 120
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
                         "Ed25519")
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


_MISSING_AT_HASH = ("an ID token that comes with an access token in the redirect (implicit 'id_token token') "
                    "must carry at_hash, which binds the two (OIDC Core 3.2.2.10)")


def _fail(check: str, detail: str) -> IDTokenError:
    return IDTokenError(f"ID token rejected: {check} check failed — {detail}.")


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: left half of the hash of the access token, base64url without padding."""
    digest = _HASHES.get(alg[-3:], hashlib.sha512 if alg in ("EdDSA", "Ed25519") else hashlib.sha256)(
        access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def validate_id_token(
    id_token: str,
    *,
    jwks: dict[str, Any],
    issuer: str | None,
    client_id: str,
    nonce: str | None = None,
    access_token: str | None = None,
    refetch_jwks: Any = None,
    now: int | None = None,
    client_secret: str | None = None,
    require_at_hash: bool = False,
) -> dict[str, Any]:
    """Verify ``id_token`` and return its claims; ``refetch_jwks()`` is called once on an unknown ``kid``."""
    from joserfc import jwt
    from joserfc.errors import BadSignatureError, JoseError, UnsupportedAlgorithmError
    from joserfc.jwk import KeySet
    from joserfc.jws import extract_compact

    try:
        header = extract_compact(id_token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        raise _fail("format", "it is not a compact JWS") from None
    alg = str(header.get("alg", ""))
    if alg.lower() == "none":
        raise _fail("signature", "alg=none (an unsigned token) is never accepted")
    if alg.upper().startswith("HS"):
        if alg not in HMAC_ALGORITHMS or not client_secret:
            raise _fail("signature", f"alg={alg} is symmetric: only the client secret may sign it, and a "
                                     "provider's public key must never be used as an HMAC secret")
        return _validate_claims(_verify_hmac(id_token, alg, client_secret), issuer=issuer, client_id=client_id,
                                nonce=nonce, access_token=access_token, alg=alg, now=now,
                                require_at_hash=require_at_hash)
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise _fail("signature", f"algorithm {alg!r} is not supported")

    def load(doc: dict[str, Any]) -> KeySet:
        try:
            return KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise _fail("signature", f"the provider's key set cannot be read ({exc})") from None

    keys = load(jwks)
    kid = header.get("kid")
    if kid is not None and all(k.kid != kid for k in keys.keys) and refetch_jwks is not None:
        keys = load(refetch_jwks())
    if kid is not None and all(k.kid != kid for k in keys.keys):
        raise _fail("signature", f"no key with kid {kid!r} in the provider's key set")
    try:
        token = jwt.decode(id_token, keys, algorithms=[alg])
    except BadSignatureError:
        raise _fail("signature", "the signature does not match the provider's key") from None
    except UnsupportedAlgorithmError:
        raise _fail("signature", f"algorithm {alg!r} does not fit the key") from None
    except (JoseError, ValueError) as exc:
        raise _fail("signature", str(exc) or type(exc).__name__) from None
    return _validate_claims(token.claims, issuer=issuer, client_id=client_id, nonce=nonce,
                            access_token=access_token, alg=alg, now=now, require_at_hash=require_at_hash)


def _verify_hmac(id_token: str, alg: str, client_secret: str) -> dict[str, Any]:
    """OIDC Core §10.1: an HS* ID token is signed with the client secret (never with a public key)."""
    import warnings

    from joserfc import jwt
    from joserfc.errors import BadSignatureError, JoseError
    from joserfc.jwk import OctKey

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short client secrets are the provider's choice, not ours
        key = OctKey.import_key(client_secret.encode("utf-8"))
    try:
        return jwt.decode(id_token, key, algorithms=[alg]).claims
    except BadSignatureError:
        raise _fail("signature", "the HMAC signature does not match the client secret") from None
    except (JoseError, ValueError) as exc:
        raise _fail("signature", str(exc) or type(exc).__name__) from None


def _validate_claims(claims: dict[str, Any], *, issuer: str | None, client_id: str, nonce: str | None,
                     access_token: str | None, alg: str, now: int | None,
                     require_at_hash: bool = False) -> dict[str, Any]:
    from joserfc import jwt
    from joserfc.errors import ClaimError, ExpiredTokenError

    options: dict[str, Any] = {
        "iss": {"essential": True, **({"value": issuer.rstrip("/")} if issuer else {})},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "sub": {"essential": True},
    }
    if issuer and isinstance(claims.get("iss"), str) and claims["iss"].rstrip("/") == issuer.rstrip("/"):
        options["iss"]["value"] = claims["iss"]  # tolerate a trailing-slash difference only
    registry = jwt.JWTClaimsRegistry(now=now, leeway=LEEWAY_SECONDS, **options)
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise _fail("exp", "the token has expired") from None
    except ClaimError as exc:
        claim = getattr(exc, "claim", "claims")
        raise _fail(claim, str(exc.description or exc)) from None
    aud, azp = claims.get("aud"), claims.get("azp")
    if isinstance(aud, list) and len(aud) > 1 and azp is None:
        raise _fail("azp", "the token has several audiences and no azp naming the client it was issued to "
                           "(OIDC Core 3.1.3.7)")
    if azp is not None and azp != client_id:
        raise _fail("azp", "the authorized party is another client")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got, nonce):
            raise _fail("nonce", "the nonce is not the one this login sent (a replayed ID token?)")
    if require_at_hash and "at_hash" not in claims:
        raise _fail("at_hash", _MISSING_AT_HASH)
    if access_token and "at_hash" in claims \
            and not hmac.compare_digest(str(claims["at_hash"]), at_hash(access_token, alg)):
            raise _fail("at_hash", "the access token is not the one this ID token was issued with")
    return claims


def verify_id_token(cfg: OAuth2Config, token_set: TokenSet, *, nonce: str | None = None,
                    trace: Trace | None = None, previous: TokenSet | None = None) -> TokenSet:
    """Validate the ID token when this response brought one and the provider's keys are known.

    An ID token kept from before (a refresh answer without ``id_token``) is not checked again: its
    ``at_hash`` belongs to the access token it was issued with, not to the new one.  A new ID token
    from a refresh must name the same ``sub`` as ``previous`` (OIDC Core 12.2).
    """
    if not token_set.id_token or not cfg.validate_id_token or token_set.raw.get("id_token") != token_set.id_token:
        return token_set
    implicit = cfg.grant_type == "implicit"
    if implicit:
        from .jwt import decode_unverified

        decoded = decode_unverified(token_set.id_token)
        if decoded is not None and "at_hash" not in decoded.claims:  # checked even when no keys are known
            raise _fail("at_hash", _MISSING_AT_HASH)
    if not cfg.jwks_url:
        return token_set
    assert cfg.jwks_url is not None
    jwks_url = cfg.jwks_url
    claims = validate_id_token(
        token_set.id_token,
        jwks=jwks(jwks_url),
        issuer=cfg.issuer,
        client_id=cfg.client_id or "",
        nonce=nonce,
        access_token=token_set.access_token,
        refetch_jwks=lambda: jwks(jwks_url, refresh=True),
        client_secret=cfg.client_secret,
        require_at_hash=implicit,
    )
    if previous is not None and previous.id_token and previous.id_token != token_set.id_token:
        from .jwt import decode_unverified

        before = decode_unverified(previous.id_token)
        if before is not None and before.claims.get("sub") != claims.get("sub"):
            raise _fail("sub", "the refreshed ID token names another user than the one who logged in (OIDC Core 12.2)")
    if trace is not None:
        trace.record("ID token verified", "notebook", "notebook", kind="note",
                     note="checked: signature (JWKS), iss, aud, exp/iat" + (", nonce" if nonce else "")
                     + (", at_hash" if implicit else ", at_hash when present"))
    return replace(token_set, id_token_verified=True)
