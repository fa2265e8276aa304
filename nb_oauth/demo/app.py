"""Flask application factory for the demo authorization server."""

from __future__ import annotations

import secrets

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue

from . import api, endpoints, pages
from .constants import ALL_SCOPES, PATHS
from .context import EXTENSION_KEY, DemoContext, current_context
from .front_door import FrontDoor
from .oauth import build_oauth

#: Request paths counted in ``DemoServer.stats`` under a short name.
COUNTED_PATHS = {
    PATHS["revocation_endpoint"]: "revoke",
    PATHS["introspection_endpoint"]: "introspect",
    PATHS["device_authorization_endpoint"]: "device_authorization",
    PATHS["userinfo_endpoint"]: "userinfo",
    PATHS["jwks_uri"]: "jwks",
    PATHS["openid_configuration"]: "discovery",
    PATHS["oauth_authorization_server"]: "discovery",
}


def _count_and_inject() -> ResponseReturnValue | None:
    """Count requests, and answer token requests from the fault queue when armed."""
    ctx = current_context()
    path = request.path
    if path == PATHS["token_endpoint"] and request.method == "POST":
        ctx.stats.incr("token")
        grant_type = request.form.get("grant_type")
        if grant_type:
            ctx.stats.incr(f"token:{grant_type}")
        fault = ctx.faults.take()
        if fault is not None:
            ctx.stats.incr("token:injected_fault")
            return Response(
                fault.body,
                status=fault.status,
                content_type=fault.content_type,
                headers={"Cache-Control": "no-store"},
            )
    elif path.startswith("/api/"):
        ctx.stats.incr("api")
    elif path in COUNTED_PATHS:
        ctx.stats.incr(COUNTED_PATHS[path])
    return None


def create_app(ctx: DemoContext) -> Flask:
    """Build the Flask app around ``ctx``; the session key is random per app."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_NAME="nb_oauth_demo_session",
        SESSION_COOKIE_SAMESITE="Lax",
        OAUTH2_SCOPES_SUPPORTED=list(ALL_SCOPES),
    )
    app.extensions[EXTENSION_KEY] = ctx
    build_oauth(app, ctx)
    app.before_request(_count_and_inject)
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    # The sign-in pages learn the address the browser used (behind jupyter-server-proxy); nothing else does.
    app.wsgi_app = FrontDoor(app.wsgi_app, ctx.front_channel_url)  # type: ignore[method-assign]
    return app
