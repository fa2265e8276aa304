"""Attacks on the flows themselves: a hostile device verification URI, the localhost callback, issuer
checks (RFC 9207 and discovery), ID-token claims, token syntax, refreshes without an ID token, a fixed
state, and the listener under connection pressure."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth._presenter import ConsolePresenter, use_presenter
from nb_oauth.errors import TokenEndpointError

from .support.servers import LocalServer, Reply, Seen


class Recorder(ConsolePresenter):
    """A presenter that keeps what would be shown."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    def _print(self, text: str) -> None:
        self.shown.append(text)


def _opener(tmp_path: Path, monkeypatch) -> Path:
    """``BROWSER`` set to a command that records every URL it is asked to open."""
    log = tmp_path / "opened.txt"
    script = tmp_path / "opener.py"
    script.write_text("import sys\nopen(sys.argv[2], 'a').write(sys.argv[1] + '\\n')\n")
    monkeypatch.setenv("BROWSER", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} %s {shlex.quote(str(log))}")
    return log


HOSTILE_URIS = ["javascript:alert(document.cookie)", "file:///etc/passwd", "ms-msdt:/id PCWDiagnostic",
                "http://attacker.example/device", "data:text/html,<script>alert(1)</script>", "//attacker.example/x",
                "https:///no-host", "https://ok.example/device\n<script>"]


@pytest.mark.parametrize("field", ["verification_uri", "verification_uri_complete"])
@pytest.mark.parametrize("uri", HOSTILE_URIS)
def test_a_hostile_verification_uri_is_neither_opened_nor_linked(uri, field, tmp_path, monkeypatch) -> None:
    log = _opener(tmp_path, monkeypatch)

    def device(s: Seen, raw: bytes) -> Reply:
        body = {"device_code": "dc-1234567890", "user_code": "ABCD-EFGH", "expires_in": 60, "interval": 1,
                "verification_uri": "https://ok.example/device"}
        body[field] = uri
        return Reply(body=json.dumps(body))

    with LocalServer(device) as srv:
        cfg = OAuth2Config(token_name="dev", grant_type="device_code", client_id="c",
                           device_authorization_url=srv.url + "/device", access_token_url=srv.url + "/token")
        shown = Recorder()
        with use_presenter(shown), pytest.raises(TokenEndpointError) as caught:
            nb_oauth.get_new_access_token(cfg)
        assert repr(uri)[1:-1][:40] in str(caught.value) and "https" in str(caught.value)
        assert [s.path for s in srv.seen] == ["/device"]  # nothing was polled
    assert shown.shown == [] and not log.exists()
    assert "dev" not in nb_oauth.tokens


def test_an_http_verification_uri_is_fine_on_loopback_and_with_the_opt_in(tmp_path, monkeypatch) -> None:
    log = _opener(tmp_path, monkeypatch)

    def device(s: Seen, raw: bytes) -> Reply:
        if s.path == "/device":
            return Reply(body=json.dumps({"device_code": "dc-1234567890", "user_code": "ABCD", "interval": 1,
                                          "verification_uri": "http://device.example/go"
                                          if "optin" in str(s.body) else "http://127.0.0.1:9/go"}))
        return Reply(body=json.dumps({"access_token": "at-" + "x" * 20, "token_type": "Bearer"}))

    with LocalServer(device) as srv:
        for name, insecure in (("loop", False), ("optin", True)):
            cfg = OAuth2Config(token_name=name, grant_type="device_code", client_id=name, scope=name,
                               device_authorization_url=srv.url + "/device", access_token_url=srv.url + "/token",
                               allow_insecure_http=insecure)
            with use_presenter(Recorder()):
                assert nb_oauth.get_new_access_token(cfg).access_token.startswith("at-")
    for _ in range(50):
        if log.exists() and len(log.read_text().split()) == 2:
            break
        import time

        time.sleep(0.1)
    assert sorted(log.read_text().split()) == ["http://127.0.0.1:9/go", "http://device.example/go"]


def test_the_browser_opener_never_opens_another_scheme(tmp_path, monkeypatch) -> None:
    from nb_oauth.redirect.browser import open_in_browser

    log = _opener(tmp_path, monkeypatch)
    for uri in [*HOSTILE_URIS[:3], "vscode://file/etc/passwd"]:
        open_in_browser(uri).join(10)
    assert not log.exists()
    open_in_browser("https://ok.example/").join(10)
    for _ in range(50):
        if log.exists():
            break
        import time

        time.sleep(0.1)
    assert log.read_text().split() == ["https://ok.example/"]


# -- item: a localhost callback binds both loopback addresses -------------------------------------


def _ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _status_via(address: str, port: int) -> int:
    import http.client

    conn = http.client.HTTPConnection(address, port, timeout=10)
    try:
        conn.request("GET", "/callback?state=not-this-one&code=stolen")
        return conn.getresponse().status
    finally:
        conn.close()


def _localhost_code_config(demo, port: int, **kw) -> OAuth2Config:
    from nb_oauth.demo import PUBLIC_CLIENT_ID

    return OAuth2Config(token_name="lh", grant_type="authorization_code_with_pkce", issuer=demo.url,
                        client_id=PUBLIC_CLIENT_ID, scope="profile items:read",
                        callback_url=f"http://localhost:{port}/callback", callback_timeout=60, **kw)


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_a_program_on_ipv6_loopback_cannot_take_a_localhost_redirect(demo, tmp_path, monkeypatch) -> None:
    import socket

    from .conftest import free_port

    log = _opener(tmp_path, monkeypatch)
    for _ in range(20):
        port = free_port()
        rogue = socket.socket(socket.AF_INET6)
        try:
            rogue.bind(("::1", port))
            break
        except OSError:
            rogue.close()
    rogue.listen(8)
    try:
        with use_presenter(Recorder()) as shown, pytest.raises(nb_oauth.ListenerError) as caught:
            nb_oauth.get_new_access_token(_localhost_code_config(demo, port))
        assert "::1" in str(caught.value) and str(port) in str(caught.value) and "Fix:" in str(caught.value)
        assert shown.shown == [] and not log.exists()  # refused before the browser was sent anywhere
        rogue.settimeout(0.5)
        with pytest.raises(TimeoutError):
            rogue.accept()  # and nothing ever reached the other program
    finally:
        rogue.close()


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_a_localhost_callback_listens_on_both_loopbacks_and_completes(demo, robot) -> None:
    from .conftest import free_port

    port = free_port()
    flow = nb_oauth.start_flow(_localhost_code_config(demo, port), open_browser=False)
    assert flow.redirect is not None and flow.redirect.listener is not None
    bound = sorted(s.server_address[0] for s in flow.redirect.listener._servers)
    assert bound == ["127.0.0.1", "::1"]
    assert _status_via("::1", port) == 400 and _status_via("127.0.0.1", port) == 400  # both are ours
    from nb_oauth.demo.robot import run as robot_run

    assert robot_run(flow.authorization_url).ok
    token = flow.wait()
    assert token.access_token and nb_oauth.tokens["lh"] is token
    import socket

    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):  # both ports released
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT are fine
            s.bind((address, port))
