"""The grants that send the user's browser to the provider and back: authorization code
(with or without PKCE) and implicit.

oauthlib builds the authorization URL and reads the redirect.  Its transport check is
process-wide (``OAUTHLIB_INSECURE_TRANSPORT``); nb_oauth applies its own per-config rule
instead (https, loopback http, or ``allow_insecure_http``), already enforced in
:mod:`nb_oauth.config`, and hands oauthlib an https view of URLs that passed that rule.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from oauthlib.common import add_params_to_uri
from oauthlib.oauth2 import MobileApplicationClient, WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import MismatchingStateError, OAuth2Error

from .._presenter import presenter
from .._token import TokenSet
from .._trace import Trace
from .._transport import _check_fields, narrowed_scope_notice
from ..config import OAuth2Config, is_loopback_host
from ..errors import (
    AuthorizationDeniedError,
    InvalidTokenResponseError,
    RedirectURLNeeded,
    StateMismatchError,
)
from ..redirect.browser import open_in_browser
from ..redirect.callback import (
    CallbackPlan,
    Environment,
    default_authorize_using_browser,
    detect_environment,
    loopback_page_advice,
    no_route_reason,
    plan_callback,
)
from ..redirect.listener import CallbackListener, CallbackResult, callback_timeout
from ._token_request import (
    audience_and_resource,
    body_pairs,
    config_secrets,
    request_token,
)

PKCE_VERIFIER_LENGTH = 64


def _https_view(url: str) -> str:
    """The same URL with an https scheme, for oauthlib's process-wide transport check only."""
    parts = urlsplit(url)
    return urlunsplit(("https", *tuple(parts[1:]))) if parts.scheme == "http" else url


def _restore_scheme(built: str, original: str) -> str:
    if urlsplit(original).scheme == "http" and built.startswith("https://"):
        return "http://" + built[len("https://"):]
    return built


def implicit_response_type(cfg: OAuth2Config) -> str:
    """``token`` (RFC 6749 §4.2), or ``id_token token`` (OIDC Core §3.2) when ``openid`` is asked for and the
    provider's discovery document offers that combination (some OIDC providers refuse a bare ``token``)."""
    if "openid" not in cfg.scopes or not cfg.issuer:
        return "token"
    from ..errors import OAuthError
    from ..oidc.discovery import metadata

    try:
        supported = metadata(cfg.issuer, allow_http=cfg.allow_insecure_http).get("response_types_supported") or []
    except OAuthError:
        return "token"
    offered = {frozenset(str(t).split()) for t in supported if isinstance(t, str)}
    if frozenset({"id_token", "token"}) in offered:
        return "id_token token"
    return "token"


def fixed_value_notice(names: list[str]) -> str:
    """What a login with a configured ``state`` / ``code_verifier`` says (once per login; never the values)."""
    parts = []
    if "state" in names:
        parts.append("a fixed state weakens CSRF protection (anyone who knows it can slip their own login into "
                     "yours)")
    if "code_verifier" in names:
        parts.append("a fixed code_verifier defeats PKCE (a stolen code can be redeemed with it)")
    return ("Warning: this login reuses the configured " + " and ".join(names) + ": " + "; ".join(parts)
            + ". Leave them empty to get fresh random values on every login.")


def _iss_promised(cfg: OAuth2Config) -> bool:
    """Whether the issuer's metadata says every authorization response carries ``iss`` (RFC 9207 §3)."""
    from ..errors import OAuthError
    from ..oidc.discovery import metadata

    try:
        doc = metadata(cfg.issuer or "", allow_http=cfg.allow_insecure_http)
    except OAuthError:
        return False  # no document: the login already worked without one
    return doc.get("authorization_response_iss_parameter_supported") is True


class RedirectFlow:
    """One authorization-code or implicit login: :meth:`start` gives the URL, :meth:`wait` the token."""

    def __init__(self, cfg: OAuth2Config, trace: Trace | None = None, *, env: Environment | None = None,
                 open_browser: bool | None = None, timeout: float | None = None) -> None:
        self.cfg = cfg
        self.trace = trace
        self.env = env or detect_environment()
        self.open_browser = (cfg.authorize_using_browser if open_browser is None else open_browser)
        if self.open_browser is None:
            self.open_browser = default_authorize_using_browser(self.env)
        self.timeout = callback_timeout(timeout or cfg.callback_timeout)
        self.implicit = cfg.grant_type == "implicit"
        self.state = cfg.state or secrets.token_urlsafe(24)
        self.nonce: str | None = None
        self.code_verifier: str | None = None
        self.plan: CallbackPlan = plan_callback(cfg.callback_url, self.env)
        self.listener: CallbackListener | None = None
        self.redirect_uri: str = ""
        self.authorization_url: str = ""
        self.deadline: float = 0.0

    # -- step 1: the authorization request -----------------------------------------------------------

    def start(self) -> str:
        cfg = self.cfg
        if self.plan.bind_host is not None:
            self.listener = CallbackListener(self.state, host=self.plan.bind_host, port=self.plan.bind_port,
                                             path=self.plan.path).start()
        self.redirect_uri = self.plan.redirect_uri(self.listener.port if self.listener else None)
        extra: dict[str, str] = {}
        if "openid" in cfg.scopes:
            self.nonce = cfg.nonce or secrets.token_urlsafe(16)
            extra["nonce"] = self.nonce
        given = [v for k, v, _how in cfg.auth_request_params if k == "response_type"]  # replaces ours, not added
        if self.implicit:
            client: WebApplicationClient | MobileApplicationClient = MobileApplicationClient(cfg.client_id)
            client.response_type = given[-1] if given else implicit_response_type(cfg)
            url = client.prepare_request_uri(_https_view(cfg.auth_url or ""), redirect_uri=self.redirect_uri,
                                             scope=cfg.scope or None, state=self.state, **extra)
        else:
            client = WebApplicationClient(cfg.client_id)
            if given:
                client.response_type = given[-1]
            if cfg.uses_pkce:
                self.code_verifier = cfg.code_verifier or client.create_code_verifier(PKCE_VERIFIER_LENGTH)
                # oauthlib derives "plain" only when no method is named (an explicit "plain" yields None).
                method = None if cfg.code_challenge_method == "plain" else cfg.code_challenge_method
                extra["code_challenge"] = client.create_code_challenge(self.code_verifier, method)
                extra["code_challenge_method"] = cfg.code_challenge_method
            url = client.prepare_request_uri(_https_view(cfg.auth_url or ""), redirect_uri=self.redirect_uri,
                                             scope=cfg.scope or None, state=self.state, **extra)
        url = _restore_scheme(url, cfg.auth_url or "")
        url_params = audience_and_resource(cfg) + [(k, v) for k, v, how in cfg.auth_request_params
                                                   if how != "header" and k != "response_type"]
        if url_params:
            url = add_params_to_uri(url, url_params)
        self.authorization_url = url
        self.deadline = time.time() + self.timeout
        if self.trace is not None:
            self.trace.add_secret(self.code_verifier)
            ignored = [k for k, _, how in cfg.auth_request_params if how == "header"]
            note = ("A browser cannot send custom headers on a navigation; ignored: " + ", ".join(ignored)) if ignored else None
            from urllib.parse import parse_qsl

            self.trace.record("Authorization request", "notebook", "browser", kind="redirect", method="GET", url=url,
                              params=parse_qsl(urlsplit(url).query, keep_blank_values=True), note=note)
            self.trace.record("User logs in and consents at the provider", "browser", "server", kind="note",
                              note="The login happens at the provider; the notebook never sees the password.")
        if fixed := [name for name, value in (("state", cfg.state), ("code_verifier", cfg.code_verifier)) if value]:
            presenter().notice(fixed_value_notice(fixed))
        if ignored_headers := [k for k, _, how in cfg.auth_request_params if how == "header"]:
            presenter().notice("Custom auth-request headers cannot be sent by a browser and were left out: "
                               + ", ".join(ignored_headers))
        if self.open_browser:
            open_in_browser(url)
        if self.plan.paste and not self.cfg.callback_url and (reason := no_route_reason(self.env)):
            presenter().notice(reason)
        if self.env.remote and is_loopback_host(urlsplit(url).hostname):
            presenter().notice(loopback_page_advice(url))
        if not self.plan.paste:  # in paste mode the link is shown with the request to paste the result
            presenter().authorization_url(url, deadline=self.deadline, opened=bool(self.open_browser),
                                          cancel_url=self.plan.abort_url(self.listener.port if self.listener else None,
                                                                         self.state))
        return str(url)

    # -- step 2: the redirect ------------------------------------------------------------------------

    def wait(self) -> TokenSet:
        """Wait for the redirect (or a pasted URL), then finish; the listener is always closed."""
        if not self.authorization_url:
            self.start()
        try:
            if self.plan.paste:
                pasted = presenter().ask_redirected_url(self.authorization_url)
                if not pasted:
                    raise RedirectURLNeeded(
                        "No redirect can reach this kernel; the login waits for the address the browser lands on.",
                        fix="After logging in, paste that address: flow.complete(url) or %oauth_token NAME --paste URL;"
                            " or use grant_type='device_code'.")
                return self.complete(pasted)
            assert self.listener is not None
            result = self.listener.wait(max(0.1, self.deadline - time.time()), described_timeout=self.timeout)
        finally:
            self.close()
        return self.finish(result)

    def complete(self, redirected_url: str) -> TokenSet:
        """Paste mode: finish with the address the browser landed on."""
        listener = self.listener or CallbackListener(self.state)
        listener.submit_redirect_url(redirected_url)
        self.close()
        if listener.error is not None:
            raise listener.error
        assert listener.result is not None
        return self.finish(listener.result)

    def cancel(self) -> None:
        if self.listener is not None:
            self.listener.cancel()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()

    # -- step 3: the token -------------------------------------------------------------------------

    def finish(self, result: CallbackResult) -> TokenSet:
        params = result.params
        if self.trace is not None:
            self.trace.add_secret(params.get("code"), params.get("access_token"), params.get("id_token"))
            self.trace.record("Redirect back to the notebook", "browser", "notebook", kind="redirect",
                              params=list(params.items()),
                              note="in the URL fragment, relayed by the listener page" if result.via_fragment else None)
        self._check_issuer(params.get("iss"))
        if self.implicit:
            return self._finish_implicit(params)
        return self._exchange_code(params)

    def _check_issuer(self, iss: str | None) -> None:
        """RFC 9207: an ``iss`` in the authorization response must be the issuer we talk to."""
        if not self.cfg.issuer:
            return
        if iss is None:
            if _iss_promised(self.cfg):
                raise StateMismatchError(
                    "The authorization response carries no iss, although the provider's discovery document "
                    "promises one (authorization_response_iss_parameter_supported; RFC 9207 mix-up check).",
                    fix="Start the login again; if it keeps happening, another server may be answering for it.")
            return
        if iss.rstrip("/") != self.cfg.issuer.rstrip("/"):
            raise StateMismatchError(
                f"The authorization response came from issuer {iss!r}, not {self.cfg.issuer!r} (RFC 9207 mix-up check).",
                fix="Check the issuer; another server may be answering for this login.")

    def _finish_implicit(self, params: dict[str, str]) -> TokenSet:
        client = MobileApplicationClient(self.cfg.client_id)
        fragment_url = _https_view(self.redirect_uri) + "#" + urlencode(params)
        try:
            client.parse_request_uri_response(fragment_url, state=self.state, scope=None)
        except Warning:
            pass  # narrower scope: kept and reported below
        except MismatchingStateError:
            raise StateMismatchError("The redirect's state does not match this login.") from None
        except OAuth2Error as exc:
            raise AuthorizationDeniedError("The implicit grant failed.", error=exc.error,
                                           error_description=exc.description) from None
        except (ValueError, TypeError) as exc:
            raise InvalidTokenResponseError(f"The token in the redirect cannot be read: {exc}.",
                                            secrets=[params.get("access_token")]) from None
        fields = {k: v for k, v in params.items() if k not in ("state", "iss")}
        _check_fields(fields, what="implicit grant redirect", secrets=[params.get("access_token")])
        token_set = TokenSet.from_response(fields, requested_scope=self.cfg.scope)
        if token_set.scope and self.cfg.scope:
            missing = [s for s in self.cfg.scopes if s not in token_set.scope.split()]
            if missing:
                presenter().notice(narrowed_scope_notice(missing))
        return token_set

    def _exchange_code(self, params: dict[str, str]) -> TokenSet:
        client = WebApplicationClient(self.cfg.client_id)
        query_url = _https_view(self.redirect_uri) + "?" + urlencode(params)
        try:
            code = client.parse_request_uri_response(query_url, state=self.state)["code"]
        except MismatchingStateError:
            raise StateMismatchError("The redirect's state does not match this login.") from None
        except OAuth2Error as exc:
            raise AuthorizationDeniedError("The authorization failed.", error=exc.error,
                                           error_description=exc.description) from None
        body = client.prepare_request_body(code=code, redirect_uri=self.redirect_uri, include_client_id=False,
                                           code_verifier=self.code_verifier)
        return request_token(self.cfg, body_pairs(body), trace=self.trace,
                             title="Token request (authorization code" + (" + PKCE)" if self.code_verifier else ")"),
                             extra_secrets=[code, self.code_verifier, *config_secrets(self.cfg)])
