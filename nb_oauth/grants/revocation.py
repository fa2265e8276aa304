"""Token revocation (RFC 7009): the refresh token first (it can mint new access tokens), then the access token."""

from __future__ import annotations

import time

from .._token import TokenSet
from .._trace import Trace
from .._transport import PreparedCall, server_error
from ..config import OAuth2Config
from ..errors import RevocationError
from ._as_call import send_as_client


def revoke_token_set(cfg: OAuth2Config, token_set: TokenSet, trace: Trace | None = None) -> None:
    """Revoke both tokens at ``cfg.revocation_url``; an error status is a :class:`RevocationError`."""
    secrets: list[str | None] = [cfg.client_secret, cfg.client_assertion_key, *token_set.secrets()]
    for value, hint in ((token_set.refresh_token, "refresh_token"), (token_set.access_token, "access_token")):
        if not value:
            continue
        started = time.time()
        sent = send_as_client(cfg, lambda value=value, hint=hint: PreparedCall(  # type: ignore[misc]
            "POST", cfg.revocation_url or "", [("token", value), ("token_type_hint", hint)]),
            secrets=secrets, what="revocation request")
        call, resp = sent.call, sent.response
        if trace is not None:
            trace.record(f"Revoke {hint.replace('_', ' ')}", "notebook", "server", method="POST", url=call.url,
                         params=call.body, status=resp.status, started=started, duration=resp.elapsed)
        if resp.status != 200:
            error, description = server_error(resp)
            if error == "unsupported_token_type" and hint == "refresh_token":
                continue
            raise RevocationError(f"The revocation request for the {hint.replace('_', ' ')} failed with HTTP "
                                  f"{resp.status}.", error=error, error_description=description, status=resp.status,
                                  secrets=secrets, fix="The token is kept; check the client credentials and try again.")
