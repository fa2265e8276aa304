"""The demo server's browser flows, driven by the scripted robot: the authorization code flow with and
without PKCE, consent denied, the implicit flow's fragment relayed to the listener, the redirect URI rules,
the device flow, and the robot plugged in as a ``BROWSER`` command.
"""

from __future__ import annotations

import subprocess
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from oauthlib.oauth2 import MobileApplicationClient

from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, PUBLIC_CLIENT_ID, DemoServer
from nb_oauth.demo.robot import run as robot_run

from .support import demo_helpers
from .support.demo_helpers import (
    CONFIDENTIAL,
    EXTRA_PREFIX,
    EXTRA_URI,
    REPO_ROOT,
    CallbackServer,
    api,
    at_hash,
    code_flow,
    poll,
    start_device,
    token,
    verify_id_token,
)

srv = demo_helpers.srv
callback = demo_helpers.callback
cb = demo_helpers.cb
settings = demo_helpers.settings


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


# -- the robot as a BROWSER command ---------------------------------------------------------------


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

