"""The embedded demo authorization server, exercised as an outside client would: its discovery documents
and keys, the grants at the token endpoint, the ID token of a code flow, revocation and introspection, and
the constants that import without the server's dependencies.

Only ``requests``, ``oauthlib`` and ``joserfc`` talk to the server here; the
browser side is the scripted robot, with a throwaway ``http.server`` on
127.0.0.1 standing in for the client's redirect listener.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import requests

from nb_oauth.demo import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
    DemoServer,
)

from .support import demo_helpers
from .support.demo_helpers import (
    CONFIDENTIAL,
    DEVICE_GRANT,
    REPO_ROOT,
    CallbackServer,
    api,
    at_hash,
    code_flow,
    introspect,
    password_tokens,
    refresh,
    token,
    verify_id_token,
)

srv = demo_helpers.srv
callback = demo_helpers.callback
cb = demo_helpers.cb


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


# -- the ID token of a code flow ------------------------------------------------------------------


def test_id_token_from_code_flow_has_nonce_and_at_hash(srv: DemoServer, cb: CallbackServer) -> None:
    flow = code_flow(srv, cb, ["openid", "profile"])
    r = token(srv, grant_type="authorization_code", code=flow.hit.query["code"], redirect_uri=cb.url,
              client_id=PUBLIC_CLIENT_ID, code_verifier=flow.verifier)
    tokens = r.json()
    claims = verify_id_token(srv, tokens["id_token"], PUBLIC_CLIENT_ID, nonce=flow.nonce)
    assert claims["at_hash"] == at_hash(tokens["access_token"])
    assert claims["name"] == "Alice Liddell" and "email" not in claims
    assert isinstance(claims["auth_time"], int)


# -- revocation and introspection ------------------------------------------------------------


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


# -- packaging ------------------------------------------------------------------------------------


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
