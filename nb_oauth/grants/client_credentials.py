"""Client credentials grant (RFC 6749 §4.4): the application itself, no user."""

from __future__ import annotations

import functools

from oauthlib.oauth2 import BackendApplicationClient

from .._token import TokenSet
from .._trace import Trace
from ..config import OAuth2Config
from ._token_request import body_pairs, request_token


def fetch(cfg: OAuth2Config, trace: Trace | None) -> TokenSet:
    return request_token(cfg, _grant_params(cfg.client_id, cfg.scope or None), trace=trace,
                         title="Token request (client credentials)")


@functools.lru_cache(maxsize=64)
def _grant_params(client_id: str | None, scope: str | None) -> tuple[tuple[str, str], ...]:
    """oauthlib's body for this client and scope; the same every time, so built once (a client-credentials
    client may fetch a token per job)."""
    body = BackendApplicationClient(client_id).prepare_request_body(scope=scope, include_client_id=False)
    return tuple(body_pairs(body))
