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
        assert open_in_browser(uri) is False  # refused, and said so to the caller
    assert not log.exists()
    open_in_browser("https://ok.example/")
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

    from .support.servers import free_port

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
    from .support.servers import free_port

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


# -- ID tokens, token syntax and issuers against a scriptable OpenID provider ------------------------


@pytest.fixture
def fake():
    from .support.fake_oidc import FakeProvider

    with FakeProvider() as provider:
        yield provider


def _fake_config(provider, grant: str = "authorization_code_with_pkce", **kw) -> OAuth2Config:
    from .support.fake_oidc import CLIENT

    return OAuth2Config(token_name="fake", grant_type=grant, issuer=provider.url, client_id=CLIENT,
                        scope="openid profile", authorize_using_browser=True, callback_timeout=20, **kw)


def _fails(cfg: OAuth2Config) -> nb_oauth.OAuthError:
    with pytest.raises(nb_oauth.OAuthError) as caught:
        nb_oauth.get_new_access_token(cfg)
    assert "fake" not in nb_oauth.tokens
    return caught.value


def test_the_fake_provider_control_logins_pass(fake, robot) -> None:
    token = nb_oauth.get_new_access_token(_fake_config(fake))
    assert token.id_token_verified
    nb_oauth.tokens.delete("fake")
    implicit = nb_oauth.get_new_access_token(_fake_config(fake, "implicit"))
    assert implicit.id_token_verified and "at_hash" in implicit.claims


def test_several_audiences_without_azp_are_refused(fake, robot) -> None:
    from .support.fake_oidc import CLIENT

    fake.claim_changes = lambda c: {**c, "aud": [CLIENT, "another-api"]}
    error = _fails(_fake_config(fake))
    assert isinstance(error, nb_oauth.IDTokenError) and "azp" in str(error)
    fake.claim_changes = lambda c: {**c, "aud": [CLIENT, "another-api"], "azp": "another-client"}
    assert "azp" in str(_fails(_fake_config(fake)))
    fake.claim_changes = lambda c: {**c, "aud": [CLIENT, "another-api"], "azp": CLIENT}
    assert nb_oauth.get_new_access_token(_fake_config(fake)).id_token_verified


def test_an_implicit_id_token_without_at_hash_is_refused(fake, robot) -> None:
    fake.claim_changes = lambda c: {k: v for k, v in c.items() if k != "at_hash"}
    error = _fails(_fake_config(fake, "implicit"))
    assert isinstance(error, nb_oauth.IDTokenError) and "at_hash" in str(error)
    # without keys to check it with, the binding is still required
    error = _fails(_fake_config(fake, "implicit").copy(
        issuer=None, auth_url=fake.url + "/authorize", auth_request_params=[("response_type", "id_token token", "url")]))
    assert isinstance(error, nb_oauth.IDTokenError) and "at_hash" in str(error)


def test_a_refresh_without_a_new_id_token_keeps_the_old_one(fake, robot) -> None:
    token = nb_oauth.get_new_access_token(_fake_config(fake))
    first_id_token, first_access = token.id_token, token.access_token
    fake.refresh_id_token = False
    for _ in range(3):  # and again: it does not fail forever
        refreshed = nb_oauth.tokens.refresh("fake")
        assert refreshed.access_token != first_access and refreshed.id_token == first_id_token
        assert refreshed.id_token_verified  # verified when it was issued, kept as such
    fake.refresh_id_token = True  # a new one is checked, against the new access token
    renewed = nb_oauth.tokens.refresh("fake")
    assert renewed.id_token != first_id_token and renewed.id_token_verified
    fake.claim_changes = lambda c: {**c, "sub": "someone-else"}
    kept = nb_oauth.tokens["fake"].access_token
    with pytest.raises(nb_oauth.OAuthError, match="sub"):
        nb_oauth.tokens.refresh("fake")
    assert nb_oauth.tokens["fake"].access_token == kept  # the working token is kept


BAD_TOKENS = {
    "invalid UTF-8": lambda f: json.dumps(f).replace(f["access_token"], "tok-placeholder").encode().replace(
        b"tok-placeholder", b"tok\xff\xfen" + b"x" * 20),
    "non-ASCII letters": lambda f: json.dumps({**f, "access_token": "tokén-" + "x" * 20}).encode(),
    "a control character": lambda f: json.dumps({**f, "access_token": "tok\ten-" + "x" * 20}).encode(),
    "a newline in the refresh token": lambda f: json.dumps({**f, "refresh_token": "ref\nresh" + "x" * 20}).encode(),
    "an emoji": lambda f: json.dumps({**f, "access_token": "tok-\U0001f600-" + "x" * 20}, ensure_ascii=False).encode(),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_token_that_is_not_visible_ascii_is_an_invalid_token_response(case, fake, robot) -> None:
    token = nb_oauth.get_new_access_token(_fake_config(fake))
    kept = token.access_token
    fake.token_body = BAD_TOKENS[case]
    with pytest.raises(nb_oauth.InvalidTokenResponseError) as refresh_error:
        nb_oauth.tokens.refresh("fake")
    assert isinstance(refresh_error.value, nb_oauth.RefreshError) and "visible ASCII" in str(refresh_error.value)
    assert nb_oauth.tokens["fake"].access_token == kept
    nb_oauth.tokens.delete("fake")
    error = _fails(_fake_config(fake))
    assert isinstance(error, nb_oauth.InvalidTokenResponseError) and "visible ASCII" in str(error)


def test_a_missing_iss_is_refused_when_discovery_promises_it(fake, robot) -> None:
    fake.discovery_changes = {"authorization_response_iss_parameter_supported": True}
    exchanged = fake.counter
    error = _fails(_fake_config(fake))
    assert isinstance(error, nb_oauth.StateMismatchError) and "iss" in str(error) and "RFC 9207" in str(error)
    assert fake.counter == exchanged  # the code was never exchanged
    fake.iss_param = True  # the same provider sending iss is fine
    assert nb_oauth.get_new_access_token(_fake_config(fake)).access_token


@pytest.mark.parametrize("issuer", [None, "", "https://other.example", 42])
def test_a_discovery_document_without_or_with_another_issuer_is_refused(issuer, fake) -> None:
    fake.discovery_changes = {"issuer": issuer} if issuer is not None else {"issuer": None}
    error = _fails(_fake_config(fake, "client_credentials", client_secret="s" * 12))
    assert isinstance(error, nb_oauth.DiscoveryError) and "issuer" in str(error) and "Fix:" in str(error)


# -- a fixed state or code_verifier is said out loud -------------------------------------------------


def test_a_login_with_a_fixed_state_warns_once_without_the_value(demo, robot) -> None:
    from nb_oauth.demo import PUBLIC_CLIENT_ID

    fixed_state, fixed_verifier = "fixed-state-0123456789", "v" * 50
    cfg = OAuth2Config(token_name="fixed", grant_type="authorization_code_with_pkce", issuer=demo.url,
                       client_id=PUBLIC_CLIENT_ID, scope="profile", state=fixed_state, code_verifier=fixed_verifier)
    shown = Recorder()
    with use_presenter(shown):
        assert nb_oauth.get_new_access_token(cfg).access_token
    warnings = [line for line in shown.shown if "fixed state" in line]
    assert len(warnings) == 1 and "CSRF" in warnings[0] and "PKCE" in warnings[0]
    assert fixed_state not in warnings[0] and fixed_verifier not in warnings[0]
    nb_oauth.tokens.delete("fixed")
    plain = Recorder()
    with use_presenter(plain):
        nb_oauth.get_new_access_token(cfg.copy(state=None, code_verifier=None))
    assert not any("fixed" in line for line in plain.shown)


# -- the listener under connection pressure --------------------------------------------------------


@pytest.mark.parametrize("idle_bytes", [b"", b"GET /callback?state="], ids=["silent", "half a request line"])
def test_the_real_redirect_gets_through_64_idle_connections(idle_bytes, demo, robot) -> None:
    from nb_oauth.demo import PUBLIC_CLIENT_ID
    from nb_oauth.demo.robot import run as robot_run
    from nb_oauth.redirect._http import MAX_CONCURRENT

    from .support.pressure import idle_connections

    cfg = OAuth2Config(token_name="pressed", grant_type="authorization_code_with_pkce", issuer=demo.url,
                       client_id=PUBLIC_CLIENT_ID, scope="profile", callback_timeout=60)
    flow = nb_oauth.start_flow(cfg, open_browser=False)
    assert flow.redirect is not None and flow.redirect.listener is not None
    port = flow.redirect.listener.port
    with idle_connections(port, MAX_CONCURRENT, idle_bytes) as held:
        assert len(held) == MAX_CONCURRENT
        result = robot_run(flow.authorization_url)
        assert result.ok, result.message
        token = flow.wait()
    assert token.access_token and nb_oauth.tokens["pressed"] is token


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_a_callback_through_jupyter_server_proxy_listens_on_both_loopbacks(monkeypatch) -> None:
    """jupyter-server-proxy connects to ``localhost:<port>``, which may be ``::1``: no other program may sit there."""
    import socket

    from nb_oauth.redirect.callback import detect_environment, plan_callback
    from nb_oauth.redirect.listener import CallbackListener

    from .support.servers import free_port

    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
    monkeypatch.setenv("NB_OAUTH_PUBLIC_URL", "https://hub.example/user/a/")
    for callback_url in (None, f"https://hub.example/user/a/proxy/{free_port()}/callback"):
        plan = plan_callback(callback_url, detect_environment())
        assert plan.bind_host is not None
        with CallbackListener("s" * 32, host=plan.bind_host, port=plan.bind_port, path=plan.path) as listener:
            assert sorted(s.server_address[0] for s in listener._servers) == ["127.0.0.1", "::1"]
            assert _status_via("::1", listener.port) == 400 and _status_via("127.0.0.1", listener.port) == 400
    port = free_port()
    with socket.socket(socket.AF_INET6) as rogue:
        rogue.bind(("::1", port))
        rogue.listen(1)
        plan = plan_callback(f"https://hub.example/user/a/proxy/{port}/callback", detect_environment())
        with pytest.raises(nb_oauth.ListenerError, match=r"::1"):
            CallbackListener("s" * 32, host=plan.bind_host or "", port=plan.bind_port, path=plan.path).start()
