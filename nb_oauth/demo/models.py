"""In-memory models and stores for the demo authorization server.

The classes implement Authlib's model mixins so Authlib's grants and
endpoints can drive them directly; nothing here knows protocol rules beyond
"is it expired, revoked, or issued to this client". One ``RLock`` guards
every store, because the server answers requests on several threads.

Users and clients live in :mod:`.parties`, codes, tokens and device
authorizations in :mod:`.credentials`; they are re-exported here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from authlib.oauth2.rfc6749 import ClientMixin

from .credentials import AuthorizationCode, DeviceCredential, Token, TokenRef
from .parties import (
    _LOOPBACK_HOSTS,  # noqa: F401  (re-exported with the rest)
    USERS,
    Client,
    User,
    authenticate_user,
    is_loopback_redirect_uri,
    url_origin,
)

__all__ = [
    "USERS",
    "AuthorizationCode",
    "Client",
    "DeviceCredential",
    "Settings",
    "Stats",
    "Store",
    "Token",
    "TokenRef",
    "User",
    "authenticate_user",
    "is_loopback_redirect_uri",
    "url_origin",
]


@dataclass
class Settings:
    """Lifetimes and switches, read at issue time so tests can change them live."""

    access_token_lifetime: int = 300
    refresh_token_lifetime: int = 86400
    device_code_lifetime: int = 600
    device_interval: int = 1
    jwt_access_tokens: bool = False
    authorization_code_lifetime: int = 600


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
