"""Every failure a user can cause or meet, as one exception family.

Each error names the cause and the fix, carries the server's ``error`` /
``error_description`` when there is one, and never carries a secret: messages
pass through :func:`redact` with every secret the flow knows about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = [
    "AuthorizationDeniedError",
    "ConfigError",
    "DiscoveryError",
    "FlowCancelledError",
    "FlowTimeoutError",
    "IDTokenError",
    "InvalidRefreshResponseError",
    "InvalidTokenResponseError",
    "ListenerError",
    "NetworkError",
    "OAuthError",
    "RedirectURLNeeded",
    "RefreshError",
    "RefreshNetworkError",
    "RevocationError",
    "StateMismatchError",
    "StoreError",
    "TokenEndpointError",
    "mask",
    "redact",
]

#: Keys whose values are secrets wherever they appear (bodies, query strings, JSON).
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "password",
        "code_verifier",
        "code",
        "device_code",
        "assertion",
        "client_assertion",
        "token",
        "subject_token",
        "actor_token",
    }
)

_SECRET_PAIR = re.compile(
    r"(?P<key>\b(?:" + "|".join(sorted(SECRET_KEYS, key=len, reverse=True)) + r")\b)"
    # six characters at least: a word of prose after "password:" is not a secret, and known
    # secrets of any length are masked by value before this pattern runs
    r"(?P<sep>\"?\s*[:=]\s*\"?)(?P<value>[^\"&\s,;}]{6,})",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<scheme>\b(?:Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)


def mask(secret: str | None, keep: int = 4) -> str:
    """Show a secret as its first few characters and its length, never the whole value."""
    if not secret:
        return "—"
    secret = str(secret)
    if len(secret) <= keep * 2:
        return "•" * 6 + f" ({len(secret)} chars)"
    return f"{secret[:keep]}…({len(secret)} chars)"


def redact(text: str, secrets: Iterable[str | None] = (), *, ordered: bool = False) -> str:
    """Remove every known secret and every secret-looking ``key=value`` from ``text``.

    ``ordered``: ``secrets`` are already strings of 4+ characters, longest first (a trace keeps them so).
    """
    if not text:
        return text
    if ordered:
        order = [s for s in secrets if s]
    else:
        order = sorted({str(s) for s in secrets if s and len(str(s)) >= 4}, key=len, reverse=True)
    for secret in order:
        if secret in text:
            text = text.replace(secret, mask(secret))
    if ":" in text or "=" in text:  # a secret-looking pair needs one of them; most values have neither
        text = _SECRET_PAIR.sub(lambda m: f"{m['key']}{m['sep']}{_masked_value(m['value'])}", text)
    lowered = text.lower()
    if "bearer" not in lowered and "basic" not in lowered:
        return text
    return _BEARER.sub(lambda m: f"{m['scheme']}{_masked_value(m['value'])}", text)


def _masked_value(value: str) -> str:
    return value if ("…" in value or "•" in value) else mask(value)


#: What to do about the standard OAuth error codes (RFC 6749 §5.2, §4.1.2.1; RFC 8628 §3.5).
SERVER_ERROR_FIXES: dict[str, str] = {
    "invalid_grant": "The code, refresh token or credentials were refused (expired, already used, revoked, or "
                     "issued to another client or redirect URI): log in again. For a token exchange, the subject "
                     "(or actor) token was refused: check it is current and that subject_token_type says what it is.",
    "invalid_target": "The server will not issue a token for the audience or resource asked for (RFC 8707, "
                      "RFC 8693 §2.2.2): check audience and resource.",
    "invalid_client": "Check Client ID and Client Secret, and Client Authentication (header = HTTP Basic, "
                      "body = form fields, private_key_jwt = the client_assertion_key whose public key is registered): "
                      "servers accept only the one registered.",
    "unauthorized_client": "This client is not allowed this grant type; check Grant Type or the client's "
                           "registration at the provider.",
    "unsupported_grant_type": "The server does not offer this grant type; pick another Grant Type.",
    "invalid_scope": "Ask only for scopes this client is allowed (check Scope).",
    "invalid_request": "The server found the request malformed; check the URLs and the custom parameters.",
    "server_error": "The provider had an internal error; try again later.",
    "temporarily_unavailable": "The provider is busy or down; try again later.",
    "expired_token": "The code expired before it was approved; start again and approve sooner.",
    "use_dpop_nonce": "The server asked for a new DPoP nonce again after nb_oauth's one retry with the nonce it "
                      "gave; it keeps rejecting nonces, so check the server's DPoP nonce handling (and the clock).",
    "invalid_dpop_proof": "The server refused the DPoP proof: check dpop_alg against the algorithms it accepts, "
                          "and that the token is used with the key it was issued for.",
    "invalid_request_uri": "The pushed authorization request had expired or was already used: log in again and "
                           "finish within the request_uri's lifetime.",
    "invalid_request_object": "The server refused the signed request object: check client_assertion_key, "
                              "client_assertion_alg and the public key the provider has registered for the client.",
}


#: which setting a request's URL comes from, by the words of its description
_URL_SETTINGS = (("device", "Device Authorization URL"), ("discovery", "issuer URL"),
                 ("key set", "JWKS URL"), ("revocation", "revocation URL"), ("refresh", "Refresh Token URL"),
                 ("userinfo", "Userinfo URL"), ("introspection", "Introspection URL"), ("pushed", "PAR URL"))


def _setting_for(what: str) -> str | None:
    return next((label for word, label in _URL_SETTINGS if word in what), None)


def status_fix(status: int, what: str) -> str | None:
    """The fix for an error status without an OAuth ``error`` code; None keeps the error kind's own."""
    setting = _setting_for(what) or "Access Token URL"
    if status in (404, 405, 410):
        return (f"Check the {setting}: HTTP {status} means there is no such endpoint at that address (a typo, "
                "a missing path segment or trailing slash, or another server); the client credentials were not "
                "looked at.")
    if setting != "Access Token URL" and status >= 500:
        return f"Check the {setting} and the request's parameters; the provider failed on it (HTTP {status})."
    if setting == "Userinfo URL" and status in (401, 403):
        return ("The provider refused the token at userinfo: it may be expired or revoked (tokens.refresh(name) gets "
                "a fresh one) or lack the openid scope.")
    if setting in ("Introspection URL", "PAR URL") and status in (401, 403):
        return (f"The provider refused the client at the {setting.removesuffix(' URL')} endpoint: check "
                "client_authentication and its credentials.")
    return None


def endpoint_fix(what: str) -> str | None:
    """For an answer that is not the endpoint's JSON: which setting to check (None: the error kind's own)."""
    setting = _setting_for(what)
    return f"Check the {setting} (or issuer, to take it from discovery): the answer is not this endpoint's." \
        if setting else None


def plain_http_answer(exc: Exception) -> bool:
    """An https request to a plain-http server fails in the TLS handshake with these OpenSSL reasons."""
    text = str(exc).lower()
    return any(reason in text for reason in ("wrong version number", "wrong_version_number", "record layer failure",
                                             "packet length too long", "http request"))



class OAuthError(Exception):
    """Base class of every nb_oauth error: a message with the cause and the fix.

    ``error`` and ``error_description`` carry the server's own words when the
    failure came from the server (already redacted).  ``trace`` is the trace of
    the flow that failed, when there was one, so the failure can be seen where
    it happened.
    """

    default_fix: str = ""

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
        status: int | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        secrets = list(secrets)
        self.error = redact(error, secrets) if error else None
        self.error_description = redact(error_description, secrets) if error_description else None
        self.status = status
        self.fix = fix if fix is not None else SERVER_ERROR_FIXES.get(error or "", self.default_fix)
        self.trace: Trace | None = None
        parts = [redact(message, secrets)]
        if self.error:
            server = f"server said: {self.error}"
            if self.error_description:
                server += f" — {self.error_description}"
            parts.append(f"({server})")
        if self.fix:
            parts.append(f"Fix: {self.fix}")
        super().__init__(" ".join(parts))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(OAuthError, ValueError):
    """The configuration is incomplete or inconsistent; raised before any request is sent."""


class AuthorizationDeniedError(OAuthError):
    """The user or the server refused the authorization (``error=`` on the redirect)."""

    default_fix = "Approve the request at the provider, or check the client's allowed scopes and redirect URIs."


class StateMismatchError(OAuthError):
    """A redirect carried a ``state`` this flow did not send."""

    default_fix = "Start a new flow; never reuse an authorization URL from an earlier attempt."


class FlowTimeoutError(OAuthError, TimeoutError):
    """Nobody completed the login in time."""

    default_fix = "Run it again and finish the login in the browser tab, or raise NB_OAUTH_CALLBACK_TIMEOUT."


class FlowCancelledError(OAuthError):
    """The user cancelled the flow (interrupt, abort URL or Cancel button)."""

    default_fix = "Run it again when ready."


class RedirectURLNeeded(FlowCancelledError):
    """Paste mode: no redirect can reach this kernel and nobody pasted the address yet.

    The flow stays open: finish it with ``flow.complete(url)`` (or ``%oauth_token NAME --paste URL``).
    """

    default_fix = "Paste the address the browser lands on after the login, or use grant_type='device_code'."


class TokenEndpointError(OAuthError):
    """The token endpoint refused the request or answered with something that is not a token."""

    default_fix = "Check the Access Token URL, client ID/secret and Client Authentication (header or body)."


class InvalidTokenResponseError(TokenEndpointError):
    """The token endpoint answered 2xx but the body is not a valid token response."""

    default_fix = "Check that the Access Token URL points at the provider's token endpoint."


class RefreshError(TokenEndpointError):
    """Refreshing failed; the previous token is kept."""

    default_fix = "Get a new token (log in again); the previous token is kept until then."


class RevocationError(OAuthError):
    """The revocation endpoint refused the request, or there is none."""

    default_fix = "Set revocation_url (or issuer, for discovery), or use tokens.delete(name) to only forget it."


class DiscoveryError(OAuthError):
    """The issuer's metadata could not be fetched or is invalid."""

    default_fix = "Check the issuer URL (the discovery document lives at <issuer>/.well-known/openid-configuration)."


class IDTokenError(OAuthError):
    """The ID token failed a validation check (the check is named in the message)."""

    default_fix = "Do not trust this token; check the issuer, client ID and the provider's keys."


class NetworkError(OAuthError):
    """The server could not be reached (DNS, refused connection, TLS, timeout)."""

    default_fix = "Check the URL and that the server is up; NB_OAUTH_HTTP_TIMEOUT sets the timeout (seconds)."


class ListenerError(OAuthError):
    """The kernel-local callback listener could not start (e.g. the port is taken)."""

    default_fix = "Free the port, or leave Callback URL empty to use a free port."


class StoreError(OAuthError):
    """A stored token is missing, unreadable or cannot be written."""


class RefreshNetworkError(RefreshError, NetworkError):
    """Refreshing failed because the server could not be reached; the previous token is kept."""


class InvalidRefreshResponseError(RefreshError, InvalidTokenResponseError):
    """The refresh answer was not a usable token; the previous token is kept."""


def narrowed_scope_notice(missing: Sequence[str]) -> str:
    """What to tell the user when the server granted fewer scopes than asked (kept, not an error)."""
    text = f"The server granted fewer scopes than asked: not granted {' '.join(missing)}."
    if "offline_access" in missing:
        text += (" Without offline_access there may be no refresh token; some providers grant it only with "
                 "prompt=consent (auth_request_params=[('prompt', 'consent', 'url')]).")
    return text
