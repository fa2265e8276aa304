"""Pushed authorization requests (PAR, RFC 9126) and signed request objects (JAR, RFC 9101).

The authorization URL is first built as usual (oauthlib); :func:`browser_url` then turns its
parameters into what the browser really gets: with PAR, only ``client_id`` and the ``request_uri``
the server handed back for the pushed parameters (pushed with client authentication and, for DPoP,
a proof); with JAR, the parameters travel inside a JWT signed with the client's key.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._trace import Trace
from .._transport import PreparedCall, raise_for_oauth_error
from ..config import OAuth2Config
from ..dpop import DPoPKey
from ..errors import TokenEndpointError
from ._as_call import send_as_client
from ._client_auth import assertion_audience, sign_with_client_key
from ._token_request import config_secrets

REQUEST_OBJECT_LIFETIME = 300  # seconds; FAPI 2.0 wants exp - nbf ≤ 60 min
DEFAULT_PAR_LIFETIME = 60.0


@dataclass
class PushedRequest:
    """What the server gave back for a push: the handle and when it stops working."""

    request_uri: str
    expires_at: float
    lifetime: float


def request_object(cfg: OAuth2Config, params: list[tuple[str, str]]) -> str:
    """The authorization parameters as a signed JWT (``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, ``jti``)."""
    now = int(time.time())
    claims: dict[str, object] = {k: v for k, v in params}
    claims.update({"iss": cfg.client_id, "aud": assertion_audience(cfg), "iat": now, "nbf": now,
                   "exp": now + REQUEST_OBJECT_LIFETIME, "jti": secrets.token_urlsafe(16)})
    return sign_with_client_key(cfg, claims, typ="oauth-authz-req+jwt")


def push(cfg: OAuth2Config, params: list[tuple[str, str]], *, dpop_key: DPoPKey | None,
         trace: Trace | None) -> PushedRequest:
    """POST the parameters to ``par_url`` with client authentication; the answer's ``request_uri``."""
    sent_secrets: list[str | None] = list(config_secrets(cfg))
    sent = send_as_client(cfg, lambda: PreparedCall("POST", cfg.par_url or "", list(params)),
                          secrets=sent_secrets, what="pushed authorization request", dpop_key=dpop_key, trace=trace)
    resp = sent.response
    try:
        data = raise_for_oauth_error(resp, what="pushed authorization request", error_cls=TokenEndpointError,
                                     secrets=sent_secrets)
    except TokenEndpointError as exc:
        if trace is not None:
            trace.record("Pushed authorization request (PAR)", "notebook", "server", method="POST", url=sent.call.url,
                         params=sent.call.body, status=resp.status, kind="error",
                         response={"error": exc.error, "error_description": exc.error_description})
        raise
    request_uri = data.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise TokenEndpointError("The pushed authorization request was answered without a request_uri.",
                                 fix="Check par_url: it must be the provider's pushed_authorization_request_endpoint.")
    try:
        lifetime = float(data.get("expires_in") or DEFAULT_PAR_LIFETIME)
    except (TypeError, ValueError):
        lifetime = DEFAULT_PAR_LIFETIME
    if trace is not None:
        trace.record("Pushed authorization request (PAR)", "notebook", "server", method="POST", url=sent.call.url,
                     params=sent.call.body, status=resp.status, response=data, started=sent.started,
                     duration=resp.elapsed,
                     note="The parameters go to the server directly, authenticated; the browser will carry only "
                          f"client_id and this request_uri (valid {lifetime:g} s).")
    return PushedRequest(request_uri, time.time() + lifetime, lifetime)


def browser_url(cfg: OAuth2Config, built_url: str, *, dpop_key: DPoPKey | None,
                trace: Trace | None) -> tuple[str, PushedRequest | None]:
    """The URL the browser opens, and the pushed request behind it (None without PAR)."""
    parts = urlsplit(built_url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    if dpop_key is not None:
        params.append(("dpop_jkt", dpop_key.jkt))  # RFC 9449 §10: the code is bound to this key
    if cfg.request_object:
        signed = request_object(cfg, params)
        if trace is not None:
            trace.add_secret(signed)
        params = [("client_id", cfg.client_id or ""), ("request", signed)]
    if not cfg.use_par:
        return urlunsplit((*parts[:3], urlencode(params), "")), None
    pushed = push(cfg, params, dpop_key=dpop_key, trace=trace)
    query = urlencode([("client_id", cfg.client_id or ""), ("request_uri", pushed.request_uri)])
    return urlunsplit((*parts[:3], query, "")), pushed
