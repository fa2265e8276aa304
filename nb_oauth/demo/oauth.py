"""Assembles Authlib's authorization server and resource protector.

Endpoints (device authorization, revocation, introspection, userinfo), the
RFC 9207 issuer parameter and the token generators live here; the grants
are in ``grants.py``.
"""

from __future__ import annotations

import json
import time
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_qs
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.errors import raise_http_exception
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import JsonRequest, OAuth2Request, TokenValidator
from authlib.oauth2.rfc6750 import (
    BearerTokenGenerator,
    BearerTokenValidator,
    InvalidTokenError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from flask import Flask, Response
from joserfc.jwk import KeySet

from .constants import ALL_SCOPES, PATHS
from .context import DemoContext
from .grants import (
    ALL_AUTH_METHODS,
    SECRET_AUTH_METHODS,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    DemoOpenIDCode,
    DemoOpenIDImplicitGrant,
    DemoOpenIDToken,
    DeviceCodeGrant,
    ImplicitGrant,
    PasswordGrant,
    RefreshTokenGrant,
    user_info,
)
from .models import Client, DeviceCredential, Token, TokenRef, User


class DemoAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, storing into the demo context."""

    def __init__(self, app: Flask, ctx: DemoContext) -> None:
        self.ctx = ctx
        super().__init__(app)

    def query_client(self, client_id: str) -> Client | None:
        return self.ctx.store.get_client(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        now = time.time()
        refresh = token.get("refresh_token")
        code = request.authorization_code
        self.ctx.store.add_token(
            Token(
                access_token=token["access_token"],
                client=request.client,
                scope=token.get("scope", ""),
                expires_in=int(token.get("expires_in", 0)),
                issued_at=now,
                grant_type=request.payload.grant_type or "implicit",
                user=request.user,
                refresh_token=refresh,
                refresh_expires_at=(now + self.ctx.settings.refresh_token_lifetime) if refresh else None,
                code=code.code if code is not None else None,
            )
        )


class DemoIssuerParameter(IssuerParameter):
    """RFC 9207 ``iss`` on every authorization response.

    Authlib appends ``iss`` to the query; for fragment responses (implicit)
    it belongs with the other parameters in the fragment, so put it there.
    """

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx

    def get_issuer(self) -> str | None:
        return self.ctx.issuer or None

    def add_issuer_parameter(self, authorization_server: Any, response: Response) -> None:
        location = response.location
        issuer = self.get_issuer()
        if not (issuer and location):
            return
        parts = urlsplit(location)
        if not parts.fragment:
            super().add_issuer_parameter(authorization_server, response)
            return
        if any(key == "iss" for key, _ in parse_qsl(parts.fragment)):
            return
        fragment = add_params_to_qs(parts.fragment, [("iss", issuer)])
        response.location = urlunsplit(parts._replace(fragment=fragment))


class DemoDeviceAuthorizationEndpoint(DeviceAuthorizationEndpoint):
    """RFC 8628 device authorization; lifetimes come from the live settings."""

    @property
    def ctx(self) -> DemoContext:
        ctx: DemoContext = self.server.ctx
        return ctx

    @property
    def EXPIRES_IN(self) -> int:  # noqa: N802 - Authlib's attribute name
        return self.ctx.settings.device_code_lifetime

    @property
    def INTERVAL(self) -> int:  # noqa: N802 - Authlib's attribute name
        return self.ctx.settings.device_interval

    def get_verification_uri(self) -> str:
        """The page a person opens, so on the front channel when there is one."""
        return self.ctx.front_url(PATHS["device_verification"])

    def save_device_credential(self, client_id: str, scope: str | None, data: dict[str, Any]) -> None:
        client = self.ctx.store.get_client(client_id)
        granted = client.get_allowed_scope(scope) if client else ""
        self.ctx.store.add_device(
            DeviceCredential(
                device_code=data["device_code"],
                user_code=data["user_code"],
                client_id=client_id,
                scope=granted,
                expires_at=time.time() + data["expires_in"],
                interval=data["interval"],
                requested_scope=scope or "",
            )
        )


class DemoRevocationEndpoint(RevocationEndpoint):
    """RFC 7009; public clients may revoke their own tokens."""

    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRef | None:
        return self.server.ctx.store.find_any(token_string, token_type_hint)

    def revoke_token(self, token: TokenRef, request: OAuth2Request) -> None:
        self.server.ctx.store.revoke(token)


class DemoIntrospectionEndpoint(IntrospectionEndpoint):
    """RFC 7662; only a client holding a secret may introspect."""

    CLIENT_AUTH_METHODS = SECRET_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRef | None:
        return self.server.ctx.store.find_any(token_string, token_type_hint)

    def check_permission(self, token: TokenRef, client: Client, request: OAuth2Request) -> bool:
        return not client.is_public

    def introspect_token(self, token: TokenRef) -> dict[str, Any]:
        issued = token.token
        payload: dict[str, Any] = {
            "active": True,
            "client_id": issued.client_id,
            "scope": issued.scope,
            "sub": issued.user.username if issued.user else issued.client_id,
            "aud": issued.client_id,
            "iss": self.server.ctx.issuer,
            "iat": int(issued.issued_at),
        }
        expires_at = token.get_expires_at()
        if expires_at is not None:
            payload["exp"] = int(expires_at)
        if token.kind == "access_token":
            payload["token_type"] = issued.token_type
        if issued.user:
            payload["username"] = issued.user.username
        return payload


class DemoUserInfoEndpoint(UserInfoEndpoint):
    """OIDC userinfo; a token without an end-user has nothing to describe."""

    def get_issuer(self) -> str:
        ctx: DemoContext = self.server.ctx
        return ctx.issuer

    def generate_user_info(self, user: User | None, scope: str) -> UserInfo:
        if user is None:
            raise InvalidTokenError("This access token has no end-user.")
        return user_info(user, scope)

    def resolve_private_key(self) -> KeySet:
        ctx: DemoContext = self.server.ctx
        return ctx.keys


class DemoJWTBearerTokenGenerator(JWTBearerTokenGenerator):
    """RFC 9068 JWT access tokens signed with the server key."""

    def __init__(self, ctx: DemoContext, **kwargs: Any) -> None:
        super().__init__(issuer="", **kwargs)
        self.ctx = ctx

    def get_jwks(self) -> KeySet:
        return self.ctx.keys

    def access_token_generator(self, client: Client, grant_type: str, user: User | None, scope: str) -> str:
        self.issuer = self.ctx.issuer  # known only once the port is bound
        return super().access_token_generator(client, grant_type, user, scope)


class DemoTokenGenerator:
    """Opaque or JWT access tokens, chosen per call from the live settings."""

    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx

        def expires_in(client: Client, grant_type: str) -> int:
            return ctx.settings.access_token_lifetime

        def refresh_token(**kwargs: Any) -> str:
            return generate_token(48)

        def access_token(**kwargs: Any) -> str:
            return generate_token(42)

        self.opaque = BearerTokenGenerator(access_token, refresh_token, expires_in)
        self.jwt = DemoJWTBearerTokenGenerator(
            ctx, refresh_token_generator=refresh_token, expires_generator=expires_in
        )

    def __call__(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        generator = self.jwt if self.ctx.settings.jwt_access_tokens else self.opaque
        return generator(grant_type, client, user, scope, expires_in, include_refresh_token)


class StoreBearerValidator(BearerTokenValidator):
    """Bearer tokens are valid while the store says so (opaque and JWT alike)."""

    def __init__(self, ctx: DemoContext) -> None:
        super().__init__()
        self.ctx = ctx

    def authenticate_token(self, token_string: str) -> Token | None:
        return self.ctx.store.find_access(token_string)


class DemoResourceProtector(ResourceProtector):
    """Bearer protection that also accepts ``?access_token=`` (RFC 6750 §2.3)."""

    def parse_request_authorization(self, request: JsonRequest) -> tuple[TokenValidator, str]:
        if not request.headers.get("Authorization"):
            query = dict(parse_qsl(urlsplit(request.uri).query))
            if query.get("access_token"):
                return self.get_token_validator("bearer"), query["access_token"]
        validator, token = super().parse_request_authorization(request)
        return validator, token

    def raise_error_response(self, error: OAuth2Error) -> NoReturn:
        # RFC 6750 §3: every Bearer rejection, 403 included, carries WWW-Authenticate.
        headers = error.get_headers()
        if not any(name.lower() == "www-authenticate" for name, _ in headers):
            headers.append(("WWW-Authenticate", f'Bearer error="{error.error}"'))
        raise_http_exception(error.status_code, json.dumps(dict(error.get_body())), headers)
        raise AssertionError("raise_http_exception always raises")  # for the type checker: NoReturn

    def require(self, scope: str | None = None) -> Token:
        """Return the request's valid token or abort with the Bearer error."""
        try:
            token: Token = self.acquire_token(scope)
        except OAuth2Error as error:
            self.raise_error_response(error)
        return token


def build_oauth(app: Flask, ctx: DemoContext) -> tuple[DemoAuthorizationServer, DemoResourceProtector]:
    """Wire grants, endpoints and extensions onto a fresh authorization server."""
    server = DemoAuthorizationServer(app, ctx)
    server.scopes_supported = list(ALL_SCOPES)
    server.register_token_generator("default", DemoTokenGenerator(ctx))

    server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=False), DemoOpenIDCode(ctx)])
    server.register_grant(ImplicitGrant)
    server.register_grant(DemoOpenIDImplicitGrant)
    server.register_grant(PasswordGrant, [DemoOpenIDToken(ctx)])
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(RefreshTokenGrant, [DemoOpenIDToken(ctx)])
    server.register_grant(DeviceCodeGrant, [DemoOpenIDToken(ctx)])
    server.register_extension(DemoIssuerParameter(ctx))

    protector = DemoResourceProtector()
    protector.register_token_validator(StoreBearerValidator(ctx))

    server.register_endpoint(DemoDeviceAuthorizationEndpoint(server))
    server.register_endpoint(DemoRevocationEndpoint)
    server.register_endpoint(DemoIntrospectionEndpoint)
    server.register_endpoint(DemoUserInfoEndpoint(resource_protector=protector))

    ctx.authorization_server = server
    ctx.resource_protector = protector
    return server, protector
