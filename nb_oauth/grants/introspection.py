"""Token introspection (RFC 7662) and the OpenID userinfo endpoint, for a stored token.

Introspection authenticates the client as its token requests do (a fresh assertion for
``private_key_jwt``); userinfo sends the token itself, with a DPoP proof (and one nonce retry)
when the token is DPoP-bound, and checks the answer's ``sub`` against the ID token's.
"""

from __future__ import annotations

import time
from typing import Any

from .._token import TokenSet
from .._trace import Trace
from .._transport import PreparedCall, raise_for_oauth_error, send
from ..config import OAuth2Config
from ..dpop import proof_for, wants_nonce_retry
from ..errors import ConfigError, IDTokenError, TokenEndpointError
from ..oidc.jwt import decode_unverified
from ._as_call import send_as_client, trace_proof
from ._token_request import config_secrets


def introspect(cfg: OAuth2Config, token_set: TokenSet, trace: Trace | None = None) -> dict[str, Any]:
    """The server's introspection answer for the access token (``{"active": False}`` once it is dead)."""
    if not cfg.introspection_url:
        raise ConfigError(f"Token {cfg.token_name!r} cannot be introspected: no introspection endpoint is configured "
                          "or discovered.", fix="Set introspection_url, or issuer (discovery fills it).")
    secrets: list[str | None] = [*config_secrets(cfg), *token_set.secrets()]
    sent = send_as_client(cfg, lambda: PreparedCall("POST", cfg.introspection_url or "", [
        ("token", token_set.access_token), ("token_type_hint", "access_token")]), secrets=secrets,
        what="introspection request")
    data = raise_for_oauth_error(sent.response, what="introspection request", error_cls=TokenEndpointError,
                                 secrets=secrets)
    if not isinstance(data.get("active"), bool):
        raise TokenEndpointError("The introspection answer has no boolean 'active' (RFC 7662 §2.2).",
                                 fix="Check introspection_url.", secrets=secrets)
    if trace is not None:
        trace.record("Token introspection", "notebook", "server", method="POST", url=sent.call.url,
                     params=sent.call.body, status=sent.response.status, response=data, started=sent.started,
                     duration=sent.response.elapsed)
    return data


def userinfo(cfg: OAuth2Config, token_set: TokenSet, trace: Trace | None = None) -> dict[str, Any]:
    """The userinfo claims; their ``sub`` must be the ID token's (OIDC Core §5.3.2)."""
    if not cfg.userinfo_url:
        raise ConfigError(f"Token {cfg.token_name!r} has no userinfo endpoint configured or discovered.",
                          fix="Set userinfo_url, or issuer (discovery fills it).")
    url = cfg.userinfo_url
    secrets: list[str | None] = [*config_secrets(cfg), *token_set.secrets()]
    scheme = "DPoP" if token_set.dpop_key is not None else "Bearer"
    for attempt in (1, 2):
        call = PreparedCall("GET", url, headers={"Authorization": f"{scheme} {token_set.access_token}"})
        proof = proof_for(token_set, "GET", url, token_set.access_token)
        if proof is not None:
            call.headers["DPoP"] = proof
            secrets.append(proof)
            if trace is not None:
                trace.add_secret(proof)
            trace_proof(trace, proof, "userinfo request")
        started = time.time()
        resp = send(call, secrets=secrets, what="userinfo request")
        if attempt == 1 and wants_nonce_retry(token_set, url, resp.status, resp.headers):
            continue
        break
    data = raise_for_oauth_error(resp, what="userinfo request", error_cls=TokenEndpointError, secrets=secrets)
    if trace is not None:
        trace.record("Userinfo request", "notebook", "server", method="GET", url=url, headers=call.headers,
                     status=resp.status, response=data, started=started, duration=resp.elapsed)
    decoded = decode_unverified(token_set.id_token) if token_set.id_token else None
    expected = decoded.claims.get("sub") if decoded is not None else None
    if expected is not None and data.get("sub") != expected:
        raise IDTokenError("The userinfo answer is about another user than the ID token (its sub differs).",
                           fix="Log in again; a server that mixes up users must not be trusted with this token.",
                           secrets=secrets)
    return data
