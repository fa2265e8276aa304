"""The demo server's parties: its resource owners (users) and its registered clients.

Split from :mod:`.models` because who may log in and where a client may be redirected
are questions of identity and registration, separate from what gets issued to them
(:mod:`.credentials`) and from the store that keeps it all (:mod:`.models`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, list_to_scope, scope_to_list

from .constants import DEMO_USERS, USER_PROFILES

__all__ = ["USERS", "Client", "User", "authenticate_user", "is_loopback_redirect_uri", "url_origin"]


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

@dataclass(frozen=True)
class User:
    """A demo resource owner; ``sub`` is the username so tests can predict it."""

    username: str
    name: str
    email: str

    def get_user_id(self) -> str:
        """Authlib's JWT access-token generator reads the subject from here."""
        return self.username


USERS: dict[str, User] = {
    name: User(name, USER_PROFILES[name]["name"], USER_PROFILES[name]["email"])
    for name in DEMO_USERS
}


def authenticate_user(username: str, password: str) -> User | None:
    """Check a demo login in constant time so the demo models good practice."""
    expected = DEMO_USERS.get(username)
    if expected is None or not secrets.compare_digest(expected, password):
        return None
    return USERS[username]


def is_loopback_redirect_uri(uri: str) -> bool:
    """RFC 8252 loopback redirect: any port and path on 127.0.0.1, localhost or [::1]."""
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and (parts.hostname or "") in _LOOPBACK_HOSTS
        and not parts.fragment
    )


def url_origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an http(s) URL, default port filled in; None if it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


@dataclass(eq=False)
class Client(ClientMixin):
    """A pre-registered client; redirect URIs follow the loopback rule plus extras.

    While the server has a front channel (see ``DemoContext``), any redirect URI
    on that front channel's origin is accepted too: a kernel's listener proxied
    by the same Jupyter server lives there.
    """

    client_id: str
    name: str
    client_secret: str | None
    auth_methods: frozenset[str]
    grant_types: frozenset[str]
    response_types: frozenset[str]
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    redirect_prefixes: tuple[str, ...] = ()
    client_metadata: dict[str, Any] = field(default_factory=dict)
    front_channel: Callable[[], str | None] | None = None

    @property
    def is_public(self) -> bool:
        """Public clients have no secret and authenticate with ``none``."""
        return self.client_secret is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """Only an exactly registered URI can serve as a default."""
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Silently drop scopes this client may not have, keeping request order."""
        if not scope:
            return ""
        allowed = set(self.scopes)
        granted: list[str] = []
        for item in scope_to_list(scope) or []:
            if item in allowed and item not in granted:
                granted.append(item)
        return list_to_scope(granted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.redirect_uris:
            return True
        if any(redirect_uri.startswith(prefix) for prefix in self.redirect_prefixes):
            return True
        if is_loopback_redirect_uri(redirect_uri):
            return True
        return self._on_front_channel_origin(redirect_uri)

    def _on_front_channel_origin(self, redirect_uri: str) -> bool:
        front = self.front_channel() if self.front_channel is not None else None
        if not front or "#" in redirect_uri:
            return False
        origin = url_origin(front)
        return origin is not None and url_origin(redirect_uri) == origin

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None:
            return False
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types
