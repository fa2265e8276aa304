"""What the demo server issues: authorization codes, tokens and device authorizations.

Split from :mod:`.models` so the issued artefacts, each with the expiry and revocation
rules Authlib asks of it, sit apart from the parties they belong to (:mod:`.parties`) and
from the store that indexes them (:mod:`.models`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc8628 import DeviceCredentialMixin
from authlib.oidc.core import AuthorizationCodeMixin

from .parties import Client, User

__all__ = ["AuthorizationCode", "DeviceCredential", "Token", "TokenRef"]



@dataclass(eq=False)
class AuthorizationCode(AuthorizationCodeMixin):
    """An issued authorization code with its PKCE and OIDC context."""

    code: str
    client_id: str
    redirect_uri: str | None
    scope: str
    user: User
    expires_at: float
    nonce: str | None = None
    auth_time: int | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    used: bool = False

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        return self.auth_time

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass(eq=False)
class Token(TokenMixin):
    """One token issuance; mixin methods answer for the access token."""

    access_token: str
    client: Client
    scope: str
    expires_in: int
    issued_at: float
    grant_type: str
    user: User | None = None
    refresh_token: str | None = None
    refresh_expires_at: float | None = None
    code: str | None = None
    token_type: str = "Bearer"
    access_revoked: bool = False
    refresh_revoked: bool = False

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def expires_at(self) -> float:
        return self.issued_at + self.expires_in

    def check_client(self, client: ClientMixin) -> bool:
        return self.client.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.access_revoked

    def refresh_usable(self) -> bool:
        """A refresh token works until rotated, revoked or past its lifetime."""
        if self.refresh_token is None or self.refresh_revoked:
            return False
        return self.refresh_expires_at is None or time.time() < self.refresh_expires_at

    def get_user(self) -> User | None:
        return self.user

    def get_client(self) -> Client:
        return self.client


@dataclass(eq=False)
class TokenRef(TokenMixin):
    """A token looked up by one of its two strings.

    Revocation and introspection receive either string; this remembers which
    one so expiry and revocation are judged for that string only.
    """

    token: Token
    kind: Literal["access_token", "refresh_token"]

    @property
    def scope(self) -> str:
        return self.token.scope

    def check_client(self, client: ClientMixin) -> bool:
        return self.token.check_client(client)

    def get_scope(self) -> str:
        return self.token.scope

    def get_expires_in(self) -> int:
        return self.token.expires_in

    def get_expires_at(self) -> float | None:
        if self.kind == "access_token":
            return self.token.expires_at
        return self.token.refresh_expires_at

    def is_expired(self) -> bool:
        if self.kind == "access_token":
            return self.token.is_expired()
        expires_at = self.token.refresh_expires_at
        return expires_at is not None and time.time() >= expires_at

    def is_revoked(self) -> bool:
        if self.kind == "access_token":
            return self.token.access_revoked
        return self.token.refresh_revoked

    def get_user(self) -> User | None:
        return self.token.user

    def get_client(self) -> Client:
        return self.token.client


@dataclass(eq=False)
class DeviceCredential(DeviceCredentialMixin):
    """A pending RFC 8628 device authorization and the user's decision on it."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: float
    requested_scope: str = ""
    last_poll: float | None = None
    user: User | None = None
    approved: bool | None = None

    def get_client_id(self) -> str:
        return self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_user_code(self) -> str:
        return self.user_code

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at
