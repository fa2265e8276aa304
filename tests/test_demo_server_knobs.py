"""The demo server's lifetimes and test knobs: short-lived access tokens, revoking every access token at
once, injected failures at the token endpoint, and JWT access tokens.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, DemoServer

from .support import demo_helpers
from .support.demo_helpers import CONFIDENTIAL, api, introspect, password_tokens, refresh, token

srv = demo_helpers.srv
settings = demo_helpers.settings


# -- lifetimes and test knobs -------------------------------------------------------------------


def test_short_access_token_lifetime(srv: DemoServer, settings: Any) -> None:
    settings.access_token_lifetime = 2
    tokens = password_tokens(srv)
    assert tokens["expires_in"] == 2
    assert api(srv, "/api/me", tokens["access_token"]).status_code == 200
    time.sleep(2.1)
    expired = api(srv, "/api/me", tokens["access_token"])
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    settings.access_token_lifetime = 300
    fresh = refresh(srv, tokens["refresh_token"])
    assert fresh.json()["expires_in"] == 300


def test_revoke_all_access_tokens(srv: DemoServer) -> None:
    tokens = password_tokens(srv)
    assert api(srv, "/api/me", tokens["access_token"]).status_code == 200
    assert srv.revoke_all_access_tokens() >= 1
    assert api(srv, "/api/me", tokens["access_token"]).status_code == 401
    fresh = refresh(srv, tokens["refresh_token"])
    assert fresh.status_code == 200
    assert api(srv, "/api/me", fresh.json()["access_token"]).status_code == 200


def test_fail_next_token_requests(srv: DemoServer) -> None:
    tokens = password_tokens(srv)
    srv.reset_stats()
    srv.fail_next_token_requests(2, status=503)
    for _ in range(2):
        r = refresh(srv, tokens["refresh_token"])
        assert r.status_code == 503 and r.json()["error"] == "temporarily_unavailable"
    r = refresh(srv, tokens["refresh_token"])
    assert r.status_code == 200  # the refresh token survived the injected failures
    assert srv.stats["token"] == 3 and srv.stats["token:refresh_token"] == 3

    srv.fail_next_token_requests(1, status=500, body="boom")
    r = token(srv, grant_type="client_credentials", auth=CONFIDENTIAL)
    assert r.status_code == 500 and r.text == "boom" and r.headers["Content-Type"].startswith("text/plain")
    srv.reset_stats()
    assert srv.stats["token"] == 0 and "token" not in srv.stats


def test_jwt_access_tokens(srv: DemoServer, settings: Any) -> None:
    settings.jwt_access_tokens = True
    body = token(srv, auth=CONFIDENTIAL, grant_type="client_credentials", scope="items:read").json()
    keys = KeySet.import_key_set(requests.get(srv.url + "/jwks", timeout=10).json())
    decoded = jwt.decode(body["access_token"], keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.claims["iss"] == srv.url and decoded.claims["client_id"] == CONFIDENTIAL_CLIENT_ID
    assert decoded.claims["scope"] == "items:read"
    assert decoded.claims["exp"] - decoded.claims["iat"] == settings.access_token_lifetime
    assert api(srv, "/api/items", body["access_token"]).status_code == 200
    assert introspect(srv, body["access_token"])["active"] is True
