"""The demo's sign-in pages behind a proxy that forwards the browser's Host over plain http.

jupyter-server-proxy on a JupyterHub passes the hub's name in ``Host`` (and the hub's
``X-Forwarded-*``) to the loopback demo server. These tests send exactly those requests: through
the real socket from loopback, and through Flask's test client for a peer that is not on loopback.
The real hub is in ``tests/hub/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from nb_oauth.demo import PUBLIC_CLIENT_ID, DemoServer

HUB = "hub.example.test"
REDIRECT = "http://127.0.0.1:9/callback"


def authorize_query(**extra: str) -> str:
    params = {"response_type": "code", "client_id": PUBLIC_CLIENT_ID, "redirect_uri": REDIRECT,
              "scope": "openid profile", "state": "s-1234567890", **extra}
    return "/authorize?" + urlencode(params)


def forwarded(port: int, *, host: str = HUB) -> dict[str, str]:
    """The headers a request carries after configurable-http-proxy and jupyter-server-proxy."""
    prefix = f"/user/alice/proxy/{port}"
    return {"Host": host, "X-Forwarded-Proto": "https", "X-Forwarded-Host": host, "X-Forwarded-Port": "443",
            "X-Forwarded-Prefix": prefix, "X-Forwarded-For": "203.0.113.7"}


@pytest.fixture(scope="module")
def bare() -> Iterator[DemoServer]:
    """A demo server without a front-channel URL: only a loopback proxy's headers can say where it is."""
    with DemoServer(port=0) as server:
        yield server


def test_a_proxy_that_strips_forwarding_headers_gets_a_page_naming_the_fix(bare: DemoServer) -> None:
    r = requests.get(bare.url + authorize_query(), headers={"Host": HUB}, timeout=10, allow_redirects=False)
    assert r.status_code == 400
    text = re.sub(r"\s+", " ", r.text)
    assert "insecure_transport" in text
    assert f"http://{HUB}/authorize" in text  # what was seen
    assert "--front-channel-url" in text and "X-Forwarded-Proto" in text  # the fixes
    assert "invalid request" not in text  # not blamed on the application that sent the user
    assert 'name="username"' not in r.text


def test_forwarded_headers_from_loopback_render_the_sign_in_page_and_finish_the_login(bare: DemoServer) -> None:
    s = requests.Session()
    headers = forwarded(bare.port)
    r = s.get(bare.url + authorize_query(), headers=headers, timeout=10)
    assert r.status_code == 200 and 'name="username"' in r.text, r.text[:500]
    form = _form_fields(r.text)
    # the forms post back relative to the page, so the browser stays under the proxy's prefix
    assert _action(r.text).startswith("authorize?")
    r = s.post(bare.url + "/" + _action(r.text), headers=headers, timeout=10, allow_redirects=False,
               data={**form, "username": "alice", "password": "wonderland", "action": "login"})
    assert r.status_code == 303, r.text[:500]
    r = s.get(bare.url + "/" + r.headers["Location"], headers=headers, timeout=10)
    assert 'value="allow"' in r.text
    r = s.post(bare.url + "/" + _action(r.text), headers=headers, timeout=10, allow_redirects=False,
               data={**_form_fields(r.text), "consent": "allow"})
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert dict(parse_qsl(location.query))["code"]


def test_forwarded_headers_from_elsewhere_are_not_believed(bare: DemoServer) -> None:
    client = bare.app.test_client()
    r = client.get(authorize_query(), headers=forwarded(bare.port), environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert r.status_code == 400 and b"insecure_transport" in r.data
    r = client.get(authorize_query(), headers=forwarded(bare.port), environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert r.status_code == 200 and b'name="username"' in r.data


def test_the_token_endpoint_keeps_the_https_rule(bare: DemoServer) -> None:
    """RFC 6749 §3.1: forwarding headers make no token endpoint reached over http acceptable."""
    body = {"grant_type": "password", "username": "alice", "password": "wonderland", "client_id": PUBLIC_CLIENT_ID}
    r = requests.post(bare.url + "/token", data=body, headers=forwarded(bare.port), timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "insecure_transport"
    ok = requests.post(bare.url + "/token", data=body, timeout=10)  # on loopback, as the kernel sends it
    assert ok.status_code == 200 and ok.json()["access_token"]


def test_a_front_channel_url_is_trusted_for_any_host_name() -> None:
    box: list[str] = []
    with DemoServer(port=0, front_channel_url=lambda: box[0] if box else None) as server:
        box.append(f"https://{HUB}:8443/user/alice/proxy/{server.port}")
        for host in (HUB, "hub-alias.example.test", "10.0.0.8:8000"):
            # the proxy stripped every forwarding header and passed some name of the hub
            r = requests.get(server.url + authorize_query(), headers={"Host": host}, timeout=10)
            assert r.status_code == 200 and 'name="username"' in r.text, (host, r.text[:400])
        device = requests.get(server.url + "/device", headers={"Host": HUB}, timeout=10)
        assert device.status_code == 200 and "user_code" in device.text
        # the token endpoint is not a page: it still refuses http under a non-loopback name
        body = {"grant_type": "password", "username": "alice", "password": "wonderland",
                "client_id": PUBLIC_CLIENT_ID}
        r = requests.post(server.url + "/token", data=body, headers={"Host": HUB}, timeout=10)
        assert r.status_code == 400 and r.json()["error"] == "insecure_transport"


def test_the_auto_front_channel_lets_the_pages_render_behind_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", f"https://{HUB}/")
    monkeypatch.delenv("NB_OAUTH_REMOTE", raising=False)
    monkeypatch.delenv("NB_OAUTH_PUBLIC_URL", raising=False)
    with DemoServer(port=0, front_channel_url="auto") as server:
        assert server.front_channel_url == f"https://{HUB}/user/alice/proxy/{server.port}"
        r = requests.get(server.url + authorize_query(), headers={"Host": HUB}, timeout=10)
        assert r.status_code == 200 and 'name="username"' in r.text


def _action(page: str) -> str:
    match = re.search(r'<form[^>]*action="([^"]*)"', page)
    assert match, page[:500]
    return match.group(1).replace("&amp;", "&")


def _form_fields(page: str) -> dict[str, Any]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


def test_a_proxy_that_keeps_the_prefix_reaches_the_pages_too() -> None:
    """configurable-http-proxy passes a JupyterHub service's whole path (``/services/demo/authorize``)."""
    front = f"https://{HUB}/services/demo"
    with DemoServer(port=0, front_channel_url=front) as server:
        s = requests.Session()
        r = s.get(server.url + "/services/demo" + authorize_query(), headers={"Host": HUB}, timeout=10)
        assert r.status_code == 200 and 'name="username"' in r.text, r.text[:400]
        r = s.get(server.url + "/services/demo/device?user_code=BCDF-GHJK", headers={"Host": HUB}, timeout=10)
        assert r.status_code == 200 and "BCDF-GHJK" in r.text
        # only the pages live under the prefix; the kernel's endpoints stay where the issuer says
        assert requests.get(server.url + "/services/demo/token", timeout=10).status_code == 404
        assert metadata_of(server)["authorization_endpoint"] == front + "/authorize"
        assert metadata_of(server)["token_endpoint"] == server.url + "/token"


def metadata_of(server: DemoServer) -> dict[str, Any]:
    return requests.get(server.url + "/.well-known/openid-configuration", timeout=10).json()
