"""Fixed facts about the demo authorization server.

Kept free of third-party imports so ``nb_oauth.demo`` can be imported (and
its client ids read) even where Flask and Authlib are not installed.
"""

from __future__ import annotations

from typing import Final

PUBLIC_CLIENT_ID: Final = "demo-public"
CONFIDENTIAL_CLIENT_ID: Final = "demo-confidential"
CONFIDENTIAL_CLIENT_SECRET: Final = "demo-secret"

#: Demo logins, username -> password.
DEMO_USERS: Final[dict[str, str]] = {"alice": "wonderland", "bob": "builder"}

#: Display data for the demo users (``sub`` is the username).
USER_PROFILES: Final[dict[str, dict[str, str]]] = {
    "alice": {"name": "Alice Liddell", "email": "alice@example.com"},
    "bob": {"name": "Bob Builder", "email": "bob@example.com"},
}

#: Every scope the server knows, with the wording used on the consent page.
SCOPE_DESCRIPTIONS: Final[dict[str, str]] = {
    "openid": "Sign you in (OpenID Connect)",
    "profile": "Read your name",
    "email": "Read your email address",
    "offline_access": "Keep access while you are away",
    "items:read": "Read your items",
    "items:write": "Create items on your behalf",
}
ALL_SCOPES: Final[tuple[str, ...]] = tuple(SCOPE_DESCRIPTIONS)

DEVICE_CODE_GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:device_code"

#: URL paths; other parts of the project and their tests rely on these.
PATHS: Final[dict[str, str]] = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "device_authorization_endpoint": "/device_authorization",
    "device_verification": "/device",
    "revocation_endpoint": "/revoke",
    "introspection_endpoint": "/introspect",
    "userinfo_endpoint": "/userinfo",
    "jwks_uri": "/jwks",
    "openid_configuration": "/.well-known/openid-configuration",
    "oauth_authorization_server": "/.well-known/oauth-authorization-server",
    "api_me": "/api/me",
    "api_items": "/api/items",
    "api_echo": "/api/echo",
}

#: Number of deterministic items served by ``/api/items``.
ITEM_COUNT: Final = 95
