"""The demo server's protected API as a client calls it with its tokens: ``/api/me`` with the token in the
header or the query, missing and bad tokens refused, ``/api/echo`` masking the token, the items' pagination
and scopes, and ``/userinfo``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from nb_oauth.demo import PUBLIC_CLIENT_ID, DemoServer

from .support import demo_helpers
from .support.demo_helpers import CONFIDENTIAL, api, password_tokens, token

srv = demo_helpers.srv


# -- protected API ----------------------------------------------------------------------------


def test_api_me_with_header_and_query(srv: DemoServer) -> None:
    access = password_tokens(srv)["access_token"]
    via_header = api(srv, "/api/me", access)
    via_query = requests.get(srv.url + "/api/me", params={"access_token": access}, timeout=10)
    assert via_header.status_code == via_query.status_code == 200
    assert via_header.json() == via_query.json() == {
        "sub": "alice", "login": "alice", "name": "Alice Liddell", "email": "alice@example.com",
        "scope": "openid profile email items:read", "client_id": PUBLIC_CLIENT_ID,
    }


def test_api_rejects_missing_and_bad_tokens(srv: DemoServer) -> None:
    r = api(srv, "/api/me", "not-a-token")
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert r.headers["WWW-Authenticate"].lower().startswith("bearer")
    r = requests.get(srv.url + "/api/me", timeout=10)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_api_echo_masks_the_token(srv: DemoServer) -> None:
    access = password_tokens(srv)["access_token"]
    r = api(srv, "/api/echo", access, params={"q": "1"})
    body = r.json()
    assert body["token_location"] == "header" and body["auth_scheme"] == "Bearer"
    assert body["token_prefix"] == access[:6] and body["token_valid"] is True
    assert body["query"] == {"q": "1"} and access not in r.text
    r = requests.get(srv.url + "/api/echo", params={"access_token": access, "x": "y"}, timeout=10)
    body = r.json()
    assert body["token_location"] == "query" and body["query"] == {"x": "y"} and access not in r.text


def test_items_pagination(srv: DemoServer) -> None:
    access = password_tokens(srv)["access_token"]
    url: str | None = srv.url + "/api/items?page=1&per_page=10"
    seen: list[int] = []
    pages = 0
    while url:
        r = api(srv, urlsplit(url).path + "?" + urlsplit(url).query, access)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == 95 and body["per_page"] == 10 and "access_token" not in (body["next"] or "")
        seen += [item["id"] for item in body["items"]]
        url, pages = body["next"], pages + 1
    assert pages == 10 and seen == list(range(1, 96))
    assert api(srv, "/api/items?page=3&per_page=2", access).json()["items"][0] == api(
        srv, "/api/items?page=5&per_page=1", access).json()["items"][0]
    assert api(srv, "/api/items?page=0", access).status_code == 400


def test_items_scope_enforcement(srv: DemoServer) -> None:
    # The public client may not have items:write: the scope is silently dropped.
    tokens = password_tokens(srv, scope="items:read items:write")
    assert tokens["scope"] == "items:read"
    r = api(srv, "/api/items", tokens["access_token"], method="POST", json={"name": "x"})
    assert r.status_code == 403 and r.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]

    no_read = password_tokens(srv, scope="profile")["access_token"]
    assert api(srv, "/api/items", no_read).status_code == 403

    writer = token(srv, auth=CONFIDENTIAL, grant_type="client_credentials", scope="items:write").json()
    writer_token = writer["access_token"]
    assert api(srv, "/api/items", writer_token, method="POST", json={"name": "x"}).status_code == 201
    assert api(srv, "/api/items", writer_token, method="POST", json=[1]).status_code == 400


def test_userinfo(srv: DemoServer) -> None:
    tokens = password_tokens(srv, scope="openid email")
    info = api(srv, "/userinfo", tokens["access_token"]).json()
    assert info == {"sub": "alice", "email": "alice@example.com", "email_verified": True}
    no_openid = password_tokens(srv, scope="profile")["access_token"]
    assert api(srv, "/userinfo", no_openid).status_code == 403
