"""The demo server's front channel: its sign-in and device pages at another address than the back channel
(a JupyterHub's jupyter-server-proxy), given as a URL, a callable or ``"auto"``; the redirect URIs allowed on
that origin, the pages' relative links under a path-prefixing proxy, ``/logout``'s ``next``, and the
``--front-channel-url`` command-line option.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from oauthlib.oauth2 import WebApplicationClient

from nb_oauth.demo import PUBLIC_CLIENT_ID, DemoServer
from nb_oauth.demo.robot import run as robot_run

from .support import demo_helpers
from .support.demo_helpers import (
    REPO_ROOT,
    CallbackServer,
    api,
    password_tokens,
    poll,
    start_device,
    token,
    verify_id_token,
)

srv = demo_helpers.srv
callback = demo_helpers.callback
cb = demo_helpers.cb


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
