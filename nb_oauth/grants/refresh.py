"""Refresh token grant (RFC 6749 §6): a new access token, the same custom parameters as before."""

from __future__ import annotations

from oauthlib.oauth2 import WebApplicationClient

from .._token import TokenSet
from .._trace import Trace
from ..config import OAuth2Config
from ..errors import (
    InvalidRefreshResponseError,
    InvalidTokenResponseError,
    NetworkError,
    OAuthError,
    RefreshError,
    RefreshNetworkError,
    TokenEndpointError,
)
from ._token_request import body_pairs, request_token


def refresh(cfg: OAuth2Config, current: TokenSet, trace: Trace | None) -> TokenSet:
    """Exchange ``current.refresh_token``; the answer inherits what it leaves out (e.g. no new refresh token)."""
    if not current.refresh_token:
        raise RefreshError("This token has no refresh token, so it cannot be refreshed.")
    body = WebApplicationClient(cfg.client_id or "").prepare_refresh_body(refresh_token=current.refresh_token,
                                                                          scope=None)
    try:
        return _request(cfg, body, current, trace)
    except RefreshError:
        raise
    except NetworkError as exc:  # a refresh failure is a RefreshError whatever its cause
        raise _as(RefreshNetworkError, exc) from None
    except InvalidTokenResponseError as exc:
        raise _as(InvalidRefreshResponseError, exc) from None
    except TokenEndpointError as exc:
        raise _as(RefreshError, exc) from None


def _as(cls: type[OAuthError], exc: OAuthError) -> OAuthError:
    """The same failure, also a :class:`RefreshError` (message, server error and status kept)."""
    new = cls.__new__(cls)
    Exception.__init__(new, *exc.args)
    new.__dict__.update(exc.__dict__)
    return new


def _request(cfg: OAuth2Config, body: str, current: TokenSet, trace: Trace | None) -> TokenSet:
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
