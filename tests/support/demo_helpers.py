"""The embedded demo server as an outside client meets it, for the ``test_demo_server*`` modules: a demo
server with extra redirect URIs registered, a throwaway ``http.server`` on 127.0.0.1 standing in for the
client's redirect listener, and the token, API, ID token, device and introspection calls the tests make
with ``requests``, ``oauthlib`` and ``joserfc``.

A test module takes the fixtures by naming them (``srv = demo_helpers.srv``); ``srv`` and ``callback``
are module-scoped, so each module has its own server and listener."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from oauthlib.oauth2 import WebApplicationClient

from nb_oauth.demo import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    DEMO_USERS,
    PUBLIC_CLIENT_ID,
    DemoServer,
)
from nb_oauth.demo.robot import run as robot_run

REPO_ROOT = Path(__file__).resolve().parents[2]
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


# -- device flow and introspection ------------------------------------------------------------


def start_device(srv: DemoServer, scope: str = "openid items:read") -> dict[str, Any]:
    r = requests.post(srv.url + "/device_authorization", data={"client_id": PUBLIC_CLIENT_ID, "scope": scope},
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def poll(srv: DemoServer, device_code: str) -> requests.Response:
    return token(srv, grant_type=DEVICE_GRANT, device_code=device_code, client_id=PUBLIC_CLIENT_ID)


def introspect(srv: DemoServer, value: str, **extra: str) -> dict[str, Any]:
    r = requests.post(srv.url + "/introspect", data={"token": value, **extra}, auth=CONFIDENTIAL, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()
