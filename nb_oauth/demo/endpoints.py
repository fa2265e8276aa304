"""Machine-facing endpoints: token, device, revocation, introspection,
userinfo, JWKS and discovery. Each is a thin route onto Authlib."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InsecureTransportError
from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from .constants import ALL_SCOPES, DEVICE_CODE_GRANT_TYPE, PATHS
from .context import DemoContext, current_context
from .oauth import DemoAuthorizationServer

bp = Blueprint("endpoints", __name__)

#: Metadata keys that name endpoints, mapped to their paths.
ENDPOINT_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
)


def server_metadata(ctx: DemoContext) -> dict[str, Any]:
    """RFC 8414 / OIDC Discovery document; both well-known URLs serve it.

    The authorization endpoint is a page for the browser, so it is on the front
    channel when there is one; everything else is for the client's back channel.
    """
    metadata: dict[str, Any] = {"issuer": ctx.issuer}
    metadata.update({key: ctx.url(PATHS[key]) for key in ENDPOINT_KEYS})
    metadata["authorization_endpoint"] = ctx.front_url(PATHS["authorization_endpoint"])
    metadata.update(
        {
            "scopes_supported": list(ALL_SCOPES),
            "response_types_supported": ["code", "token", "id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": [
                "authorization_code",
                "implicit",
                "password",
                "client_credentials",
                "refresh_token",
                DEVICE_CODE_GRANT_TYPE,
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "name",
                "preferred_username",
                "email",
                "email_verified",
            ],
            "authorization_response_iss_parameter_supported": True,
        }
    )
    return metadata


def _server() -> DemoAuthorizationServer:
    server = current_context().authorization_server
    assert server is not None
    return server


@bp.errorhandler(InsecureTransportError)
def insecure_transport(error: InsecureTransportError) -> ResponseReturnValue:
    """RFC 6749 §3.1 / §3.2: an endpoint reached over http under a non-loopback name answers with an OAuth error."""
    body = {
        "error": error.error,
        "error_description": "This endpoint was reached over plain http under a name that is not loopback; "
        "use https, or the loopback address the issuer names.",
    }
    return jsonify(body), 400, {"Cache-Control": "no-store"}


@bp.post(PATHS["token_endpoint"])
def token() -> ResponseReturnValue:
    return _server().create_token_response()


@bp.post(PATHS["device_authorization_endpoint"])
def device_authorization() -> ResponseReturnValue:
    return _server().create_endpoint_response("device_authorization")


@bp.post(PATHS["revocation_endpoint"])
def revoke() -> ResponseReturnValue:
    return _server().create_endpoint_response("revocation")


@bp.post(PATHS["introspection_endpoint"])
def introspect() -> ResponseReturnValue:
    return _server().create_endpoint_response("introspection")


@bp.route(PATHS["userinfo_endpoint"], methods=["GET", "POST"])
def userinfo() -> ResponseReturnValue:
    return _server().create_endpoint_response("userinfo")


@bp.get(PATHS["jwks_uri"])
def jwks() -> ResponseReturnValue:
    return jsonify(current_context().public_jwks)


@bp.get(PATHS["openid_configuration"])
@bp.get(PATHS["oauth_authorization_server"])
def discovery() -> ResponseReturnValue:
    return jsonify(server_metadata(current_context()))


@bp.get("/")
def index() -> ResponseReturnValue:
    """A landing document so a bare GET shows where everything is."""
    ctx = current_context()
    return jsonify(
        {
            "name": "nb_oauth demo authorization server",
            "issuer": ctx.issuer,
            "discovery": ctx.url(PATHS["openid_configuration"]),
        }
    )
