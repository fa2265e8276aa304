"""The token request every grant ends with: build (oauthlib), authenticate the client, send, check."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from .._presenter import presenter
from .._token import TokenSet
from .._trace import Trace
from .._transport import (
    PreparedCall,
    parse_token_response,
)
from ..config import SECRET_FIELDS, OAuth2Config, placeholders
from ..dpop import DPoPKey
from ..errors import TokenEndpointError
from ._as_call import send_as_client
from ._dpop_tokens import bind_token_set, dpop_key_for


def config_secrets(cfg: OAuth2Config) -> list[str | None]:
    """The config's secrets (client secret, password, verifier, client key, subject and actor tokens), with the
    values of its custom header parameters (API keys travel there) and every value filled from a ``{{placeholder}}``."""
    headers = [v for params in (cfg.auth_request_params, cfg.token_request_params, cfg.refresh_request_params)
               for _k, v, how in params if how == "header"]
    return [*(getattr(cfg, name) for name in SECRET_FIELDS), *headers, *placeholders.filled_values()]


def body_pairs(encoded: str) -> list[tuple[str, str]]:
    """oauthlib builds bodies as form strings; we keep them as pairs to add custom parameters."""
    return parse_qsl(encoded, keep_blank_values=True)


def audience_and_resource(cfg: OAuth2Config) -> list[tuple[str, str]]:
    return [("audience", a) for a in cfg.audience] + [("resource", r) for r in cfg.resource]


def request_token(
    cfg: OAuth2Config,
    grant_params: Sequence[tuple[str, str]],
    *,
    trace: Trace | None,
    title: str,
    url: str | None = None,
    custom: Sequence[tuple[str, str, str]] | None = None,
    include_audience: bool = True,
    previous: TokenSet | None = None,
    extra_secrets: Sequence[str | None] = (),
    error_cls: type[TokenEndpointError] = TokenEndpointError,
    requested_scope: str | None = None,
    dpop_key: DPoPKey | None = None,
) -> TokenSet:
    """POST to the token endpoint and return the checked token set (DPoP-bound when the config says so)."""

    def build() -> PreparedCall:
        call = PreparedCall("POST", url or cfg.access_token_url or "", list(grant_params))
        if include_audience:
            call.body.extend(audience_and_resource(cfg))
        call.add_custom(cfg.token_request_params if custom is None else custom)
        return call

    own = [*config_secrets(cfg), *extra_secrets]
    secrets = [*own, *(previous.secrets() if previous else [])]
    if trace is not None:
        trace.add_secret(*own)
        if previous is not None:
            trace.hold_token_secrets(*previous.secrets())
    key = dpop_key_for(cfg, previous, dpop_key)
    sent = send_as_client(cfg, build, secrets=secrets, what=title.lower(), dpop_key=key, trace=trace)
    call, resp, started = sent.call, sent.response, sent.started
    scope_asked = cfg.scope if requested_scope is None else requested_scope
    try:
        fields, warnings = parse_token_response(resp, requested_scope=scope_asked, secrets=secrets,
                                                error_cls=error_cls, what=title.lower())
    except TokenEndpointError as exc:
        if trace is not None:
            trace.record(title, "notebook", "server", method="POST", url=call.url, params=call.body,
                         headers=call.headers, status=resp.status, started=started, duration=resp.elapsed,
                         response={"error": exc.error, "error_description": exc.error_description}, kind="error")
        raise
    token_set = bind_token_set(cfg, TokenSet.from_response(fields, requested_scope=scope_asked, previous=previous), key)
    if trace is not None:
        trace.hold_token_secrets(*token_set.secrets())
        shown_params = list(call.body) + ([("Authorization", "Basic (client_id:client_secret)")] if call.basic_auth else [])
        trace.record(title, "notebook", "server", method="POST", url=call.url, params=shown_params,
                     headers=call.headers, status=resp.status, response=fields, started=started,
                     duration=resp.elapsed)
    for warning in warnings:
        presenter().notice(warning)
    return token_set
