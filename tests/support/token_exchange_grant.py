"""RFC 8693 token exchange for the demo authorization server, built on Authlib's grant base classes.

Authlib ships no token exchange grant, and oidc-provider has none: this one is registered on a test's own
demo server (:func:`enable`). It authenticates the client (a confidential one), accepts a subject token
(and an actor token) that the server itself issued and that is still valid, and issues a new access token
for the subject's user, with ``issued_token_type``. ``audience`` must be one the test allows.
"""

from __future__ import annotations

from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, OAuth2Error, grants

ACCESS = "urn:ietf:params:oauth:token-type:access_token"


class InvalidTargetError(OAuth2Error):
    """RFC 8693 §2.2.2: the server will not issue a token for the audience or resource asked for."""

    error = "invalid_target"
    status_code = 400


class TokenExchangeGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]
    allowed_audiences: ClassVar[tuple[str, ...]] = ("https://backend.example",)

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        form = self.request.payload.data
        store = self.server.ctx.store
        if form.get("subject_token_type") != ACCESS:
            raise InvalidRequestError("subject_token_type must be an access token type")
        subject = store.find_access(form.get("subject_token") or "")
        if subject is None or subject.is_expired() or subject.is_revoked():
            raise InvalidGrantError("the subject token is not valid")
        if form.get("actor_token"):
            actor = store.find_access(form["actor_token"])
            if actor is None or actor.is_expired() or form.get("actor_token_type") != ACCESS:
                raise InvalidGrantError("the actor token is not valid")
            self.actor_client_id = actor.client_id
        audience = form.get("audience")
        if audience and audience not in self.allowed_audiences:
            raise InvalidTargetError("unknown audience")
        self.request.client = client
        self.request.user = subject.user
        self._subject = subject

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        scope = self.request.payload.scope or self._subject.scope
        token = self.generate_token(user=self.request.user, scope=scope, include_refresh_token=False)
        token["issued_token_type"] = ACCESS
        if getattr(self, "actor_client_id", None):
            token["act"] = {"client_id": self.actor_client_id}  # RFC 8693 §4.1, as a response field here
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


def enable(demo_server: Any) -> None:
    """Register the grant on a running demo server's Authlib authorization server."""
    demo_server._ctx.authorization_server.register_grant(TokenExchangeGrant)
