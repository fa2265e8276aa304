"""Per-server state shared by the Flask views and the Authlib plug-ins.

One ``DemoContext`` exists per ``DemoServer``; grants reach it through the
authorization server, views through ``current_app``. The issuer is filled in
once the listening port is known.

The *front channel* is where a browser reaches the sign-in, consent and device
pages; by default it is the issuer itself. Behind a path-prefixing proxy (a
JupyterHub's jupyter-server-proxy) it is the proxied address instead, while the
kernel keeps using the loopback issuer for everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app
from joserfc.jwk import KeySet, RSAKey

from .constants import (
    ALL_SCOPES,
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    DEVICE_CODE_GRANT_TYPE,
    PUBLIC_CLIENT_ID,
)
from .models import Client, Settings, Stats, Store

if TYPE_CHECKING:
    from .oauth import DemoAuthorizationServer, DemoResourceProtector

EXTENSION_KEY = "nb_oauth_demo"


@dataclass(frozen=True)
class Fault:
    """A canned response that replaces one token-endpoint answer."""

    status: int
    body: str
    content_type: str


class FaultQueue:
    """Counts down injected token-endpoint failures, safely across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining = 0
        self._fault: Fault | None = None

    def arm(self, count: int, fault: Fault) -> None:
        with self._lock:
            self._remaining = max(0, count)
            self._fault = fault

    def take(self) -> Fault | None:
        with self._lock:
            if self._remaining <= 0 or self._fault is None:
                return None
            self._remaining -= 1
            return self._fault

    @property
    def remaining(self) -> int:
        with self._lock:
            return self._remaining


@dataclass
class DemoContext:
    """Everything one demo server instance needs at request time."""

    store: Store
    settings: Settings
    keys: KeySet
    stats: Stats = field(default_factory=Stats)
    faults: FaultQueue = field(default_factory=FaultQueue)
    issuer: str = ""
    front_channel: Callable[[], str | None] | None = None
    authorization_server: DemoAuthorizationServer | None = None
    resource_protector: DemoResourceProtector | None = None

    def url(self, path: str) -> str:
        """Absolute URL on this server, built from the issuer."""
        return self.issuer + path

    def front_channel_url(self) -> str | None:
        """The browser-facing base URL, when it differs from the issuer (asked anew each time)."""
        return self.front_channel() if self.front_channel is not None else None

    def front_url(self, path: str) -> str:
        """Absolute URL of a browser-facing page: on the front channel when there is one."""
        return (self.front_channel_url() or self.issuer) + path

    @property
    def public_jwks(self) -> dict[str, Any]:
        return dict(self.keys.as_dict(private=False))


def current_context() -> DemoContext:
    """The context of the app handling the current request."""
    ctx: DemoContext = current_app.extensions[EXTENSION_KEY]
    return ctx


def generate_signing_keys() -> KeySet:
    """A fresh RS256 key per server start; ``kid`` is the RFC 7638 thumbprint."""
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
    return KeySet([key])


def build_clients(
    extra_redirect_uris: tuple[str, ...] = (),
    extra_redirect_prefixes: tuple[str, ...] = (),
    front_channel: Callable[[], str | None] | None = None,
) -> list[Client]:
    """The two pre-registered clients (``front_channel`` widens their redirect URI rule).

    Implicit is public-client only: Authlib's implicit grants authenticate
    the client with the ``none`` method, which a confidential client may not use.
    """
    public = Client(
        client_id=PUBLIC_CLIENT_ID,
        name="nb_oauth demo (public client)",
        client_secret=None,
        auth_methods=frozenset({"none"}),
        grant_types=frozenset(
            {"authorization_code", "implicit", "refresh_token", "password", DEVICE_CODE_GRANT_TYPE}
        ),
        response_types=frozenset({"code", "token", "id_token", "id_token token"}),
        scopes=tuple(s for s in ALL_SCOPES if s != "items:write"),
        redirect_uris=extra_redirect_uris,
        redirect_prefixes=extra_redirect_prefixes,
        front_channel=front_channel,
    )
    confidential = Client(
        client_id=CONFIDENTIAL_CLIENT_ID,
        name="nb_oauth demo (confidential client)",
        client_secret=CONFIDENTIAL_CLIENT_SECRET,
        auth_methods=frozenset({"client_secret_basic", "client_secret_post"}),
        grant_types=frozenset(
            {
                "authorization_code",
                "refresh_token",
                "password",
                "client_credentials",
                DEVICE_CODE_GRANT_TYPE,
            }
        ),
        response_types=frozenset({"code"}),
        scopes=ALL_SCOPES,
        redirect_uris=extra_redirect_uris,
        redirect_prefixes=extra_redirect_prefixes,
        front_channel=front_channel,
    )
    return [public, confidential]
