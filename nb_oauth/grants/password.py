"""Resource owner password credentials grant (RFC 6749 §4.3), for APIs that still offer it."""

from __future__ import annotations

from oauthlib.oauth2 import LegacyApplicationClient

from .._token import TokenSet
from .._trace import Trace
from ..config import OAuth2Config
from ._token_request import body_pairs, request_token


def fetch(cfg: OAuth2Config, trace: Trace | None) -> TokenSet:
    client = LegacyApplicationClient(cfg.client_id or "")
    body = client.prepare_request_body(username=cfg.username, password=cfg.password, scope=cfg.scope or None,
                                       include_client_id=False)
    return request_token(cfg, body_pairs(body), trace=trace, title="Token request (password)")
