"""In-memory models and stores for the demo authorization server.

The classes implement Authlib's model mixins so Authlib's grants and
endpoints can drive them directly; nothing here knows protocol rules beyond
"is it expired, revoked, or issued to this client". One ``RLock`` guards
every store, because the server answers requests on several threads.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, list_to_scope, scope_to_list
from authlib.oauth2.rfc8628 import DeviceCredentialMixin
from authlib.oidc.core import AuthorizationCodeMixin

from .constants import DEMO_USERS, USER_PROFILES

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class Settings:
    """Lifetimes and switches, read at issue time so tests can change them live."""

    access_token_lifetime: int = 300
    refresh_token_lifetime: int = 86400
    device_code_lifetime: int = 600
    device_interval: int = 1
    jwt_access_tokens: bool = False
    authorization_code_lifetime: int = 600


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


class Stats(Mapping[str, int]):
    """Thread-safe request counters; a missing key reads as 0."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def incr(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + amount

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._counts

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        with self._lock:
            return len(self._counts)

    def __repr__(self) -> str:
        return f"Stats({self.as_dict()!r})"


class Store:
    """Every piece of mutable server state, behind one re-entrant lock."""

    def __init__(self, clients: list[Client]) -> None:
        self.lock = threading.RLock()
        self.clients: dict[str, Client] = {c.client_id: c for c in clients}
        self._codes: dict[str, AuthorizationCode] = {}
        self._by_access: dict[str, Token] = {}
        self._by_refresh: dict[str, Token] = {}
        self._devices: dict[str, DeviceCredential] = {}
        self._devices_by_user_code: dict[str, DeviceCredential] = {}
        self._nonces: set[tuple[str, str]] = set()
        self._next_item_id = 1000

    # -- clients -----------------------------------------------------------
    def get_client(self, client_id: str | None) -> Client | None:
        if client_id is None:
            return None
        return self.clients.get(client_id)

    # -- authorization codes ----------------------------------------------
    def add_code(self, code: AuthorizationCode) -> None:
        with self.lock:
            self._codes[code.code] = code

    def claim_code(self, code: str, client: ClientMixin) -> AuthorizationCode | None:
        """Atomically hand out a code once; a replayed code revokes its tokens."""
        with self.lock:
            item = self._codes.get(code)
            if item is None or item.client_id != client.get_client_id():
                return None
            if item.used:
                for token in self._by_access.values():
                    if token.code == code:
                        token.access_revoked = token.refresh_revoked = True
                return None
            item.used = True
            if item.is_expired():
                return None
            return item

    # -- nonces -----------------------------------------------------------
    def nonce_seen(self, client_id: str, nonce: str) -> bool:
        with self.lock:
            return (client_id, nonce) in self._nonces

    def remember_nonce(self, client_id: str, nonce: str | None) -> None:
        if nonce:
            with self.lock:
                self._nonces.add((client_id, nonce))

    # -- tokens -----------------------------------------------------------
    def add_token(self, token: Token) -> None:
        with self.lock:
            self._by_access[token.access_token] = token
            if token.refresh_token:
                self._by_refresh[token.refresh_token] = token

    def find_access(self, access_token: str) -> Token | None:
        with self.lock:
            return self._by_access.get(access_token)

    def find_refresh(self, refresh_token: str) -> Token | None:
        with self.lock:
            return self._by_refresh.get(refresh_token)

    def find_any(self, value: str, hint: str | None) -> TokenRef | None:
        """Look a token string up, trying the hinted kind first (RFC 7009/7662)."""
        order: list[Literal["access_token", "refresh_token"]] = ["access_token", "refresh_token"]
        if hint == "refresh_token":
            order.reverse()
        with self.lock:
            for kind in order:
                index = self._by_access if kind == "access_token" else self._by_refresh
                token = index.get(value)
                if token is not None:
                    return TokenRef(token, kind)
        return None

    def revoke(self, ref: TokenRef) -> None:
        """Revoking a refresh token also kills its access token (RFC 7009 §2.1)."""
        with self.lock:
            ref.token.access_revoked = True
            if ref.kind == "refresh_token":
                ref.token.refresh_revoked = True

    def revoke_refresh(self, token: Token) -> None:
        with self.lock:
            token.refresh_revoked = True

    def revoke_all_access_tokens(self) -> int:
        """Revoke every live access token; refresh tokens keep working."""
        with self.lock:
            live = [t for t in self._by_access.values() if not t.access_revoked]
            for token in live:
                token.access_revoked = True
            return len(live)

    # -- device codes -----------------------------------------------------
    def add_device(self, credential: DeviceCredential) -> None:
        with self.lock:
            self._devices[credential.device_code] = credential
            self._devices_by_user_code[credential.user_code] = credential

    def find_device(self, device_code: str) -> DeviceCredential | None:
        with self.lock:
            return self._devices.get(device_code)

    def find_device_by_user_code(self, user_code: str) -> DeviceCredential | None:
        with self.lock:
            return self._devices_by_user_code.get(user_code)

    def decide_device(self, credential: DeviceCredential, user: User, approved: bool) -> bool:
        """Record the user's decision once; False if it was already decided."""
        with self.lock:
            if credential.approved is not None:
                return False
            credential.user = user
            credential.approved = approved
            return True

    def remove_device(self, credential: DeviceCredential) -> None:
        with self.lock:
            self._devices.pop(credential.device_code, None)
            self._devices_by_user_code.pop(credential.user_code, None)

    def note_poll(self, credential: DeviceCredential, tolerance: float = 0.1) -> bool:
        """Record a pending poll; True when it came sooner than the interval.

        A too-fast poll raises the interval by 5 s, as RFC 8628 §3.5 has the
        client do, so the server keeps expecting the slower pace.
        """
        now = time.monotonic()
        with self.lock:
            last, credential.last_poll = credential.last_poll, now
            if last is not None and now - last + tolerance < credential.interval:
                credential.interval += 5
                return True
            return False

    # -- API items --------------------------------------------------------
    def next_item_id(self) -> int:
        with self.lock:
            self._next_item_id += 1
            return self._next_item_id
