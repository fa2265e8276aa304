"""The embedded demo authorization server, exercised as an outside client would.

Only ``requests``, ``oauthlib`` and ``joserfc`` talk to the server here; the
browser side is the scripted robot, with a throwaway ``http.server`` on
127.0.0.1 standing in for the client's redirect listener.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from oauthlib.oauth2 import MobileApplicationClient, WebApplicationClient

from nb_oauth.demo import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    DEMO_USERS,
    PUBLIC_CLIENT_ID,
    DemoServer,
)
from nb_oauth.demo.robot import run as robot_run

REPO_ROOT = Path(__file__).resolve().parents[1]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CONFIDENTIAL = (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)
EXTRA_URI = "https://app.example.test/callback"
EXTRA_PREFIX = "https://prefix.example.test/oauth/"


# -- fixtures ---------------------------------------------------------------------


@dataclass
class Hit:
    method: str
    path: str
    body: str

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query))


class CallbackServer:
    """Records every request, answering GET with a page and POST with 200."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        lock = threading.Lock()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def _record(self, body: str) -> None:
                with lock:
                    hits.append(Hit(self.command, self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html><body>callback</body></html>")

            def do_GET(self) -> None:  # noqa: N802
                self._record("")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                self._record(self.rfile.read(length).decode())

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/callback"

    def clear(self) -> None:
        self.hits.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def srv() -> Iterator[DemoServer]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # oauthlib insists on https otherwise
        with DemoServer(
            port=0, extra_redirect_uris=[EXTRA_URI], extra_redirect_prefixes=[EXTRA_PREFIX]
        ) as server:
            yield server


@pytest.fixture(scope="module")
def callback() -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.close()


@pytest.fixture
def cb(callback: CallbackServer) -> CallbackServer:
    callback.clear()
    return callback


@pytest.fixture
def settings(srv: DemoServer) -> Iterator[Any]:
    """The live settings, restored after the test."""
    saved = dict(vars(srv.settings))
    yield srv.settings
    vars(srv.settings).update(saved)


# -- helpers ------------------------------------------------------------------------


def token(srv: DemoServer, auth: tuple[str, str] | None = None, **data: str) -> requests.Response:
    return requests.post(srv.url + "/token", data=data, auth=auth, timeout=10)


def password_tokens(srv: DemoServer, scope: str = "openid profile email items:read") -> dict[str, Any]:
    r = token(srv, grant_type="password", username="alice", password=DEMO_USERS["alice"],
              client_id=PUBLIC_CLIENT_ID, scope=scope)
    assert r.status_code == 200, r.text
    return r.json()


def refresh(srv: DemoServer, refresh_token: str, **extra: str) -> requests.Response:
    return token(srv, grant_type="refresh_token", refresh_token=refresh_token,
                 client_id=PUBLIC_CLIENT_ID, **extra)


def api(
    srv: DemoServer, path: str, access_token: str, method: str = "GET", **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}"}
    return requests.request(method, srv.url + path, headers=headers, timeout=10, **kwargs)


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def verify_id_token(
    srv: DemoServer, id_token: str, client_id: str, nonce: str | None = None
) -> dict[str, Any]:
    keys = KeySet.import_key_set(requests.get(srv.url + "/jwks", timeout=10).json())
    decoded = jwt.decode(id_token, keys, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    assert decoded.header["kid"] == keys.keys[0].kid
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": srv.url},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(**options).validate(decoded.claims)
    return decoded.claims


@dataclass
class Flow:
    client: WebApplicationClient
    verifier: str
    nonce: str
    hit: Hit


def code_flow(srv: DemoServer, cb: CallbackServer, scope: list[str], consent: str = "allow") -> Flow:
    """Run the authorization step (PKCE S256, nonce) through the robot; return what the client holds."""
    client = WebApplicationClient(PUBLIC_CLIENT_ID)
    verifier = client.create_code_verifier(64)
    challenge = client.create_code_challenge(verifier, "S256")
    nonce = f"nonce-{time.monotonic_ns()}"
    url = client.prepare_request_uri(
        srv.url + "/authorize", redirect_uri=cb.url, scope=scope, state="st-" + consent,
        nonce=nonce, code_challenge=challenge, code_challenge_method="S256",
    )
    result = robot_run(url, consent=consent)
    assert result.ok, result
    assert len(cb.hits) == 1 and cb.hits[0].method == "GET"
    return Flow(client, verifier, nonce, cb.hits[0])


# -- discovery and keys -------------------------------------------------------------


def test_discovery_documents(srv: DemoServer) -> None:
    from authlib.oauth2.rfc9207 import AuthorizationServerMetadata as IssMetadata
    from authlib.oidc.discovery import OpenIDProviderMetadata

    oidc = requests.get(srv.url + "/.well-known/openid-configuration", timeout=10).json()
    rfc8414 = requests.get(srv.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert oidc == rfc8414
    assert oidc["issuer"] == srv.url and not srv.url.endswith("/")
    for key, path in [
        ("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
        ("device_authorization_endpoint", "/device_authorization"), ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"), ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/jwks"),
    ]:
        assert oidc[key] == srv.url + path
        assert srv.endpoints[key] == srv.url + path
    assert oidc["code_challenge_methods_supported"] == ["S256", "plain"]
    assert oidc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(oidc["scopes_supported"]) == {
        "openid", "profile", "email", "offline_access", "items:read", "items:write"
    }
    assert DEVICE_GRANT in oidc["grant_types_supported"]
    auth_methods = set(oidc["token_endpoint_auth_methods_supported"])
    assert {"client_secret_basic", "client_secret_post", "none"} <= auth_methods
    assert oidc["authorization_response_iss_parameter_supported"] is True
    OpenIDProviderMetadata(oidc).validate(metadata_classes=[IssMetadata])


def test_jwks_publishes_public_rs256_key(srv: DemoServer) -> None:
    keys = requests.get(srv.url + "/jwks", timeout=10).json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


# -- token endpoint grants --------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials(srv: DemoServer, method: str) -> None:
    before = srv.stats["token:client_credentials"]
    if method == "client_secret_basic":
        r = token(srv, auth=CONFIDENTIAL, grant_type="client_credentials", scope="items:read items:write")
    else:
        r = token(srv, grant_type="client_credentials", scope="items:read", client_id=CONFIDENTIAL_CLIENT_ID,
                  client_secret=CONFIDENTIAL_CLIENT_SECRET)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == srv.settings.access_token_lifetime
    assert "refresh_token" not in body and "id_token" not in body
    assert srv.stats["token:client_credentials"] == before + 1
    me = api(srv, "/api/me", body["access_token"]).json()
    assert me["client_id"] == CONFIDENTIAL_CLIENT_ID and me["sub"] == CONFIDENTIAL_CLIENT_ID


def test_client_authentication_failures(srv: DemoServer) -> None:
    r = token(srv, auth=(CONFIDENTIAL_CLIENT_ID, "wrong"), grant_type="client_credentials")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # A public client has no secret, so it cannot use client_credentials at all.
    r = token(srv, grant_type="client_credentials", client_id=PUBLIC_CLIENT_ID)
    assert r.status_code in (400, 401) and r.json()["error"] in ("invalid_client", "unauthorized_client")
    # A confidential client may not skip authentication.
    r = token(srv, grant_type="password", username="alice", password="wonderland",
              client_id=CONFIDENTIAL_CLIENT_ID)
    assert r.json()["error"] == "invalid_client"


def test_password_grant(srv: DemoServer) -> None:
    body = password_tokens(srv)
    assert body["refresh_token"] and body["id_token"]
    assert body["scope"] == "openid profile email items:read"
    claims = verify_id_token(srv, body["id_token"], PUBLIC_CLIENT_ID)
    assert claims["sub"] == "alice" and claims["email"] == "alice@example.com" and claims["name"]
    assert claims["at_hash"] == at_hash(body["access_token"])
    r = token(srv, grant_type="password", username="alice", password="nope", client_id=PUBLIC_CLIENT_ID)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_refresh_token_rotation(srv: DemoServer) -> None:
    first = password_tokens(srv)
    r = refresh(srv, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == first["scope"] and "id_token" in second

    replay = refresh(srv, first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    narrower = refresh(srv, second["refresh_token"], scope="items:read")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "items:read"
    assert api(srv, "/api/me", narrower.json()["access_token"]).status_code == 200


def test_concurrent_refresh_has_one_winner(srv: DemoServer) -> None:
    refresh_token = password_tokens(srv)["refresh_token"]
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        statuses.append(refresh(srv, refresh_token).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [400] * 7


# -- browser flows through the robot ------------------------------------------------------


def test_authorization_code_with_pkce(srv: DemoServer, cb: CallbackServer) -> None:
    before = srv.stats["authorize"]
    flow = code_flow(srv, cb, ["openid", "profile", "items:read"])
    assert srv.stats["authorize"] == before + 1
    assert flow.hit.query["iss"] == srv.url  # RFC 9207
    client = flow.client
    client.parse_request_uri_response(cb.url + flow.hit.path[len("/callback"):], state="st-allow")
    body = client.prepare_request_body(code=client.code, redirect_uri=cb.url, code_verifier=flow.verifier,
                                       include_client_id=True)
    r = requests.post(srv.url + "/token", data=dict(parse_qsl(body)), timeout=10)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["refresh_token"] and tokens["id_token"]
    assert api(srv, "/api/items", tokens["access_token"]).status_code == 200

    # The code is single-use; replaying it also revokes what it produced.
    again = requests.post(srv.url + "/token", data=dict(parse_qsl(body)), timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert api(srv, "/api/me", tokens["access_token"]).status_code == 401


def test_pkce_verifier_is_checked(srv: DemoServer, cb: CallbackServer) -> None:
    flow = code_flow(srv, cb, ["items:read"])
    r = token(srv, grant_type="authorization_code", code=flow.hit.query["code"], redirect_uri=cb.url,
              client_id=PUBLIC_CLIENT_ID, code_verifier="x" * 64)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_plain_code_flow_for_confidential_client(srv: DemoServer, cb: CallbackServer) -> None:
    url = srv.url + "/authorize?" + urlencode(
        {"response_type": "code", "client_id": CONFIDENTIAL_CLIENT_ID, "redirect_uri": cb.url,
         "scope": "items:write", "state": "plain"}
    )
    assert robot_run(url, username="bob", password="builder").ok
    code = cb.hits[0].query["code"]
    r = token(srv, auth=CONFIDENTIAL, grant_type="authorization_code", code=code, redirect_uri=cb.url)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "items:write" and "id_token" not in r.json()
    created = api(srv, "/api/items", r.json()["access_token"], method="POST", json={"name": "Widget"})
    assert created.status_code == 201
    assert created.json()["name"] == "Widget" and created.json()["owner"] == "bob"


def test_consent_deny_returns_access_denied(srv: DemoServer, cb: CallbackServer) -> None:
    query = code_flow(srv, cb, ["openid"], consent="deny").hit.query
    assert query["error"] == "access_denied" and query["state"] == "st-deny" and query["iss"] == srv.url
    assert "code" not in query


def test_implicit_fragment_is_posted_to_relay(srv: DemoServer, cb: CallbackServer) -> None:
    client = MobileApplicationClient(PUBLIC_CLIENT_ID)
    url = client.prepare_request_uri(srv.url + "/authorize", redirect_uri=cb.url,
                                      scope=["openid", "email"], state="imp", nonce="imp-nonce")
    url = url.replace("response_type=token", "response_type=id_token+token")
    assert robot_run(url).ok
    get, post = cb.hits
    assert (get.method, get.path) == ("GET", "/callback")
    assert (post.method, post.path) == ("POST", "/callback")
    fragment = dict(parse_qsl(post.body))
    assert fragment["state"] == "imp" and fragment["iss"] == srv.url and "refresh_token" not in fragment
    tok = client.parse_request_uri_response(cb.url + "#" + post.body, state="imp", scope=["openid", "email"])
    claims = verify_id_token(srv, tok["id_token"], PUBLIC_CLIENT_ID, nonce="imp-nonce")
    assert claims["at_hash"] == at_hash(tok["access_token"]) and claims["email"] == "alice@example.com"
    assert api(srv, "/api/me", tok["access_token"]).json()["sub"] == "alice"


def test_redirect_uri_rules(srv: DemoServer) -> None:
    def page(redirect_uri: str) -> tuple[int, str]:
        params = {"response_type": "code", "client_id": PUBLIC_CLIENT_ID, "redirect_uri": redirect_uri}
        r = requests.get(srv.url + "/authorize", params=params, allow_redirects=False, timeout=10)
        return r.status_code, r.text

    for ok in ["http://127.0.0.1:1234/cb", "http://localhost:9/x/y", "http://[::1]:5555/", EXTRA_URI,
               EXTRA_PREFIX + "done"]:
        status, text = page(ok)
        assert status == 200 and 'name="username"' in text, ok
    for bad in ["https://evil.example/cb", EXTRA_URI + "/more", "http://127.0.0.2.evil.example/cb"]:
        status, text = page(bad)
        assert status == 400 and 'data-result="error"' in text, bad


# -- device flow -----------------------------------------------------------------------------


def start_device(srv: DemoServer, scope: str = "openid items:read") -> dict[str, Any]:
    r = requests.post(srv.url + "/device_authorization", data={"client_id": PUBLIC_CLIENT_ID, "scope": scope},
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def poll(srv: DemoServer, device_code: str) -> requests.Response:
    return token(srv, grant_type=DEVICE_GRANT, device_code=device_code, client_id=PUBLIC_CLIENT_ID)


def test_device_flow(srv: DemoServer) -> None:
    device = start_device(srv)
    assert device["verification_uri"] == srv.url + "/device"
    assert device["verification_uri_complete"].endswith("user_code=" + device["user_code"])
    assert device["interval"] == srv.settings.device_interval
    assert poll(srv, device["device_code"]).json()["error"] == "authorization_pending"

    result = robot_run(device["verification_uri_complete"])
    assert result.ok and result.message == "device approved"
    r = poll(srv, device["device_code"])
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] and r.json()["id_token"] and r.json()["scope"] == "openid items:read"
    assert poll(srv, device["device_code"]).status_code == 400  # one token set per device code


def test_device_slow_down(srv: DemoServer) -> None:
    device = start_device(srv)
    assert poll(srv, device["device_code"]).json()["error"] == "authorization_pending"
    assert poll(srv, device["device_code"]).json()["error"] == "slow_down"


def test_device_denied_and_expired(srv: DemoServer, settings: Any) -> None:
    denied = start_device(srv)
    # Typing the code by hand, lower-case and without the dash, still works.
    code = denied["user_code"].replace("-", "").lower()
    assert robot_run(srv.url + "/device", consent="deny", user_code=code).ok
    assert poll(srv, denied["device_code"]).json()["error"] == "access_denied"

    settings.device_code_lifetime = 1
    expiring = start_device(srv)
    assert expiring["expires_in"] == 1
    time.sleep(1.1)
    assert poll(srv, expiring["device_code"]).json()["error"] == "expired_token"
    assert not robot_run(expiring["verification_uri_complete"]).ok


# -- revocation and introspection ------------------------------------------------------------


def introspect(srv: DemoServer, value: str, **extra: str) -> dict[str, Any]:
    r = requests.post(srv.url + "/introspect", data={"token": value, **extra}, auth=CONFIDENTIAL, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_revocation_then_introspection(srv: DemoServer) -> None:
    tokens = password_tokens(srv)
    info = introspect(srv, tokens["access_token"])
    assert info["active"] is True and info["sub"] == "alice" and info["client_id"] == PUBLIC_CLIENT_ID
    assert introspect(srv, tokens["refresh_token"], token_type_hint="refresh_token")["active"] is True

    public = {"client_id": PUBLIC_CLIENT_ID}
    r = requests.post(srv.url + "/introspect", data={"token": tokens["access_token"], **public}, timeout=10)
    assert r.status_code == 401  # introspection needs a confidential client

    before = srv.stats["revoke"]
    r = requests.post(srv.url + "/revoke", data={"token": tokens["refresh_token"], **public}, timeout=10)
    assert r.status_code == 200 and srv.stats["revoke"] == before + 1
    assert introspect(srv, tokens["refresh_token"]) == {"active": False}
    assert introspect(srv, tokens["access_token"]) == {"active": False}
    assert api(srv, "/api/me", tokens["access_token"]).status_code == 401
    assert introspect(srv, "no-such-token") == {"active": False}


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


def test_id_token_from_code_flow_has_nonce_and_at_hash(srv: DemoServer, cb: CallbackServer) -> None:
    flow = code_flow(srv, cb, ["openid", "profile"])
    r = token(srv, grant_type="authorization_code", code=flow.hit.query["code"], redirect_uri=cb.url,
              client_id=PUBLIC_CLIENT_ID, code_verifier=flow.verifier)
    tokens = r.json()
    claims = verify_id_token(srv, tokens["id_token"], PUBLIC_CLIENT_ID, nonce=flow.nonce)
    assert claims["at_hash"] == at_hash(tokens["access_token"])
    assert claims["name"] == "Alice Liddell" and "email" not in claims
    assert isinstance(claims["auth_time"], int)


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


# -- packaging and the robot as a BROWSER command ---------------------------------------------------


def test_constants_import_without_server_dependencies() -> None:
    code = (
        "import sys\n"
        "for name in ('flask', 'authlib', 'joserfc', 'werkzeug'): sys.modules[name] = None\n"
        "import nb_oauth.demo as demo\n"
        "assert demo.PUBLIC_CLIENT_ID == 'demo-public' and demo.DEMO_USERS['bob'] == 'builder'\n"
        "try:\n    demo.DemoServer\nexcept ImportError:\n    print('lazy')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "lazy"


def test_robot_as_browser_command(srv: DemoServer, cb: CallbackServer, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "robot.log"
    monkeypatch.setenv("NB_OAUTH_ROBOT_CONSENT", "allow")
    monkeypatch.setenv("NB_OAUTH_ROBOT_USER", "bob")
    monkeypatch.setenv("NB_OAUTH_ROBOT_PASSWORD", "builder")
    monkeypatch.setenv("NB_OAUTH_ROBOT_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    url = srv.url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": PUBLIC_CLIENT_ID, "redirect_uri": cb.url,
        "state": "cli-state", "scope": "profile",
    })
    browser = webbrowser.get(f"{sys.executable} -m nb_oauth.demo.robot %s")
    assert browser.open(url) is True
    code = cb.hits[-1].query["code"]
    r = token(srv, grant_type="authorization_code", code=code, redirect_uri=cb.url,
              client_id=PUBLIC_CLIENT_ID)
    assert api(srv, "/api/me", r.json()["access_token"]).json()["sub"] == "bob"
    logged = log.read_text()
    assert "/authorize 200" in logged and "/callback 200" in logged
    for secret in (code, "cli-state", "builder"):
        assert secret not in logged

    monkeypatch.setenv("NB_OAUTH_ROBOT_PASSWORD", "wrong")
    out = subprocess.run([sys.executable, "-m", "nb_oauth.demo.robot", url], capture_output=True, text=True,
                         timeout=30, cwd=REPO_ROOT)
    assert out.returncode != 0 and "Wrong username or password" in out.stderr


# -- front channel: the pages behind a path-prefixing proxy (jupyter-server-proxy) ------------


HUB_FRONT = "https://hub.example.test/user/alice/proxy/8750"


class PrefixProxy:
    """``/user/alice/proxy/<port>/<path>`` → ``http://127.0.0.1:<port>/<path>``, as jupyter-server-proxy does.

    The prefix is stripped and not passed on, so only relative links keep a browser under it.
    """

    PREFIX = "/user/alice/proxy/"

    def __init__(self) -> None:
        from werkzeug.serving import make_server

        self.httpd = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def base(self, port: int) -> str:
        return f"{self.url}{self.PREFIX}{port}"

    def _app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        port, _, rest = path.removeprefix(self.PREFIX).partition("/")
        if not path.startswith(self.PREFIX) or not port.isdigit():
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not proxied"]
        query = environ.get("QUERY_STRING", "")
        target = f"http://127.0.0.1:{port}/{rest}" + (f"?{query}" if query else "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        headers = {name: environ[key] for name, key in (("Content-Type", "CONTENT_TYPE"), ("Cookie", "HTTP_COOKIE"))
                   if environ.get(key)}
        r = requests.request(environ["REQUEST_METHOD"], target, data=environ["wsgi.input"].read(length),
                             headers=headers, allow_redirects=False, timeout=10)
        passed = [(k, v) for k, v in r.raw.headers.items() if k.lower() in ("content-type", "location", "set-cookie")]
        start_response(f"{r.status_code} {r.reason}", passed)
        return [r.content]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def proxy() -> Iterator[PrefixProxy]:
    p = PrefixProxy()
    yield p
    p.close()


def metadata(server: DemoServer) -> dict[str, Any]:
    return requests.get(server.url + "/.well-known/openid-configuration", timeout=10).json()


def test_front_channel_moves_only_the_pages(srv: DemoServer) -> None:
    with DemoServer(port=0, front_channel_url=HUB_FRONT + "/") as front:
        assert front.front_channel_url == HUB_FRONT
        oidc = metadata(front)
        assert oidc == requests.get(front.url + "/.well-known/oauth-authorization-server", timeout=10).json()
        assert oidc["authorization_endpoint"] == HUB_FRONT + "/authorize"
        assert oidc["issuer"] == front.url and front.url.startswith("http://127.0.0.1:")
        for key in ("token_endpoint", "device_authorization_endpoint", "revocation_endpoint",
                    "introspection_endpoint", "userinfo_endpoint", "jwks_uri"):
            assert oidc[key] == front.endpoints[key] == front.url + PATHS_BY_KEY[key], key
        device = start_device(front)
        assert device["verification_uri"] == HUB_FRONT + "/device"
        assert device["verification_uri_complete"] == HUB_FRONT + "/device?user_code=" + device["user_code"]
        # the back channel answers on loopback as before
        assert poll(front, device["device_code"]).json()["error"] == "authorization_pending"
        tokens = password_tokens(front)
        assert verify_id_token(front, tokens["id_token"], PUBLIC_CLIENT_ID)["iss"] == front.url
        assert api(front, "/api/me", tokens["access_token"]).json()["sub"] == "alice"
    # without a front channel nothing changes
    assert srv.front_channel_url is None
    assert metadata(srv)["authorization_endpoint"] == srv.url + "/authorize"
    assert start_device(srv)["verification_uri"] == srv.url + "/device"


PATHS_BY_KEY = {"token_endpoint": "/token", "device_authorization_endpoint": "/device_authorization",
                "revocation_endpoint": "/revoke", "introspection_endpoint": "/introspect",
                "userinfo_endpoint": "/userinfo", "jwks_uri": "/jwks"}


def test_front_channel_is_asked_on_every_request() -> None:
    current: list[str | None] = [None]
    with DemoServer(port=0, front_channel_url=lambda: current[0]) as server:
        assert metadata(server)["authorization_endpoint"] == server.url + "/authorize"
        current[0] = HUB_FRONT
        assert metadata(server)["authorization_endpoint"] == HUB_FRONT + "/authorize"
        assert start_device(server)["verification_uri"] == HUB_FRONT + "/device"


def test_auto_front_channel_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from nb_oauth.redirect import callback

    for name in ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_URL", "JUPYTERHUB_PUBLIC_URL", "BINDER_LAUNCH_HOST",
                 "BINDER_REPO_URL", "BINDER_REQUEST", "COLAB_RELEASE_TAG", "SSH_CONNECTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NB_OAUTH_REMOTE", "0")
    monkeypatch.setenv("NB_OAUTH_PUBLIC_URL", "https://lab.example.test/user/bob/")
    server = DemoServer(port=0, front_channel_url="auto")
    assert server.front_channel_url is None  # not started: no port yet
    with server:
        assert metadata(server)["authorization_endpoint"] == server.url + "/authorize"  # local: loopback
        monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
        front = f"https://lab.example.test/user/bob/proxy/{server.port}"
        assert server.front_channel_url == front
        assert metadata(server)["authorization_endpoint"] == front + "/authorize"
        assert start_device(server)["verification_uri"] == front + "/device"
        # remote, but nothing says where the page is: plain loopback
        monkeypatch.delenv("NB_OAUTH_PUBLIC_URL")
        callback.set_frontend_base_url(None)
        assert metadata(server)["authorization_endpoint"] == server.url + "/authorize"
        # the form's front end reports the page's base URL later: picked up on the next request
        try:
            callback.set_frontend_base_url("http://127.0.0.1:8888/")
            assert metadata(server)["authorization_endpoint"] == f"http://127.0.0.1:8888/proxy/{server.port}/authorize"
        finally:
            callback.set_frontend_base_url(None)


@pytest.mark.parametrize("bad", ["hub.example/x", "ftp://hub.example/x", "https://hub.example/x?a=1",
                                 "https://hub.example/x#f", "https://hub.example:99999/"])
def test_front_channel_url_must_be_an_http_url(bad: str) -> None:
    with pytest.raises(ValueError, match="front_channel_url"):
        DemoServer(front_channel_url=bad)


def test_redirect_uris_on_the_front_channel_origin() -> None:
    def page(server: DemoServer, redirect_uri: str) -> int:
        params = {"response_type": "code", "client_id": PUBLIC_CLIENT_ID, "redirect_uri": redirect_uri}
        return requests.get(server.url + "/authorize", params=params, allow_redirects=False, timeout=10).status_code

    proxied_callback = "https://hub.example.test/user/alice/proxy/40123/callback"
    with DemoServer(port=0, front_channel_url=HUB_FRONT) as server:
        for ok in [proxied_callback, "https://hub.example.test:443/user/alice/proxy/absolute/1/cb",
                   "https://HUB.example.test/other/path", "http://127.0.0.1:1234/cb"]:
            assert page(server, ok) == 200, ok
        for bad in ["http://hub.example.test/user/alice/proxy/40123/callback",  # other scheme
                    "https://hub.example.test:8443/cb",  # other port
                    "https://hub.example.test.evil.example/cb", "https://evil.example/cb",
                    "https://hub.example.test@evil.example/cb", "https://user@hub.example.test/cb",
                    proxied_callback + "#frag"]:
            assert page(server, bad) == 400, bad
    with DemoServer(port=0) as plain:  # no front channel: only loopback and the registered extras
        assert page(plain, proxied_callback) == 400


def test_pages_work_under_a_path_prefix(proxy: PrefixProxy, cb: CallbackServer) -> None:
    with DemoServer(port=0, front_channel_url=lambda: proxy.base(server.port)) as server:
        prefix = urlsplit(proxy.base(server.port)).path
        authorize = metadata(server)["authorization_endpoint"]
        assert authorize == proxy.base(server.port) + "/authorize"

        # the pages' links are relative, and so is the redirect after signing in
        client = WebApplicationClient(PUBLIC_CLIENT_ID)
        verifier = client.create_code_verifier(64)
        url = client.prepare_request_uri(
            authorize, redirect_uri=cb.url, scope=["openid", "profile"], state="prefixed",
            code_challenge=client.create_code_challenge(verifier, "S256"), code_challenge_method="S256")
        login = requests.get(url, timeout=10)
        assert login.status_code == 200 and 'action="authorize?' in login.text and 'action="/' not in login.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf
        signed_in = requests.post(url, data={"csrf_token": csrf[1], "username": "alice", "password": "wonderland",
                                             "action": "login"}, cookies=login.cookies, allow_redirects=False,
                                  timeout=10)
        assert signed_in.status_code == 303 and signed_in.headers["Location"].startswith("authorize?")

        # a browser's whole round trip through the proxy: every page request stays under the prefix
        result = robot_run(url)
        assert result.ok, result
        pages = [step for step in result.steps if "/callback" not in step]
        assert pages and all(step.split()[1] == prefix + "/authorize" for step in pages), result.steps
        assert any(step.startswith("POST ") for step in pages)
        hit = cb.hits[-1]
        assert hit.query["state"] == "prefixed" and hit.query["iss"] == server.url
        r = token(server, grant_type="authorization_code", code=hit.query["code"], redirect_uri=cb.url,
                  client_id=PUBLIC_CLIENT_ID, code_verifier=verifier)
        assert r.status_code == 200, r.text
        assert verify_id_token(server, r.json()["id_token"], PUBLIC_CLIENT_ID)["iss"] == server.url

        # the device verification page too
        device = start_device(server, scope="items:read")
        assert device["verification_uri"] == proxy.base(server.port) + "/device"
        page = requests.get(device["verification_uri"], timeout=10)
        assert page.status_code == 200 and 'action="device"' in page.text
        result = robot_run(device["verification_uri_complete"])
        assert result.ok and result.message == "device approved", result
        assert all(step.split()[1] == prefix + "/device" for step in result.steps), result.steps
        assert poll(server, device["device_code"]).status_code == 200


def test_logout_follows_only_same_server_references(srv: DemoServer) -> None:
    def logout(target: str) -> requests.Response:
        return requests.get(srv.url + "/logout", params={"next": target}, allow_redirects=False, timeout=10)

    for ok in ["authorize?client_id=demo-public", "device", "/device"]:
        r = logout(ok)
        assert r.status_code == 303 and r.headers["Location"] == ok, ok
    for bad in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""]:
        r = logout(bad)
        assert r.status_code == 200 and 'data-result="signed-out"' in r.text, bad


def test_command_line_front_channel_url() -> None:
    from .support.servers import free_port

    port = free_port()
    front = f"{HUB_FRONT.rsplit('/', 1)[0]}/{port}"
    proc = subprocess.Popen([sys.executable, "-m", "nb_oauth.demo", "--port", str(port), "--quiet",
                             "--front-channel-url", front], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        assert f"  login pages:   {front}\n" in lines, lines
        oidc = requests.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=10).json()
        assert oidc["authorization_endpoint"] == front + "/authorize"
        assert oidc["token_endpoint"] == f"http://127.0.0.1:{port}/token"
    finally:
        proc.terminate()
        proc.wait(10)
    bad = subprocess.run([sys.executable, "-m", "nb_oauth.demo", "--front-channel-url", "hub.example/x"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "front_channel_url" in bad.stderr
