"""Client credentials grant (RFC 6749 §4.4): the application itself, no user."""

from __future__ import annotations

from oauthlib.oauth2 import BackendApplicationClient

from .._token import TokenSet
from .._trace import Trace
from ..config import OAuth2Config
from ._token_request import body_pairs, request_token


def fetch(cfg: OAuth2Config, trace: Trace | None) -> TokenSet:
    body = BackendApplicationClient(cfg.client_id).prepare_request_body(scope=cfg.scope or None,
                                                                        include_client_id=False)
    return request_token(cfg, body_pairs(body), trace=trace, title="Token request (client credentials)")
