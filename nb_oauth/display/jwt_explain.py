"""A JWT explained claim by claim, for reading tokens in a notebook.

:func:`explain` decodes (without verifying) and says, for each claim, what it means; times are
shown as UTC dates plus how far away they are.  Whether the signature was checked is the caller's
knowledge (``verified=``) and is always shown, so decoded claims are never mistaken for trusted
ones.  The raw token is never displayed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import OAuthError
from ..oidc.jwt import decode_unverified

__all__ = ["CLAIM_MEANINGS", "HEADER_MEANINGS", "JWTExplanation", "NotAJWTError", "explain", "explain_mapping",
           "relative_time"]

#: One line on each registered or widespread claim (RFC 7519, OIDC Core, RFC 9068, RFC 8693, vendors).
CLAIM_MEANINGS: dict[str, str] = {
    "iss": "issuer: the server that created and signed the token",
    "sub": "subject: the user (or client) the token is about, unique at the issuer",
    "aud": "audience: who the token is for; a recipient must find itself here",
    "exp": "expires: the token must not be accepted after this time",
    "nbf": "not before: the token must not be accepted before this time",
    "iat": "issued at: when the token was created",
    "jti": "JWT ID: unique ID of this token, lets a server reject replays",
    "azp": "authorized party: the client the ID token was issued to",
    "nonce": "the random value the client sent; must match, so an old ID token cannot be replayed",
    "at_hash": "hash of the access token issued with this ID token (binds the two)",
    "c_hash": "hash of the authorization code issued with this ID token",
    "s_hash": "hash of the state value (FAPI)",
    "auth_time": "when the user actually logged in (not when the token was issued)",
    "acr": "authentication context class: how strongly the user was authenticated",
    "amr": "authentication methods used (e.g. pwd, otp, mfa)",
    "sid": "session ID at the issuer, used for logout",
    "scope": "the permissions the token carries (space-separated)",
    "scp": "the permissions the token carries (list form)",
    "client_id": "the client the access token was issued to (RFC 9068)",
    "cnf": "confirmation: the key the token is bound to (DPoP, mTLS)",
    "act": "actor: who is acting on behalf of the subject (token exchange)",
    "may_act": "who is allowed to act on behalf of the subject",
    "roles": "roles granted to the subject",
    "groups": "groups the subject belongs to",
    "entitlements": "entitlements granted to the subject",
    "name": "the user's full name",
    "given_name": "the user's first name",
    "family_name": "the user's surname",
    "middle_name": "the user's middle name",
    "nickname": "the user's casual name",
    "preferred_username": "the name the user likes to be called by (not unique; do not key on it)",
    "email": "the user's email address",
    "email_verified": "whether the issuer verified the email address",
    "phone_number": "the user's phone number",
    "phone_number_verified": "whether the issuer verified the phone number",
    "picture": "URL of the user's profile picture",
    "profile": "URL of the user's profile page",
    "website": "URL of the user's web site",
    "gender": "the user's gender",
    "birthdate": "the user's birthday",
    "zoneinfo": "the user's time zone",
    "locale": "the user's locale",
    "address": "the user's postal address",
    "updated_at": "when the user's profile was last updated",
    "typ": "token type (issuer-specific, e.g. Bearer, ID, Refresh)",
    "token_use": "what the token is for: id or access (Amazon Cognito)",
    "tid": "tenant ID (Microsoft Entra ID)",
    "oid": "object ID of the user (Microsoft Entra ID)",
    "upn": "user principal name (Microsoft Entra ID)",
    "ver": "token format version",
    "realm_access": "realm roles of the user (Keycloak)",
    "resource_access": "client roles of the user, per client (Keycloak)",
    "org_id": "the organisation the token is for",
    "permissions": "permissions granted for the API (Auth0 RBAC)",
}

#: One line on each JOSE header parameter (RFC 7515, RFC 7519).
HEADER_MEANINGS: dict[str, str] = {
    "alg": "signature algorithm; 'none' means unsigned and must never be trusted",
    "typ": "media type of the token (JWT, at+jwt for access tokens)",
    "kid": "key ID: which of the issuer's keys (JWKS) signed it",
    "cty": "content type (JWT when a JWT is nested)",
    "jku": "URL of the key set; never fetch keys from a URL the token names",
    "jwk": "the public key embedded in the header",
    "x5u": "URL of the X.509 certificate chain",
    "x5c": "the X.509 certificate chain",
    "x5t": "SHA-1 thumbprint of the X.509 certificate",
    "x5t#S256": "SHA-256 thumbprint of the X.509 certificate",
    "crit": "extensions the recipient must understand",
}

#: Claims holding a time as seconds since 1970 (NumericDate).
TIME_CLAIMS = frozenset({"exp", "nbf", "iat", "auth_time", "updated_at"})


class NotAJWTError(OAuthError, ValueError):
    """The value is not a signed JWT, so there are no claims to show."""

    default_fix = "Pass an ID token or a JWT access token (three base64url parts separated by dots)."


def relative_time(moment: datetime, now: datetime) -> str:
    """``in 4 min``, ``3 h ago``, ``just now``: how far ``moment`` is from ``now``."""
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    if span < 5:
        return "just now"
    size, unit = next((s, u) for s, u in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min"), (1, "s"))
                      if span >= s * 0.99)
    text = f"{max(1, round(span / size))} {unit}"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _as_time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _show_claim(name: str, value: Any, now: datetime) -> str:
    moment = _as_time(value) if name in TIME_CLAIMS else None
    if moment is None:
        return _show(value)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({relative_time(moment, now)})"


@dataclass(frozen=True)
class JWTExplanation:
    """Header, claims and one explained row per claim; never holds the raw token."""

    header: dict[str, Any]
    claims: dict[str, Any]
    verified: bool | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        """``(claim, value as shown, meaning)`` in the token's order."""
        return [(k, _show_claim(k, v, self.now), CLAIM_MEANINGS.get(k, "")) for k, v in self.claims.items()]

    @property
    def header_rows(self) -> list[tuple[str, str, str]]:
        return [(k, _show(v), HEADER_MEANINGS.get(k, "")) for k, v in self.header.items()]

    @property
    def signature(self) -> str:
        """What is known about the signature, in words."""
        if self.header.get("alg") == "none":
            return "unsigned (alg none): do not trust these claims"
        if self.verified is True:
            return "verified"
        if self.verified is False:
            return "NOT verified: the signature check failed or was refused; do not trust these claims"
        return "not checked: decoded only, do not trust these claims until the signature is verified"

    @property
    def expired(self) -> bool | None:
        """Whether ``exp`` has passed (None without a usable ``exp``)."""
        moment = _as_time(self.claims.get("exp"))
        return None if moment is None else moment <= self.now

    def status(self) -> str:
        moment = _as_time(self.claims.get("exp"))
        if moment is None:
            return "no expiry"
        when = relative_time(moment, self.now)
        return f"expired {when}" if moment <= self.now else f"expires {when}"

    def __repr__(self) -> str:
        header = [(f"header.{k}", v, m) for k, v, m in self.header_rows]
        width = max([len(k) for k, _, _ in header + self.rows] + [3])
        lines = [f"JWT ({self.header.get('alg', '?')}, {self.status()}; signature {self.signature})"]
        lines += [f"  {k:<{width}}  {v}" + (f"  — {m}" if m else "") for k, v, m in header + self.rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        cell = 'style="text-align:left;vertical-align:top;padding:2px 8px;border-top:1px solid #d0d7de"'
        mono = ('style="text-align:left;vertical-align:top;padding:2px 8px;border-top:1px solid #d0d7de;'
                'font-family:monospace;word-break:break-all"')

        def table(rows: list[tuple[str, str, str]], what: str) -> str:
            body = "".join(f"<tr><td {cell}><code>{esc(k)}</code></td><td {mono}>{esc(v)}</td>"
                           f"<td {cell}>{esc(m)}</td></tr>" for k, v, m in rows)
            return (f"<table style=\"border-collapse:collapse;font-size:12px\"><tr><th {cell}>{what}</th>"
                    f"<th {cell}>value</th><th {cell}>meaning</th></tr>{body}</table>")

        color = "#1a7f37" if self.verified is True and self.header.get("alg") != "none" else "#cf222e"
        return (f"<div><div><b>JWT</b> · {esc(self.status())} · signature "
                f"<span style=\"color:{color};font-weight:600\">{esc(self.signature)}</span></div>"
                f"{table(self.rows, 'claim')}<details><summary>Header</summary>"
                f"{table(self.header_rows, 'parameter')}</details></div>")


def explain(value: str, *, verified: bool | None = None, now: datetime | None = None) -> JWTExplanation:
    """Decode ``value`` (a JWT) and explain each claim; ``verified`` is what the caller knows of the signature."""
    if not isinstance(value, str) or not value.strip():
        raise NotAJWTError("There is no token to explain (the value is empty or not text).")
    value = value.strip()
    decoded = decode_unverified(value)
    if decoded is None:
        parts = value.count(".") + 1
        if parts == 5:
            why = "it is an encrypted JWT (JWE, five parts); only its recipient can read it"
        elif parts == 1:
            why = "it is an opaque token (no dots); ask the server's introspection endpoint what it means"
        else:
            why = f"it has {parts} parts that do not decode to a JSON header and claims"
        raise NotAJWTError(f"The value is not a signed JWT: {why}.")
    return JWTExplanation(header=dict(decoded.header), claims=dict(decoded.claims), verified=verified,
                          now=now or datetime.now(UTC))


def explain_mapping(claims: Mapping[str, Any], *, verified: bool | None = None) -> JWTExplanation:
    """Explain claims already decoded (e.g. ``Token.claims``), with an empty header."""
    return JWTExplanation(header={}, claims=dict(claims), verified=verified)
