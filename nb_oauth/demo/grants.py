"""Authlib grants and OpenID Connect extensions bound to the in-memory store.

Each class only answers Authlib's storage questions ("find this code",
"who approved this device"); the protocol rules stay in Authlib.

Refresh tokens: issued for the authorization_code, password and device_code
grants (and on every refresh), never for client_credentials or implicit.
``offline_access`` is accepted as a scope but changes nothing. Every refresh
rotates: the new response carries a new refresh token and the old one stops
working at once; the old access token stays valid until it expires.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc8628 import DeviceCodeGrant as _DeviceCodeGrant
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode, OpenIDImplicitGrant, OpenIDToken
from flask import session
from joserfc.jwk import KeySet

from .models import (
    AuthorizationCode,
    Client,
    DeviceCredential,
    Token,
    User,
    authenticate_user,
)

if TYPE_CHECKING:
    from .context import DemoContext

ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
SECRET_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def user_info(user: User, scope: str) -> UserInfo:
    """OIDC claims for ``user``, trimmed to what ``scope`` allows."""
    claims = UserInfo(
        sub=user.username,
        name=user.name,
        preferred_username=user.username,
        email=user.email,
        email_verified=True,
    )
    return claims.filter(scope)


def _ctx(grant: grants.BaseGrant) -> DemoContext:
    ctx: DemoContext = grant.server.ctx
    return ctx


class _IDTokenSigning:
    """How this server signs ID tokens: RS256, the server key set, iss/aud claims."""

    def _context(self) -> DemoContext:
        raise NotImplementedError

    def resolve_client_private_key(self, client: Client) -> KeySet:
        return self._context().keys

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self._context().issuer, "aud": client.get_client_id()}

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return user_info(user, scope)


class DemoOpenIDToken(_IDTokenSigning, OpenIDToken):
    """Adds ``id_token`` to password, refresh and device token responses."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx

    def _context(self) -> DemoContext:
        return self.ctx


class DemoOpenIDCode(_IDTokenSigning, OpenIDCode):
    """OIDC for the code flow; a nonce may be used once per client."""

    def __init__(self, ctx: DemoContext) -> None:
        super().__init__(require_nonce=False)
        self.ctx = ctx

    def _context(self) -> DemoContext:
        return self.ctx

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self.ctx.store.nonce_seen(request.payload.client_id, nonce)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """Code grant for both clients; PKCE (S256 or plain) is optional."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        ctx = _ctx(self)
        data = request.payload.data
        client_id = request.client.get_client_id()
        nonce = data.get("nonce")
        ctx.store.add_code(
            AuthorizationCode(
                code=code,
                client_id=client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope or "",
                user=request.user,
                expires_at=time.time() + ctx.settings.authorization_code_lifetime,
                nonce=nonce,
                auth_time=session.get("auth_time"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )
        )
        ctx.store.remember_nonce(client_id, nonce)

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        # Claimed atomically here, so two racing exchanges cannot both win.
        return _ctx(self).store.claim_code(code, client)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        authorization_code.used = True

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        return authorization_code.user


class ImplicitGrant(grants.ImplicitGrant):
    """``response_type=token``; needs nothing beyond the server's ``save_token``."""


class DemoOpenIDImplicitGrant(_IDTokenSigning, OpenIDImplicitGrant):
    """``response_type=id_token token`` (and ``id_token``); nonce is required."""

    def _context(self) -> DemoContext:
        return _ctx(self)

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return _ctx(self).store.nonce_seen(request.payload.client_id, nonce)

    def create_authorization_response(self, redirect_uri: str, grant_user: User | None) -> Any:
        if not grant_user:
            # Raised rather than returned so the server adds ``state`` (Authlib's
            # OIDC implicit denial leaves it out).
            raise AccessDeniedError(redirect_uri=redirect_uri, redirect_fragment=True)
        result = super().create_authorization_response(redirect_uri, grant_user)
        _ctx(self).store.remember_nonce(
            self.request.client.get_client_id(), self.request.payload.data.get("nonce")
        )
        return result


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    """Resource-owner password grant for both clients."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def authenticate_user(self, username: str, password: str) -> User:
        user = authenticate_user(username, password)
        if user is None:
            # RFC 6749 §5.2 names bad owner credentials invalid_grant.
            raise InvalidGrantError("Invalid username or password.")
        return user


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Client credentials; only a client with a secret can use it."""

    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_AUTH_METHODS


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh with rotation; a used refresh token is dead immediately."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token = _ctx(self).store.find_refresh(refresh_token)
        if token is None or not token.refresh_usable():
            return None
        return token

    def authenticate_user(self, refresh_token: Token) -> User | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: Token) -> None:
        _ctx(self).store.revoke_refresh(refresh_token)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # Re-check under the store lock so concurrent refreshes of one token
        # yield exactly one success, as a rotating server must.
        store = _ctx(self).store
        with store.lock:
            if not self.request.refresh_token.refresh_usable():
                raise InvalidGrantError()
            return super().create_token_response()


class DeviceCodeGrant(_DeviceCodeGrant):
    """RFC 8628 polling; Authlib decides pending / slow_down / expired / denied."""

    def query_device_credential(self, device_code: str) -> DeviceCredential | None:
        return _ctx(self).store.find_device(device_code)

    def query_user_grant(self, user_code: str) -> tuple[User, bool] | None:
        credential = _ctx(self).store.find_device_by_user_code(user_code)
        if credential is None or credential.approved is None or credential.user is None:
            return None
        return credential.user, credential.approved

    def should_slow_down(self, credential: DeviceCredential) -> bool:
        return _ctx(self).store.note_poll(credential)

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # A device code yields one token set; later polls find no code.
        store = _ctx(self).store
        credential: DeviceCredential = self.request.credential
        with store.lock:
            if store.find_device(credential.device_code) is None:
                raise InvalidGrantError("The device code was already used.")
            result = super().create_token_response()
            store.remove_device(credential)
            return result
