"""Token exchange (RFC 8693): trade a subject token (and optionally an actor token) for a new token.

The subject token is ``subject_token`` (usually ``{{VAR}}``) or the current access token of the stored
token ``subject_token_name``; the store hands the latter in (refreshed first if due), since grants sit
below the store. The result is an ordinary token set; without a refresh token the store exchanges
again from the current subject token when it expires.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from .._token import TokenSet
from .._trace import Trace
from ..config import OAuth2Config
from ..errors import ConfigError, RefreshError, TokenEndpointError
from ._token_request import request_token

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"


def fetch(cfg: OAuth2Config, trace: Trace | None, *, subject_token: str | None = None,
          renewing: bool = False) -> TokenSet:
    """A new token for the subject token; ``renewing`` (the store's re-exchange): failures are RefreshErrors."""
    subject = subject_token or cfg.subject_token
    if not subject:
        raise ConfigError("The token_exchange grant needs a subject token.",
                          fix="Set subject_token='{{VAR}}' or subject_token_name='<a stored token>'.")
    params = [("grant_type", GRANT_TYPE), ("subject_token", subject), ("subject_token_type", cfg.subject_token_type)]
    if cfg.actor_token:
        params += [("actor_token", cfg.actor_token),
                   ("actor_token_type", cfg.actor_token_type or "urn:ietf:params:oauth:token-type:access_token")]
    if cfg.requested_token_type:
        params.append(("requested_token_type", cfg.requested_token_type))
    if cfg.scope:
        params.append(("scope", cfg.scope))
    return request_token(cfg, params, trace=trace, title="Token exchange request", extra_secrets=[subject],
                         error_cls=RefreshError if renewing else TokenEndpointError)


def stored_subject(cfg: OAuth2Config, current: Callable[[str], TokenSet], stored: Container[str], *,
                   renewing: bool = False) -> str | None:
    """The current access token of ``subject_token_name`` (``current`` refreshes it first if due), or None."""
    name = cfg.subject_token_name
    if not name:
        return None
    if name == cfg.token_name:
        raise ConfigError("subject_token_name names the token being made.",
                          fix="Name another stored token, the one to exchange.")
    if name not in stored:
        error_cls = RefreshError if renewing else ConfigError
        raise error_cls(f"subject_token_name {name!r} names no stored token, so there is nothing to exchange.",
                        fix=f"Get token {name!r} first (get_new_access_token or %oauth_token), or set "
                            "subject_token='{{VAR}}'.")
    return current(name).access_token
