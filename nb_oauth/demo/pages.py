"""The browser-facing pages: sign-in, consent and device verification.

Plain HTML forms, no JavaScript, so both a real browser and the scripted
robot can drive them. Forms post back to the same URL with the original
OAuth parameters in the query, so a flow survives the sign-in step. The
login session lives in Flask's signed cookie; every form carries a CSRF
token bound to that session.

Every form action and redirect between these pages is a *relative* URL
(``authorize?...``, ``device``), so the pages also work under a path prefix,
e.g. ``/user/x/proxy/8750/authorize`` behind jupyter-server-proxy.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint, Response, redirect, render_template, request, session
from flask.typing import ResponseReturnValue

from .constants import PATHS, SCOPE_DESCRIPTIONS
from .context import DemoContext, current_context
from .front_door import insecure_page_advice
from .models import USERS, Client, User, authenticate_user
from .oauth import DemoIssuerParameter

bp = Blueprint("pages", __name__)

#: Form fields that belong to these pages, not to the OAuth request.
UI_FIELDS = frozenset({"username", "password", "action", "consent", "csrf_token"})
SESSION_EXPIRED = "Your session expired. Please try again."


def normalize_user_code(raw: str) -> str:
    """Accept ``bcdf ghjk`` or ``BCDFGHJK`` for ``BCDF-GHJK``; people retype codes."""
    chars = "".join(ch for ch in raw.upper() if ch.isalnum())
    if len(chars) == 8:
        return f"{chars[:4]}-{chars[4:]}"
    return raw.strip().upper()


def _current_user() -> User | None:
    username = session.get("user")
    return USERS.get(username) if isinstance(username, str) else None


def _sign_in(user: User) -> None:
    session["user"] = user.username
    session["auth_time"] = int(time.time())


def _csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get("csrf_token", "")
    return isinstance(expected, str) and secrets.compare_digest(expected, given)


def _authorize_action() -> str:
    """This authorization request's URL, whether its parameters came by GET or POST."""
    params = list(request.args.items(multi=True))
    if request.method == "POST":
        params += [(k, v) for k, v in request.form.items(multi=True) if k not in UI_FIELDS]
    return f"{_relative(PATHS['authorization_endpoint'])}?{urlencode(params)}"


def _relative(path: str) -> str:
    """A page path as a URL relative to its sibling pages (``/device`` -> ``device``)."""
    return path.lstrip("/")


def _scope_rows(client: Client, requested: str | None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split the requested scopes into granted and silently dropped ones, for display."""
    granted = scope_to_list(client.get_allowed_scope(requested)) or []
    asked = scope_to_list(requested) or []
    dropped = [s for s in dict.fromkeys(asked) if s not in granted]
    describe = SCOPE_DESCRIPTIONS.get
    return [(s, describe(s, s)) for s in granted], [(s, describe(s, s)) for s in dropped]


def _render_login(
    client: Client | None,
    action: str,
    hidden: list[tuple[str, str]] | None = None,
    error: str | None = None,
) -> str:
    return render_template(
        "login.html",
        client=client,
        action=action,
        hidden=hidden or [],
        error=error,
        username=request.form.get("username", ""),
        csrf_token=_csrf_token(),
    )


def _render_consent(
    client: Client,
    user: User,
    requested: str | None,
    action: str,
    hidden: list[tuple[str, str]] | None = None,
    device: bool = False,
    redirect_uri: str | None = None,
) -> str:
    granted, dropped = _scope_rows(client, requested)
    return render_template(
        "consent.html",
        client=client,
        user=user,
        granted=granted,
        dropped=dropped,
        action=action,
        hidden=hidden or [],
        device=device,
        redirect_host=urlsplit(redirect_uri).netloc if redirect_uri else None,
        csrf_token=_csrf_token(),
    )


def _authorization_error(ctx: DemoContext, error: OAuth2Error) -> ResponseReturnValue:
    """Redirect the error to the client when its redirect URI is trusted, else show it."""
    server = ctx.authorization_server
    assert server is not None
    if error.redirect_uri:
        response: Response = server.handle_error_response(None, error)
        DemoIssuerParameter(ctx).add_issuer_parameter(server, response)
        ctx.stats.incr("authorize")
        return response
    status = error.status_code if 400 <= (error.status_code or 0) < 500 else 400
    if error.error == "insecure_transport":  # reached over http under a non-loopback name: say how to serve it
        page = render_template("error.html", error=error.error, description=insecure_page_advice(request.url),
                               server_setup=True)
        return page, status
    page = render_template("error.html", error=error.error, description=error.get_error_description())
    return page, status


@bp.route(PATHS["authorization_endpoint"], methods=["GET", "POST"])
def authorize() -> ResponseReturnValue:
    """Authorization endpoint: validate, sign in, ask consent, redirect back."""
    ctx = current_context()
    server = ctx.authorization_server
    assert server is not None
    user = _current_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return _authorization_error(ctx, error)
    client: Client = grant.request.client
    action = _authorize_action()

    if request.method == "POST":
        if not _csrf_ok():
            if user is None:
                return _render_login(client, action, error=SESSION_EXPIRED)
        elif request.form.get("action") == "login":
            user = authenticate_user(request.form.get("username", ""), request.form.get("password", ""))
            if user is None:
                return _render_login(client, action, error="Wrong username or password.")
            _sign_in(user)
            return redirect(action, code=303)
        elif user is not None and request.form.get("consent") in ("allow", "deny"):
            allowed = request.form["consent"] == "allow"
            ctx.stats.incr("authorize")
            return server.create_authorization_response(grant_user=user if allowed else None, grant=grant)

    if user is None:
        return _render_login(client, action)
    if "none" in (request.values.get("prompt") or "").split():
        # Consent is never remembered here, so a silent request cannot succeed.
        refusal = ConsentRequiredError(
            redirect_uri=grant.redirect_uri, redirect_fragment=grant.ERROR_RESPONSE_FRAGMENT
        )
        refusal.state = request.values.get("state")
        return _authorization_error(ctx, refusal)
    return _render_consent(
        client, user, request.values.get("scope"), action, redirect_uri=grant.redirect_uri
    )


def _render_device_code(user_code: str, error: str | None = None) -> str:
    return render_template(
        "device.html",
        action=_relative(PATHS["device_verification"]),
        user_code=user_code,
        error=error,
        csrf_token=_csrf_token(),
    )


@bp.route(PATHS["device_verification"], methods=["GET", "POST"])
def device() -> ResponseReturnValue:
    """RFC 8628 verification page: confirm the code, sign in, approve or deny."""
    ctx = current_context()
    user_code = normalize_user_code(request.values.get("user_code", ""))
    if request.method == "GET":
        return _render_device_code(user_code)
    if not _csrf_ok():
        return _render_device_code(user_code, error=SESSION_EXPIRED)

    credential = ctx.store.find_device_by_user_code(user_code) if user_code else None
    if credential is None or credential.is_expired() or credential.approved is not None:
        return _render_device_code(user_code, error="That code is not valid, or it has expired or been used.")
    client = ctx.store.get_client(credential.client_id)
    assert client is not None
    action = _relative(PATHS["device_verification"])
    hidden = [("user_code", credential.user_code)]

    user = _current_user()
    if request.form.get("action") == "login":
        user = authenticate_user(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            return _render_login(client, action, hidden, error="Wrong username or password.")
        _sign_in(user)
    elif user is None:
        return _render_login(client, action, hidden)

    consent = request.form.get("consent")
    if consent in ("allow", "deny"):
        approved = consent == "allow"
        if not ctx.store.decide_device(credential, user, approved):
            return _render_device_code(user_code, error="That code was already used.")
        ctx.stats.incr("device:approved" if approved else "device:denied")
        return render_template("device_done.html", approved=approved, client=client)
    return _render_consent(client, user, credential.requested_scope, action, hidden, device=True)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    """Forget the signed-in user; ``next`` may point back to a page on this server.

    Only a URL without scheme and host is followed; a relative one (``authorize?...``)
    also keeps a proxy's path prefix.
    """
    session.clear()
    target = request.values.get("next", "")
    if _is_local_reference(target):
        return redirect(target, code=303)
    return render_template("signed_out.html")


def _is_local_reference(target: str) -> bool:
    """A same-server URL reference: no scheme, no host (``//host``), no backslash tricks."""
    if not target or "\\" in target or target.startswith("//") or any(ord(c) < 32 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
