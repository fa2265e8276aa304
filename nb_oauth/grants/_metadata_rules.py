"""The modern settings against the provider's metadata, when the flow resolves its config.

PAR's endpoint and whether the provider requires it, and the algorithms the provider accepts for
client assertions, DPoP proofs and request objects: a key or algorithm it does not list is a
:class:`ConfigError` before anything is sent.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import OAuth2Config
from ..config._modern import check_fapi2_endpoints
from ..errors import ConfigError
from ._keys import signing_key

__all__ = ["apply_metadata_rules", "check_fapi2_endpoints"]

REDIRECT_CODE_GRANTS = ("authorization_code", "authorization_code_with_pkce")


def _provider_metadata(cfg: OAuth2Config) -> dict[str, Any]:
    if not cfg.issuer:
        return {}
    from ..oidc.discovery import metadata

    return metadata(cfg.issuer, allow_http=cfg.allow_insecure_http)


def _check_listed(doc: dict[str, Any], key: str, alg: str, field: str, fitting: tuple[str, ...] | None = None,
                  how: str = "") -> None:
    """``alg`` must be in the metadata's list; the fix names only algorithms in ``fitting`` (those ``how`` can use)."""
    listed = doc.get(key)
    if isinstance(listed, list) and listed and alg not in listed:
        if alg == "EdDSA" and "Ed25519" in listed:
            return
        usable = [a for a in map(str, listed) if a in fitting] if fitting is not None else list(map(str, listed))
        fix = (f"Use a key and {field} the provider lists (e.g. {usable[0]})." if usable else
               f"None of the provider's algorithms fits {how}: ask the provider which it accepts.")
        raise ConfigError(f"{field} {alg} is not one the provider accepts: its metadata lists {key} = "
                          f"{', '.join(map(str, listed))}.", fix=fix)


def _key_algs(fapi2: bool) -> tuple[str, ...]:
    from ..config import FAPI2_ALGS

    return FAPI2_ALGS if fapi2 else ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                                     "EdDSA", "Ed25519")


def apply_metadata_rules(cfg: OAuth2Config) -> OAuth2Config:
    """``par_url`` and ``use_par`` from the metadata, and the algorithms checked against it."""
    uses_jwt_auth = cfg.client_authentication in ("private_key_jwt", "client_secret_jwt")
    doc = _provider_metadata(cfg)
    changes: dict[str, Any] = {}
    endpoint = doc.get("pushed_authorization_request_endpoint")
    if not cfg.par_url and isinstance(endpoint, str) and endpoint:
        from ..config import check_url

        check_url("pushed_authorization_request_endpoint", endpoint, allow_http=cfg.allow_insecure_http)
        changes["par_url"] = endpoint
    if cfg.use_par is None and cfg.grant_type in REDIRECT_CODE_GRANTS and doc.get("require_pushed_authorization_requests"):
        changes["use_par"] = True
    fapi2 = cfg.security_profile == "fapi2"
    if cfg.client_authentication == "private_key_jwt" and cfg.client_assertion_key:
        alg = signing_key(cfg.client_assertion_key, cfg.client_assertion_alg, cfg.client_assertion_kid, fapi2=fapi2).alg
        _check_listed(doc, "token_endpoint_auth_signing_alg_values_supported", alg, "client_assertion_alg",
                      _key_algs(fapi2), "a private key" + (" under FAPI 2.0" if fapi2 else ""))
    elif cfg.client_authentication == "client_secret_jwt":
        _check_listed(doc, "token_endpoint_auth_signing_alg_values_supported", cfg.client_assertion_alg or "HS256",
                      "client_assertion_alg", ("HS256", "HS384", "HS512"), "a client secret (HMAC)")
    methods = doc.get("token_endpoint_auth_methods_supported")
    if uses_jwt_auth and isinstance(methods, list) and methods and cfg.client_authentication not in methods:
        raise ConfigError(f"The provider does not accept client_authentication {cfg.client_authentication}: its "
                          f"metadata lists {', '.join(map(str, methods))}.",
                          fix="Pick a method the provider lists.")
    if cfg.dpop:
        _check_listed(doc, "dpop_signing_alg_values_supported", cfg.dpop_alg, "dpop_alg")
    if cfg.request_object and cfg.client_assertion_key:
        alg = signing_key(cfg.client_assertion_key, cfg.client_assertion_alg, cfg.client_assertion_kid, fapi2=fapi2).alg
        _check_listed(doc, "request_object_signing_alg_values_supported", alg, "client_assertion_alg",
                      _key_algs(fapi2), "a private key" + (" under FAPI 2.0" if fapi2 else ""))
    return dataclasses.replace(cfg, **changes) if changes else cfg
