"""Refresh token grant (RFC 6749 §6): a new access token, the same custom parameters as before."""

from __future__ import annotations

from oauthlib.oauth2 import WebApplicationClient

from ..config import OAuth2Config
from ..errors import RefreshError
from ..token import TokenSet
from ..trace import Trace
from .common import body_pairs, request_token


def refresh(cfg: OAuth2Config, current: TokenSet, trace: Trace | None) -> TokenSet:
    """Exchange ``current.refresh_token``; the answer inherits what it leaves out (e.g. no new refresh token)."""
    if not current.refresh_token:
        raise RefreshError("This token has no refresh token, so it cannot be refreshed.")
    body = WebApplicationClient(cfg.client_id or "").prepare_refresh_body(refresh_token=current.refresh_token,
                                                                          scope=None)
    return request_token(
        cfg,
        body_pairs(body),
        trace=trace,
        title="Refresh request",
        url=cfg.effective_refresh_token_url,
        custom=cfg.refresh_request_params,
        include_audience=False,
        previous=current,
        error_cls=RefreshError,
        requested_scope=current.requested_scope,
    )
